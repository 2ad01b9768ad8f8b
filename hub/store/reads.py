"""Reads outside a transaction: read, vread, history, search, $everything, and what the
access rules read about one patient.

Every read takes the reader's ReadScope (None: unrestricted, for internal use) and applies
it in SQL, so hidden rows are never fetched, counted or paged over; a hidden row answers
exactly like a missing one (found.py). Read by id and the access rules' inputs are the hot
paths: their statements are compiled once (statements.py) and run on the driver's cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import orjson
from sqlalchemy import ColumnElement, Engine, func, select

from hub.access.scope import ReadScope
from hub.search.cursor import HISTORY_KEYS
from hub.search.query import SearchQuery
from hub.search.sql import keyset_condition
from hub.store import compartment, statements
from hub.store.blocks import patients_with_blocks
from hub.store.connections import Run, driver_cursor, fetch_one, reading, run_together
from hub.store.found import live, missing
from hub.store.model import (
    DecisionInputs,
    HistoryPage,
    RowWithFacts,
    SearchPage,
    StoredResource,
    Version,
)
from hub.store.schema import resource_versions, resources
from hub.store.searching import scoped, search_page
from hub.store.statements import VERSION_COLUMNS, StoredRow, to_stored

__all__ = ["EVERYTHING_REFERENCED_TYPES", "DecisionInputs", "DirectoryLookup", "StoreReads"]

PATIENTS_PER_STATEMENT = 500
"""Patients per statement of the bulk reads (`patients_decision_inputs`)."""

EVERYTHING_REFERENCED_TYPES = ("Organization", "Practitioner", "PractitionerRole", "Location")
"""Directory types `$everything` adds when the patient's resources refer to them."""

_r = resources.c
_v = resource_versions.c


class _Presence(NamedTuple):
    deleted: bool
    version_id: int


References = Callable[[list[dict[str, Any]]], list[tuple[str, str]]]


def _version(found: tuple[Any, ...] | None) -> Version:
    latest, count, granted = found or (None, None, None)
    return int(latest or 0), int(count or 0), int(granted or 0)


class DirectoryLookup(Protocol):
    """A cache of directory resources (Organization, Practitioner, ...) by (type, id)."""

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None: ...

    def put(self, resource: dict[str, Any]) -> None: ...


class StoreReads:
    """The read paths of the store over `engine` (SqlStore adds the writes)."""

    engine: Engine
    max_include: int

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def reads_in_line(self) -> bool:
        """Whether a read by id may run on the event loop itself: on an embedded SQLite
        database (no network round trip), whose pool never makes a caller wait for a
        connection (hub.store.sqlite.UNBOUNDED_OVERFLOW)."""
        return self.dialect == "sqlite"

    # -- by id -------------------------------------------------------------------------------

    def read(
        self, resource_type: str, resource_id: str, scope: ReadScope | None = None
    ) -> StoredResource:
        """The current version; NotFound if never stored or hidden, Gone if deleted."""
        if scope is None or scope.unrestricted:
            newest = statements.read_newest(self.dialect)
            found = fetch_one(self.engine, newest.sql, newest.bind(resource_type, resource_id))
        else:
            sql, params = compartment.read_scoped(resource_type, resource_id, scope, self.dialect)
            found = fetch_one(self.engine, sql, params)
        row = None if found is None else StoredRow(*found)
        return to_stored(live(row, resource_type, resource_id))

    def vread(
        self,
        resource_type: str,
        resource_id: str,
        version_id: int,
        scope: ReadScope | None = None,
    ) -> StoredResource:
        stmt = select(*VERSION_COLUMNS).where(
            _v.res_type == resource_type,
            _v.res_id == resource_id,
            _v.version_id == version_id,
            scoped(scope, _v),
        )
        with reading(self.engine) as conn:
            row = conn.execute(stmt).first()
        return to_stored(live(row, resource_type, resource_id, version_id))

    def security_and_version(
        self, resource_type: str, resource_id: str
    ) -> tuple[StoredResource | None, tuple[int, int, int] | None]:
        """The current version's metadata and security columns (without content) and, for
        a row about a patient, that patient's `patient_version`, in one query (one
        snapshot): what a guarded read needs before its scoped read."""
        statement = statements.security_and_version(self.dialect)
        found = fetch_one(self.engine, statement.sql, statement.bind(resource_type, resource_id))
        if found is None:
            return None, None
        row = to_stored(StoredRow(*found[:10]))
        if row.patient_id is None:
            return row, None
        latest, count, granted = found[10:]
        return row, (int(latest or 0), int(count or 0), int(granted or 0))

    def current_with_facts(
        self, resource_type: str, resource_id: str, *, version: bool
    ) -> RowWithFacts | None:
        """The current version (deletions included), unfiltered, with its patient's
        `patient_version` (`version`) or whether its patient has blocks (not `version`),
        in one round trip; None if never stored. For the access layer's read by id, which
        judges the row with `ReadScope.allows` before anything of it leaves (the same rule
        as the scope's SQL condition)."""
        statement = statements.current_with_facts(self.dialect, version=version)
        found = fetch_one(self.engine, statement.sql, statement.bind(resource_type, resource_id))
        if found is None:
            return None
        stored = to_stored(StoredRow(*found[:10]))
        if not version:
            return RowWithFacts(stored, None, bool(found[10]))
        facts = None if stored.patient_id is None else _version(found[10:13])
        return RowWithFacts(stored, facts, False)

    # -- history, search, $everything --------------------------------------------------------

    def history(
        self,
        resource_type: str | None,
        resource_id: str | None,
        *,
        since: int | None,
        count: int,
        offset: int,
        scope: ReadScope | None = None,
        after: tuple[object, ...] | None = None,
    ) -> HistoryPage:
        """Versions newest first: of one resource, one type, or the whole store. `after`
        (the last_updated, type, id and version of the last version shown, in the order
        of hub.search.cursor.HISTORY_KEYS) starts the page after it instead of at
        `offset`, and such a page has no total (counting every version would make each
        page of a long walk cost as much as a scan); other pages count them all."""
        conditions: list[ColumnElement[bool]] = [scoped(scope, _v)]
        if resource_type is not None:
            conditions.append(_v.res_type == resource_type)
        if resource_id is not None:
            conditions.append(_v.res_id == resource_id)
        if since is not None:
            conditions.append(_v.last_updated >= since)
        page_conditions = list(conditions)
        if after is not None:
            columns = [_v.last_updated, _v.res_type, _v.res_id, _v.version_id]
            page_conditions.append(keyset_condition(columns, HISTORY_KEYS, after))
        stmt = (
            select(*VERSION_COLUMNS)
            .where(*page_conditions)
            .order_by(_v.last_updated.desc(), _v.res_type, _v.res_id, _v.version_id.desc())
            .limit(count + 1)
            .offset(0 if after is not None else offset)
        )
        with reading(self.engine) as conn:
            if resource_type is not None and resource_id is not None:
                exists = conn.execute(
                    select(_r.version_id).where(
                        _r.res_type == resource_type,
                        _r.res_id == resource_id,
                        _r.version_id > 0,
                        scoped(scope, _r),
                    )
                ).first()
                if exists is None:
                    raise missing(resource_type, resource_id)
            rows = conn.execute(stmt).all()
            total = None
            if after is None:
                total = conn.execute(
                    select(func.count()).select_from(resource_versions).where(*conditions)
                ).scalar_one()
        entries = [to_stored(r) for r in rows[:count]]
        return HistoryPage(
            entries=entries, total=None if total is None else int(total), has_next=len(rows) > count
        )

    def search(self, query: SearchQuery, scope: ReadScope | None = None) -> SearchPage:
        with reading(self.engine) as conn:
            return search_page(conn, query, scope, self.max_include)

    def everything(
        self,
        patient_id: str,
        *,
        count: int,
        offset: int,
        since: int | None = None,
        scope: ReadScope | None = None,
    ) -> SearchPage:
        """The patient's compartment plus the directory resources it references, paged.

        One SELECT (compartment.everything_page) on the driver's cursor, compiled once per
        shape of the reader's scope."""
        return self.versioned_everything(
            patient_id, count=count, offset=offset, since=since, scope=scope, versioned=False
        )[0]

    def versioned_everything(
        self,
        patient_id: str,
        *,
        count: int,
        offset: int,
        since: int | None = None,
        scope: ReadScope | None = None,
        versioned: bool = True,
    ) -> tuple[SearchPage, Version | None]:
        """`everything`, and with `versioned` the patient's `patient_version` read first in
        the same round trip (the statements go together, on PostgreSQL in pipeline mode,
        each in its own snapshot in that order): a caller that chose the scope from a
        decision computed at a version learns whether that version is still current."""
        dialect = self.dialect
        page = compartment.everything_page(
            patient_id, EVERYTHING_REFERENCED_TYPES, scope, since, count + 1, offset, dialect
        )
        together: list[tuple[str, Sequence[object]]] = [
            compartment.patient_presence(patient_id, dialect),
            page,
        ]
        if versioned:
            version_statement = statements.patient_version(self.dialect)
            together.insert(
                0,
                (version_statement.sql, list(version_statement.bind(*[patient_id] * 3))),
            )
        answers = run_together(self.engine, together)
        version = _version(answers.pop(0)[0] if answers[0] else None) if versioned else None
        found, rows = answers
        live(_Presence(*found[0]) if found else None, "Patient", patient_id)
        if rows or offset == 0:  # the window count saw every member, before the LIMIT
            total = int(rows[0][-1]) if rows else 0
        else:  # a page past the end: count on its own
            counted = compartment.everything_count(
                patient_id, EVERYTHING_REFERENCED_TYPES, scope, since, dialect
            )
            total = int(run_together(self.engine, [counted])[0][0][0])
        found_page = SearchPage(
            matches=[to_stored(StoredRow(*row[:-1])) for row in rows[:count]],
            included=[],
            total=total,
            has_next=len(rows) > count,
        )
        return found_page, version

    def patients_current(
        self, resource_type: str, patient_ids: Sequence[str], scope: ReadScope | None = None
    ) -> list[StoredResource]:
        """The current live resources of one type in these patients' compartments (a
        Patient's own row included), one indexed SELECT (the (patient, type) index) with
        the reader's scope as DBAPI text."""
        if not patient_ids:
            return []
        sql, params = compartment.patients_current(resource_type, patient_ids, scope, self.dialect)
        with driver_cursor(self.engine) as run:
            rows = run(sql, params)
        return [to_stored(StoredRow(*row)) for row in rows]

    # -- what the access rules read about one patient (internal, unrestricted) -------------

    def patients_with_unit_data(
        self,
        care_unit: str,
        resource_types: Sequence[str],
        limit: int,
        care_provider: str | None = None,
    ) -> list[str]:
        """Ids of patients with current rows of these types whose source is `care_unit`
        (internal: candidates for a unit's work list; each is then read under its decision).
        With the unit's `care_provider` the rows are found in the (provider, unit) index
        instead of a scan of every row."""
        provider = [_r.care_provider == care_provider] if care_provider is not None else []
        stmt = (
            select(_r.patient_id)
            .where(
                *provider,
                _r.care_unit == care_unit,
                _r.res_type.in_(list(resource_types)),
                _r.deleted.is_(False),
                _r.patient_id.is_not(None),
            )
            .distinct()
            .order_by(_r.patient_id)
            .limit(limit)
        )
        with reading(self.engine) as conn:
            return [str(row[0]) for row in conn.execute(stmt)]

    def patients_with_blocks(self) -> list[str]:
        """The patients with a Consent that may hold a block (hub.store.blocks): one
        query of the index, whatever the number of Consents."""
        with driver_cursor(self.engine) as run:
            statement = patients_with_blocks(self.dialect)
            return [str(patient) for (patient,) in run(statement.sql, statement.bind())]

    def patient_version(self, patient_id: str) -> tuple[int, int, int]:
        """Changes whenever anything about the patient is written or an emergency grant is
        made: (latest write, number of resources, latest grant), one indexed query."""
        statement = statements.patient_version(self.dialect)
        return _version(
            fetch_one(
                self.engine, statement.sql, statement.bind(patient_id, patient_id, patient_id)
            )
        )

    def patients_versions(self, patient_ids: Sequence[str]) -> dict[str, Version]:
        """`patient_version` of each of several patients: two grouped, indexed SELECTs per
        PATIENTS_PER_STATEMENT patients, in one round trip."""
        found: dict[str, Version] = {}
        for first in range(0, len(patient_ids), PATIENTS_PER_STATEMENT):
            chunk = list(patient_ids[first : first + PATIENTS_PER_STATEMENT])
            written, granted = run_together(
                self.engine,
                [
                    compartment.patients_latest_writes(chunk, self.dialect),
                    compartment.patients_latest_grants(chunk, self.dialect),
                ],
            )
            latest = {str(p): (w, c) for p, w, c in written}
            grants = {str(p): g for p, g in granted}
            for patient in chunk:
                w, c = latest.get(patient, (None, None))
                found[patient] = _version((w, c, grants.get(patient)))
        return found

    def patient_access_inputs(
        self,
        patient_id: str,
        fact_types: Sequence[str],
        references: References,
        depth: int = 4,
        directory_cache: DirectoryLookup | None = None,
    ) -> tuple[list[tuple[str, str | None]], list[dict[str, Any]], list[dict[str, Any]]]:
        """What the access rules read about one patient: the sources of its data, its live
        resources of `fact_types`, and the directory resources those refer to (followed
        `depth` levels through `references`; `directory_cache` answers what it holds, the
        rest is read and handed to it)."""
        found = self.patient_decision_inputs(
            patient_id, fact_types, references, depth, directory_cache
        )
        return found.sources, found.facts, found.directory

    def patient_decision_inputs(
        self,
        patient_id: str,
        fact_types: Sequence[str],
        references: References,
        depth: int = 4,
        directory_cache: DirectoryLookup | None = None,
        grants_at: int | None = None,
    ) -> DecisionInputs:
        """`patient_version` and `patient_access_inputs` of one patient: the version, the
        sources and the facts in one round trip (read in that order, as the version check
        and then the inputs would be), then the directory levels the cache does not hold.
        With `grants_at` (microseconds since the epoch) the same round trip reads the
        patient's emergency grants active at that moment (hub.access.emergency)."""
        version_statement = statements.patient_version(self.dialect)
        together: list[tuple[str, Sequence[object]]] = [
            (version_statement.sql, version_statement.bind(*[patient_id] * 3)),
            compartment.patients_sources([patient_id], self.dialect),
            compartment.patients_facts([patient_id], fact_types, self.dialect),
        ]
        if grants_at is not None:
            together.append(compartment.active_grants(patient_id, grants_at, self.dialect))
        version_rows, source_rows, fact_rows, *grant_rows = run_together(self.engine, together)
        facts = [orjson.loads(content) for _patient, content in fact_rows if content]
        directory = self._directories({patient_id: facts}, references, depth, directory_cache)
        return DecisionInputs(
            _version(version_rows[0] if version_rows else None),
            [(provider, unit) for _patient, provider, unit in source_rows],
            facts,
            directory[patient_id],
            tuple(bytes(grant) for rows in grant_rows for (grant,) in rows),
        )

    def patients_decision_inputs(
        self,
        patient_ids: Sequence[str],
        fact_types: Sequence[str],
        references: References,
        depth: int = 4,
        directory_cache: DirectoryLookup | None = None,
    ) -> dict[str, DecisionInputs]:
        """`patient_decision_inputs` of several patients (a unit's work list) with a few
        statements for all of them: per PATIENTS_PER_STATEMENT patients their versions,
        sources and facts in one round trip, then one query per directory type and level
        for what the cache does not hold. Each patient gets exactly the inputs the
        one-patient read would give it."""
        versions = self.patients_versions(patient_ids)
        sources: dict[str, list[tuple[str, str | None]]] = {p: [] for p in patient_ids}
        facts: dict[str, list[dict[str, Any]]] = {p: [] for p in patient_ids}
        for first in range(0, len(patient_ids), PATIENTS_PER_STATEMENT):
            chunk = list(patient_ids[first : first + PATIENTS_PER_STATEMENT])
            source_rows, fact_rows = run_together(
                self.engine,
                [
                    compartment.patients_sources(chunk, self.dialect),
                    compartment.patients_facts(chunk, fact_types, self.dialect),
                ],
            )
            for patient, provider, unit in source_rows:
                sources[str(patient)].append((provider, unit))
            for patient, content in fact_rows:
                if content:
                    facts[str(patient)].append(orjson.loads(content))
        directory = self._directories(facts, references, depth, directory_cache)
        return {
            p: DecisionInputs(versions[p], sources[p], facts[p], directory[p]) for p in patient_ids
        }

    def _directories(
        self,
        facts: dict[str, list[dict[str, Any]]],
        references: References,
        depth: int,
        directory_cache: DirectoryLookup | None,
    ) -> dict[str, list[dict[str, Any]]]:
        """Per patient, the directory resources its facts refer to, followed `depth` levels
        through `references`: each level's keys of every patient looked up together (the
        cache first, then one query per type)."""
        known: dict[tuple[str, str], dict[str, Any] | None] = {}
        reached: dict[str, dict[tuple[str, str], dict[str, Any]]] = {p: {} for p in facts}
        pending = {p: references(found) for p, found in facts.items()}
        for _level in range(depth):
            wanted = {
                p: [key for key in keys if key not in reached[p]] for p, keys in pending.items()
            }
            wanted = {p: keys for p, keys in wanted.items() if keys}
            if not wanted:
                break
            absent = []
            for key in dict.fromkeys(k for keys in wanted.values() for k in keys):
                if key in known:
                    continue
                hit = directory_cache.get(key) if directory_cache is not None else None
                if hit is not None:
                    known[key] = hit
                else:
                    absent.append(key)
            if absent:
                with driver_cursor(self.engine) as run:
                    loaded = [orjson.loads(c) for c in self._current_contents(run, absent) if c]
                for resource in loaded:
                    if directory_cache is not None:
                        directory_cache.put(resource)
                    known[(resource["resourceType"], resource["id"])] = resource
                for key in absent:
                    known.setdefault(key, None)
            pending = {}
            for p, keys in wanted.items():
                fetched = [found for key in keys if (found := known.get(key)) is not None]
                for resource in fetched:
                    reached[p][(resource["resourceType"], resource["id"])] = resource
                pending[p] = references(fetched)
        return {p: list(found.values()) for p, found in reached.items()}

    def _current_contents(self, run: Run, keys: Sequence[tuple[str, str]]) -> list[bytes | None]:
        """Current live contents of (type, id) keys, one query per type."""
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            by_type.setdefault(resource_type, []).append(resource_id)
        contents: list[bytes | None] = []
        for resource_type, ids in by_type.items():
            statement = statements.current_contents(self.dialect, len(ids))
            values: dict[str, object] = {"res_type": resource_type}
            values.update((f"id_{i}", resource_id) for i, resource_id in enumerate(ids))
            contents.extend(
                bytes(c) if c is not None else None
                for (c,) in run(statement.sql, statement.values(values))
            )
        return contents
