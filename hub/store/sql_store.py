"""The Store: every FHIR read and write over SQLAlchemy Core, for SQLite and PostgreSQL.

One class holds the FHIR storage semantics (versions, tombstones, optimistic locking,
conditional writes, search, history); the dialect modules only build the engine and the
dialect's INSERT ... ON CONFLICT. A UnitOfWork is one database transaction: single
interactions and whole transaction bundles run in one.

Writes buffer their INSERTs and send them in batches (executemany on SQLite, COPY on
PostgreSQL) right before the next read in the same transaction, at commit, or as a long
transaction goes (`flush_when`; on PostgreSQL without waiting for the server's answer, see
hub.store.postgres_copy), so a transaction bundle of creates costs a few round trips
instead of several per resource.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Row,
    Select,
    Table,
    and_,
    delete,
    func,
    literal,
    select,
    true,
    tuple_,
    union,
    update,
)
from sqlalchemy.exc import DBAPIError

from hub.access.scope import ReadScope
from hub.errors import Conflict, InvalidRequest, PreconditionFailed
from hub.fhir_dates import instant_from_us, now_us
from hub.search.indexing import index_resource, patient_of
from hub.search.parameters import SearchParameterRegistry
from hub.search.query import SearchQuery
from hub.search.sql import order_by, param_is, where_clauses
from hub.store.blocks import PATIENTS_WITH_BLOCKS_SQL, keep_block_index
from hub.store.driver_errors import driver_errors_mapped
from hub.store.found import live, missing
from hub.store.model import (
    Authorize,
    HistoryPage,
    SearchPage,
    StoredResource,
    WriteContext,
    WriteOutcome,
)
from hub.store.postgres_copy import CopyAhead, copy_types
from hub.store.schema import (
    INDEX_TABLES,
    conditional_locks,
    resource_versions,
    resources,
    search_composite,
    search_date,
    search_quantity,
    search_reference,
    search_string,
    search_token,
)
from hub.store.sqlite import STATISTICS_REFRESH_ROWS, WalCheckpointer, refresh_statistics

InsertFactory = Callable[[Table], Insert]
COPY_AHEAD_ROWS = 200
MAX_INCLUDE_ROUNDS = 4
"""Rounds of _include/_revinclude: the first over the matches, up to three more for
`:iterate` over what the round before added (each bounded by HUB_MAX_INCLUDE in total)."""
"""The smallest batch a PostgreSQL transaction sends ahead (a COPY costs a round trip)."""
EVERYTHING_REFERENCED_TYPES = ("Organization", "Practitioner", "PractitionerRole", "Location")

_r = resources.c
_v = resource_versions.c
_CURRENT = resources.join(
    resource_versions,
    and_(_v.res_type == _r.res_type, _v.res_id == _r.res_id, _v.version_id == _r.version_id),
)
_VERSION_COLUMNS = (
    _v.res_type,
    _v.res_id,
    _v.version_id,
    _v.last_updated,
    _v.deleted,
    _v.content,
    _v.method,
    _v.patient_id,
    _v.care_provider,
    _v.care_unit,
)


READ_SQL = (
    "SELECT v.res_type, v.res_id, v.version_id, v.last_updated, v.deleted, v.content,"
    " v.method, v.patient_id, v.care_provider, v.care_unit"
    " FROM resources r JOIN resource_versions v ON v.res_type = r.res_type"
    " AND v.res_id = r.res_id AND v.version_id = r.version_id"
    " WHERE r.res_type = %s AND r.res_id = %s"
)

CURRENT_SQL = (
    "SELECT res_type, res_id, version_id, last_updated, deleted, content,"
    " method, patient_id, care_provider, care_unit FROM resource_versions"
    " WHERE res_type = %s AND res_id = %s ORDER BY version_id DESC LIMIT 1"
)
"""The unfiltered read: the newest version is the current one (a write adds version n+1
and moves `resources` to it in one transaction), found with one backward probe of the
versions' primary key instead of a join. Not for scoped reads: a scope must judge the
current version, not pick the newest one it may see."""


_READ_SQL_FORMAT = READ_SQL
_READ_SQL_QMARK = READ_SQL.replace("%s", "?")
"""Read by id as DBAPI text, for psycopg (format) and SQLite (qmark): the hot path skips
statement construction; a scope is appended as `ReadScope.sql_text`."""
_CURRENT_SQL_QMARK = CURRENT_SQL.replace("%s", "?")


@cache
def _row_values(table: Table) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A function from a row (column name -> value) to its values in the table's column
    order, which is the order of `SqlStore.insert_sql` and of COPY."""
    return itemgetter(*(column.name for column in table.columns))


def _patient_version_columns(patient: str) -> str:
    """The three values of `patient_version` for the patient id expression `patient`."""
    return (
        f"(SELECT max(p.last_updated) FROM resources p WHERE p.patient_id = {patient}),"  # noqa: S608 - `patient` is "?" or a column
        f" (SELECT count(*) FROM resources p WHERE p.patient_id = {patient}),"
        f" (SELECT max(g.created_us) FROM emergency_grants g WHERE g.patient_id = {patient})"
    )


_SECURITY_AND_VERSION_SQL = (
    "SELECT r.res_type, r.res_id, r.version_id, r.last_updated, r.deleted, NULL, 'PUT',"  # noqa: S608 - constant text
    " r.patient_id, r.care_provider, r.care_unit, "
    + _patient_version_columns("r.patient_id")
    + " FROM resources r WHERE r.res_type = ? AND r.res_id = ? AND r.version_id > 0"
)
"""A row's metadata and security columns (no content) with its patient's `patient_version`,
in one statement."""

_PATIENT_VERSION_SQL = "SELECT " + _patient_version_columns("?")
_PATIENT_SOURCES_SQL = (
    "SELECT DISTINCT care_provider, care_unit FROM resource_versions"
    " WHERE patient_id = ? AND care_provider IS NOT NULL"
)
_CURRENT_CONTENT = (
    "SELECT v.content FROM resources r JOIN resource_versions v ON v.res_type = r.res_type"
    " AND v.res_id = r.res_id AND v.version_id = r.version_id WHERE r.deleted = false"
)
_PATIENT_FACTS_SQL = _CURRENT_CONTENT + " AND r.patient_id = ? AND r.res_type IN ({types})"
_CURRENT_CONTENTS_SQL = _CURRENT_CONTENT + " AND r.res_type = ? AND r.res_id IN ({ids})"
"""The access rules' inputs as DBAPI text ("?" becomes the driver's placeholder)."""


class DirectoryLookup(Protocol):
    """A cache of directory resources (Organization, Practitioner, ...) by (type, id)."""

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None: ...

    def put(self, resource: dict[str, Any]) -> None: ...


class _Row(NamedTuple):
    res_type: str
    res_id: str
    version_id: int
    last_updated: int
    deleted: bool
    content: bytes | None
    method: str
    patient_id: str | None
    care_provider: str | None
    care_unit: str | None


def _stored(row: Row[Any] | Any) -> StoredResource:
    return StoredResource(
        resource_type=row.res_type,
        id=row.res_id,
        version_id=row.version_id,
        last_updated=row.last_updated,
        deleted=bool(row.deleted),
        content=row.content,
        method=row.method,
        patient_id=row.patient_id,
        care_provider=row.care_provider,
        care_unit=row.care_unit,
    )


def _without_version_meta(resource: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if k not in ("meta", "id")}
    meta = {
        k: v
        for k, v in (resource.get("meta") or {}).items()
        if k not in ("versionId", "lastUpdated")
    }
    if meta:
        out["meta"] = meta
    return out


def new_id() -> str:
    """A server-assigned logical id: a time-ordered UUID (version 7 layout, RFC 9562).

    48 bits of Unix milliseconds, then 74 random bits. Ids made close in time sort close
    together, so a bulk load appends to the primary-key and owner indexes instead of
    touching a random page of each for every resource (fewer dirty pages per commit)."""
    millis = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    value = (
        (millis & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (random >> 62 & 0xFFF) << 64
        | 0b10 << 62
        | (random & (1 << 62) - 1)
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def read_options(dialect: str) -> dict[str, Any]:
    """Execution options of a read outside a BEGIN/ROLLBACK bracket: on SQLite each SELECT
    reads its own WAL snapshot, and PostgreSQL's READ COMMITTED gives every statement its
    own snapshot inside a transaction too, so the bracket would only cost round trips."""
    options: dict[str, Any] = {"sqlite_begin": "NONE"}
    if dialect == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    return options


def _check_if_match(current: StoredResource, if_match: int | None) -> None:
    """412 unless If-Match (when given) names the current version."""
    if if_match is not None and if_match != current.version_id:
        raise PreconditionFailed(
            f"If-Match version {if_match} is not the current version of "
            f"{current.resource_type}/{current.id}"
        )


def _scoped(scope: ReadScope | None, columns: Any) -> ColumnElement[bool]:
    return true() if scope is None else scope.condition(columns)


def _visible(scope: ReadScope, stored: StoredResource) -> bool:
    return scope.allows(
        stored.resource_type, stored.patient_id, stored.care_provider, stored.care_unit
    )


class UnitOfWork:
    """One database transaction: FHIR writes and reads that see those writes."""

    def __init__(self, store: SqlStore, conn: Connection, base_url: str | None = None) -> None:
        self._store = store
        self._conn = conn
        self._base_url = base_url or store.base_url
        self.rows_written = 0
        self._known: dict[tuple[str, str], StoredResource | None] = {}
        self._pending: dict[Table, list[tuple[Any, ...]]] = {}
        self._ahead: CopyAhead | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def _flush(self) -> None:
        self._settle()
        for table, rows in self._pending.items():
            if rows and self._store.dialect == "sqlite":
                sql, _columns = self._store.insert_sql(table)
                self._conn.exec_driver_sql(sql, rows)
            elif rows:
                copier = self._copier()
                self._send_copy(copier, table, rows)
                copier.collect()
            self.rows_written += len(rows)
        self._pending = {}

    def _copier(self) -> CopyAhead:
        if self._ahead is None:
            driver = self._conn.connection.driver_connection
            assert driver is not None
            self._ahead = CopyAhead(driver)
        return self._ahead

    def _send_copy(self, copier: CopyAhead, table: Table, rows: list[tuple[Any, ...]]) -> None:
        columns = self._store.insert_sql(table)[1]
        copier.send(table.name, columns, copy_types(table), rows)

    def _settle(self) -> None:
        """Read the answer of a COPY batch still in flight (the connection takes nothing
        else until then); its error is raised here."""
        if self._ahead is not None:
            self._ahead.collect()

    def _copy_ahead(self, queued_rows: int) -> None:
        """PostgreSQL: whenever the server has answered the last batch, hand it the
        largest table's queued rows without waiting for its answer, so that it inserts
        them while this thread prepares the next entries. Wait for the server only once
        `queued_rows` rows are queued."""
        copier = self._copier()
        if not copier.done() and self._queued() < queued_rows:
            return
        copier.collect()
        self._send_largest(copier, at_least=COPY_AHEAD_ROWS)

    def _send_largest(self, copier: CopyAhead, *, at_least: int) -> bool:
        """Hand the server the largest table's queued rows, if there are `at_least`, without
        waiting for its answer (the previous batch must have been answered); whether a
        batch went."""
        table, rows = max(self._pending.items(), key=lambda item: len(item[1]), default=(None, []))
        if table is None or len(rows) < at_least:
            return False
        del self._pending[table]
        self._send_copy(copier, table, rows)
        self.rows_written += len(rows)
        return True

    def _queued(self) -> int:
        return sum(len(rows) for rows in self._pending.values())

    def _execute(self, statement: Any) -> Any:
        self._flush()
        return self._conn.execute(statement)

    def _queue(self, table: Table, row: dict[str, Any]) -> None:
        """Queue one INSERT of `row` (column name -> value) until the next flush."""
        self._pending.setdefault(table, []).append(_row_values(table)(row))

    def _queue_index_rows(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        """Queue INSERTs of ready tuples in the index tables' column order (res_type,
        res_id, param, and the two value columns)."""
        if rows:
            self._pending.setdefault(table, []).extend(rows)

    def finish(self) -> None:
        self._flush()

    def connection(self) -> Connection:
        """The transaction's connection, with every queued write sent, for statements of
        other modules that must commit with this work (the audit of a read inside it:
        ``AuditLog.append_within``)."""
        self._flush()
        return self._conn

    def abandon(self) -> None:
        """Before a rollback: read the answer of a batch in flight (its error no longer
        matters), so that the connection takes the ROLLBACK."""
        with suppress(DBAPIError):
            self._settle()

    def flush_when(self, queued_rows: int) -> None:
        """Send queued INSERTs as the transaction goes instead of all at its end: on SQLite
        all of them once at least `queued_rows` wait, on PostgreSQL a table's batch ahead
        whenever the server is free (`_copy_ahead`)."""
        if self._store.dialect == "postgresql":
            self._copy_ahead(queued_rows)
        elif self._queued() >= queued_rows:
            self._flush()

    def send_queued(self) -> None:
        """Send every queued row now. On PostgreSQL each table goes as one COPY after the
        server has answered the previous one, and the last stays in flight: its answer is
        read before the next statement or the commit. A transaction that then waits for
        something else (its validation verdicts) has the database insert meanwhile."""
        if self._store.dialect != "postgresql":
            self._flush()
            return
        copier = self._copier()
        while self._pending:
            copier.collect()
            if not self._send_largest(copier, at_least=1):
                self._pending = {}  # only empty queues were left

    # -- reads inside the transaction --------------------------------------------------------

    def current(
        self, resource_type: str, resource_id: str, *, for_update: bool = False
    ) -> StoredResource | None:
        """The current version (tombstones included); `for_update` row-locks it first.

        The lock is taken on the resources row alone: PostgreSQL re-checks a locked row
        that a concurrent transaction changed, and a join would drop it from the result.
        """
        if for_update and (resource_type, resource_id) in self._known:
            return self._known[(resource_type, resource_id)]
        if for_update:
            locked = self._execute(
                select(_r.version_id)
                .where(_r.res_type == resource_type, _r.res_id == resource_id)
                .with_for_update()
            ).first()
            if locked is None:
                return None
            row = self._execute(
                select(*_VERSION_COLUMNS).where(
                    _v.res_type == resource_type,
                    _v.res_id == resource_id,
                    _v.version_id == locked.version_id,
                )
            ).first()
            return _stored(row) if row else None
        stmt = (
            select(*_VERSION_COLUMNS)
            .select_from(_CURRENT)
            .where(_r.res_type == resource_type, _r.res_id == resource_id)
        )
        row = self._execute(stmt).first()
        return _stored(row) if row else None

    def lock_current_many(self, keys: Sequence[tuple[str, str]], chunk: int = 500) -> None:
        """Row-lock and load the current versions of many resources in a few statements, so
        that a bulk load's later `current(..., for_update=True)` calls need no round trip.
        Keys not found are remembered as absent; a concurrent creator is still caught by
        the insert's conflict check."""
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in dict.fromkeys(keys):
            by_type.setdefault(resource_type, []).append(resource_id)
        for resource_type, ids in by_type.items():
            for start in range(0, len(ids), chunk):
                part = ids[start : start + chunk]
                locked = {
                    row.res_id: row.version_id
                    for row in self._execute(
                        select(_r.res_id, _r.version_id)
                        .where(_r.res_type == resource_type, _r.res_id.in_(part))
                        .with_for_update()
                    )
                }
                found: dict[str, StoredResource] = {}
                if locked:
                    rows = self._execute(
                        select(*_VERSION_COLUMNS).where(
                            _v.res_type == resource_type,
                            tuple_(_v.res_id, _v.version_id).in_(list(locked.items())),
                        )
                    )
                    found = {row.res_id: _stored(row) for row in rows}
                for resource_id in part:
                    self._known[(resource_type, resource_id)] = found.get(resource_id)

    def read(
        self, resource_type: str, resource_id: str, scope: ReadScope | None = None
    ) -> StoredResource:
        stored = self.current(resource_type, resource_id)
        if stored is not None and scope is not None and not _visible(scope, stored):
            stored = None
        return live(stored, resource_type, resource_id)

    def matching_ids(
        self, query: SearchQuery, limit: int = 2, scope: ReadScope | None = None
    ) -> list[str]:
        """The ids a conditional write or reference matches. Chained and _has criteria are
        refused here: a write's match scope is not a reader's PDL scope (directory types
        match unscoped), so following links under it could reveal hidden rows."""
        linked = next((c for c in query.criteria if c.links), None)
        if linked is not None:
            raise InvalidRequest(
                "Chained parameters and _has are not supported in conditional criteria",
                expression=linked.written,
            )
        clauses = where_clauses(query, scope)
        stmt = select(_r.res_id).where(*clauses).order_by(_r.res_id).limit(limit)
        return [row.res_id for row in self._execute(stmt)]

    def search(self, query: SearchQuery, scope: ReadScope | None = None) -> SearchPage:
        self._flush()
        return self._store._search(self._conn, query, scope)

    # -- conditional locks -------------------------------------------------------------------

    def lock_conditional(self, resource_type: str, canonical_query: str) -> None:
        """Serialise writers of the same conditional key until this transaction ends."""
        key = hashlib.sha256(canonical_query.encode("utf-8")).hexdigest()
        stmt = self._store.upsert_lock(
            {"res_type": resource_type, "lock_key": key, "uses": 1},
            {"uses": conditional_locks.c.uses + 1},
        )
        self._execute(stmt)

    # -- writes ------------------------------------------------------------------------------

    def _write_version(
        self,
        resource: dict[str, Any],
        resource_id: str,
        version_id: int,
        ctx: WriteContext,
        previous: StoredResource | None,
        method: str,
        *,
        claim: bool = False,
    ) -> StoredResource | None:
        """Write one version. A first version is queued as an INSERT; with `claim` it is
        inserted at once with ON CONFLICT DO NOTHING and None means another transaction
        created the resource first."""
        now = now_us()
        resource_type = resource["resourceType"]
        self._known.pop((resource_type, resource_id), None)
        meta = {
            k: v
            for k, v in (resource.get("meta") or {}).items()
            if k not in ("versionId", "lastUpdated")
        }
        meta = {"versionId": str(version_id), "lastUpdated": instant_from_us(now), **meta}
        document: dict[str, Any] = {"resourceType": resource_type, "id": resource_id, "meta": meta}
        document.update(
            (k, v) for k, v in resource.items() if k not in ("resourceType", "id", "meta")
        )
        content = orjson.dumps(document)
        security = {
            "patient_id": patient_of(document, self._base_url, self._store.registry),
            "care_provider": ctx.care_provider,
            "care_unit": ctx.care_unit,
        }
        if previous is not None and ctx.care_provider is None and ctx.care_unit is None:
            security["care_provider"] = previous.care_provider
            security["care_unit"] = previous.care_unit
        row = {"version_id": version_id, "last_updated": now, "deleted": False, **security}
        key = {"res_type": resource_type, "res_id": resource_id}
        if previous is None and claim:
            # No flush first: the queued rows belong to other resources, and sending them
            # before every claim would cost a round trip per table and resource. Only a
            # COPY batch in flight is answered first (the connection takes nothing else).
            self._settle()
            claimed = self._conn.execute(
                self._store.insert_ignore(resources, {**key, **row})
            ).first()
            if claimed is None:
                return None
        elif previous is None:
            self._queue(resources, {**key, **row})
        else:
            result = self._execute(
                update(resources)
                .where(
                    _r.res_type == resource_type,
                    _r.res_id == resource_id,
                    _r.version_id == previous.version_id,
                )
                .values(**row)
            )
            if result.rowcount != 1:
                raise Conflict(f"{resource_type}/{resource_id} was changed concurrently; retry")
            if not previous.deleted:
                self._delete_index_rows(resource_type, resource_id)
        self._queue(
            resource_versions,
            {**key, **row, "method": method, "content": content},
        )
        self._index(document, resource_id)
        if resource_type == "Consent":
            keep_block_index(self._execute, resource_id, security["patient_id"], document)
        return StoredResource(
            resource_type,
            resource_id,
            version_id,
            now,
            False,
            content,
            method,
            patient_id=security["patient_id"],
            care_provider=security["care_provider"],
            care_unit=security["care_unit"],
        )

    def _index(self, document: dict[str, Any], resource_id: str) -> None:
        rows = index_resource(document, self._store.registry, self._base_url)
        rt = document["resourceType"]
        self._queue_index_rows(
            search_token,
            [(rt, resource_id, p, system, code[:255]) for p, system, code in rows.tokens],
        )
        self._queue_index_rows(search_string, [(rt, resource_id, *row) for row in rows.strings])
        self._queue_index_rows(search_date, [(rt, resource_id, *row) for row in rows.dates])
        self._queue_index_rows(
            search_reference, [(rt, resource_id, *row) for row in rows.references]
        )
        if rows.quantities:
            self._queue_index_rows(
                search_quantity,
                [(rt, resource_id, *row) for row in rows.quantities],
            )
        if rows.composites:
            self._queue_index_rows(
                search_composite, [(rt, resource_id, *row) for row in rows.composites]
            )

    def _delete_index_rows(self, resource_type: str, resource_id: str) -> None:
        for table in INDEX_TABLES:
            self._execute(
                delete(table).where(
                    table.c.res_type == resource_type, table.c.res_id == resource_id
                )
            )

    def create(
        self, resource: dict[str, Any], ctx: WriteContext, *, resource_id: str | None = None
    ) -> WriteOutcome:
        """Store a new resource under a new server id (or `resource_id` when given)."""
        stored = self._write_version(resource, resource_id or new_id(), 1, ctx, None, "POST")
        return WriteOutcome("created", stored)

    def conditional_create(
        self,
        resource: dict[str, Any],
        ctx: WriteContext,
        query: SearchQuery,
        canonical_query: str,
        *,
        matcher: Matcher | None = None,
    ) -> WriteOutcome:
        """If-None-Exist: return the one match, or create; 412 if several match."""
        match = (matcher or unscoped_match)(self, "create", query, canonical_query)
        if match is not None:
            return WriteOutcome("matched", live(match, match.resource_type, match.id))
        return self.create(resource, ctx)

    def single_match(
        self,
        interaction: str,
        query: SearchQuery,
        canonical_query: str,
        scope: ReadScope | None,
    ) -> str | None:
        """Under the conditional lock: the id of the one match, None for none, 412 for more."""
        self.lock_conditional(query.resource_type, f"{interaction}?{canonical_query}")
        matches = self.matching_ids(query, scope=scope)
        if len(matches) > 1:
            raise PreconditionFailed(
                f"The conditional {interaction} matched more than one resource"
            )
        return matches[0] if matches else None

    def update(
        self,
        resource: dict[str, Any],
        resource_id: str,
        ctx: WriteContext,
        *,
        if_match: int | None = None,
        authorize: Authorize | None = None,
    ) -> WriteOutcome:
        """Update (or create under a client id); a no-op update keeps the version.

        `authorize` sees the locked current version (or None) and raises to refuse.
        """
        resource_type = resource["resourceType"]
        previous = self.current(resource_type, resource_id, for_update=True)
        if authorize is not None:
            authorize(resource_type, resource_id, previous)
        if previous is None:
            if if_match is not None:  # nothing to match: as a read of it would answer
                raise missing(resource_type, resource_id)
            created = self._write_version(
                resource, resource_id, 1, ctx, None, "PUT", claim=self._store.concurrent_writers
            )
            if created is not None:
                return WriteOutcome("created", created)
            previous = self.current(resource_type, resource_id, for_update=True)
            if previous is None:
                raise Conflict(f"{resource_type}/{resource_id} was created concurrently; retry")
            if authorize is not None:
                authorize(resource_type, resource_id, previous)
        _check_if_match(previous, if_match)
        if (
            not previous.deleted
            and previous.content is not None
            and _without_version_meta(orjson.loads(previous.content))
            == _without_version_meta(resource)
        ):
            return WriteOutcome("unchanged", previous)
        stored = self._write_version(
            resource, resource_id, previous.version_id + 1, ctx, previous, "PUT"
        )
        return WriteOutcome("updated" if not previous.deleted else "created", stored)

    def conditional_update(
        self,
        resource: dict[str, Any],
        ctx: WriteContext,
        query: SearchQuery,
        canonical_query: str,
        *,
        matcher: Matcher | None = None,
        authorize: Authorize | None = None,
    ) -> WriteOutcome:
        """PUT Type?criteria: update the one match, create if none, 412 if several."""
        found = (matcher or unscoped_match)(self, "update", query, canonical_query)
        match = None if found is None else found.id
        body_id = resource.get("id")
        if match is not None:
            if body_id and body_id != match:
                raise InvalidRequest(
                    "The resource id does not match the resource found",
                    expression=f"{query.resource_type}.id",
                )
            return self.update(resource, match, ctx, authorize=authorize)
        if body_id:
            return self.update(resource, str(body_id), ctx, authorize=authorize)
        return self.create(resource, ctx)

    def delete(
        self,
        resource_type: str,
        resource_id: str,
        *,
        if_match: int | None = None,
        authorize: Authorize | None = None,
    ) -> WriteOutcome:
        """Write a tombstone version; deleting a deleted resource changes nothing."""
        previous = self.current(resource_type, resource_id, for_update=True)
        self._known.pop((resource_type, resource_id), None)
        if authorize is not None:
            authorize(resource_type, resource_id, previous)
        if previous is None:
            raise missing(resource_type, resource_id)
        _check_if_match(previous, if_match)
        if previous.deleted:
            return WriteOutcome("already-deleted", previous)
        now = now_us()
        version_id = previous.version_id + 1
        prior = self._execute(
            select(_r.patient_id, _r.care_provider, _r.care_unit).where(
                _r.res_type == resource_type, _r.res_id == resource_id
            )
        ).one()
        security = {
            "patient_id": prior.patient_id,
            "care_provider": prior.care_provider,
            "care_unit": prior.care_unit,
        }
        result = self._execute(
            update(resources)
            .where(
                _r.res_type == resource_type,
                _r.res_id == resource_id,
                _r.version_id == previous.version_id,
            )
            .values(version_id=version_id, last_updated=now, deleted=True)
        )
        if result.rowcount != 1:
            raise Conflict(f"{resource_type}/{resource_id} was changed concurrently; retry")
        self._queue(
            resource_versions,
            {
                "res_type": resource_type,
                "res_id": resource_id,
                "version_id": version_id,
                "last_updated": now,
                "deleted": True,
                "method": "DELETE",
                "content": None,
                **security,
            },
        )
        self._delete_index_rows(resource_type, resource_id)
        if resource_type == "Consent":
            keep_block_index(self._execute, resource_id, None, None)
        stored = StoredResource(
            resource_type, resource_id, version_id, now, True, None, "DELETE", **security
        )
        return WriteOutcome("deleted", stored)

    def conditional_delete(
        self,
        query: SearchQuery,
        canonical_query: str,
        *,
        matcher: Matcher | None = None,
        authorize: Authorize | None = None,
    ) -> WriteOutcome:
        """DELETE Type?criteria: delete the one match; none is a no-op; several is 412."""
        found = (matcher or unscoped_match)(self, "delete", query, canonical_query)
        if found is None:
            return WriteOutcome("already-deleted", None)
        return self.delete(query.resource_type, found.id, authorize=authorize)


class Matcher(Protocol):
    """Finds the one match of a conditional interaction inside its transaction (None for
    none, 412 for several). The API passes `Access.conditional_match`, which matches
    under the reader's scope and audits the match."""

    def __call__(
        self, work: UnitOfWork, interaction: str, query: SearchQuery, canonical_query: str
    ) -> StoredResource | None: ...


def unscoped_match(
    work: UnitOfWork, interaction: str, query: SearchQuery, canonical_query: str
) -> StoredResource | None:
    """The match without a reader (internal writers, HUB_AUTH=off)."""
    found = work.single_match(interaction, query, canonical_query, None)
    return None if found is None else work.current(query.resource_type, found)


class SqlStore:
    """Versioned FHIR resource store over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        registry: SearchParameterRegistry,
        *,
        insert_factory: InsertFactory,
        base_url: str | None = None,
        write_options: dict[str, Any] | None = None,
        max_include: int = 1000,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.base_url = base_url
        self.max_include = max_include
        self._insert_factory = insert_factory
        self._rows_since_statistics = 0
        self._insert_sql: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.checkpointer: WalCheckpointer | None = None
        self._write_options = write_options or {}

    def insert_sql(self, table: Table) -> tuple[str, tuple[str, ...]]:
        """DBAPI INSERT text for one table (the batch path of a transaction's writes)."""
        cached = self._insert_sql.get(table.name)
        if cached is None:
            columns = tuple(c.name for c in table.columns)
            sql = (
                f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 - schema names
                f"VALUES ({', '.join(self._mark for _ in columns)})"
            )
            cached = self._insert_sql[table.name] = (sql, columns)
        return cached

    @property
    def _read_sql(self) -> str:
        return _READ_SQL_QMARK if self.dialect == "sqlite" else _READ_SQL_FORMAT

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def concurrent_writers(self) -> bool:
        """Whether two write transactions can run at once (PostgreSQL); SQLite's
        BEGIN IMMEDIATE admits one writer at a time."""
        return self.dialect != "sqlite"

    # -- dialect pieces ----------------------------------------------------------------------

    def upsert_lock(self, values: dict[str, Any], set_: dict[str, Any]) -> Any:
        stmt: Any = self._insert_factory(conditional_locks).values(**values)
        return stmt.on_conflict_do_update(index_elements=["res_type", "lock_key"], set_=set_)

    def insert_ignore(self, table: Table, values: dict[str, Any]) -> Any:
        stmt: Any = self._insert_factory(table).values(**values)
        return stmt.on_conflict_do_nothing().returning(table.c[table.primary_key.columns.keys()[0]])

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self, base_url: str | None = None) -> Iterator[UnitOfWork]:
        """A write transaction; everything in it commits together or not at all.

        `base_url` is the FHIR base the request came in on: absolute references to it
        count as local when indexing (HUB_BASE_URL, the store's own, is the default).
        """
        with driver_errors_mapped():
            with self.engine.connect() as raw:
                conn = raw.execution_options(**self._write_options)
                with conn.begin():
                    work = UnitOfWork(self, conn, base_url)
                    try:
                        yield work
                        work.finish()
                    except BaseException:
                        work.abandon()
                        raise
            self._after_commit(work.rows_written)

    def _after_commit(self, rows: int) -> None:
        """SQLite upkeep after a commit: wake the log checkpointer, and after large loads
        let the planner see the new table sizes (PostgreSQL's autovacuum does both)."""
        if self.dialect != "sqlite":
            return
        if self.checkpointer is not None:
            self.checkpointer.committed(rows)  # checkpoints and statistics, on its thread
            return
        self._rows_since_statistics += rows
        if self._rows_since_statistics >= STATISTICS_REFRESH_ROWS:
            self._rows_since_statistics = 0
            refresh_statistics(self.engine)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for reads, without a BEGIN/ROLLBACK bracket: on SQLite each SELECT
        reads its own WAL snapshot, and PostgreSQL's READ COMMITTED gives every statement
        its own snapshot inside a transaction too, so the bracket only cost round trips."""
        with driver_errors_mapped(), self.engine.connect() as conn:
            yield conn.execution_options(**read_options(self.dialect))

    # -- reads -------------------------------------------------------------------------------
    # Every read path takes the reader's ReadScope; None means unrestricted (internal use).

    def read(
        self, resource_type: str, resource_id: str, scope: ReadScope | None = None
    ) -> StoredResource:
        """The current version; NotFound if never stored or hidden, Gone if deleted."""
        if scope is None or scope.unrestricted:
            row: Any = self._read_unfiltered(resource_type, resource_id)
        else:
            condition, params = scope.sql_text("r", self._mark)
            found = self._fetch_one(
                f"{self._read_sql} AND {condition}", (resource_type, resource_id, *params)
            )
            row = None if found is None else _Row(*found)
        return _stored(live(row, resource_type, resource_id))

    def _read_unfiltered(self, resource_type: str, resource_id: str) -> Any:
        """Read by id on the DBAPI connection itself: one indexed SELECT, no statement
        building, no transaction bracket (the hot path of GET [type]/[id])."""
        sql = _CURRENT_SQL_QMARK if self.dialect == "sqlite" else CURRENT_SQL
        found = self._fetch_one(sql, (resource_type, resource_id))
        return None if found is None else _Row(*found)

    @property
    def _mark(self) -> str:
        """The DBAPI placeholder: qmark for sqlite3, format for psycopg."""
        return "?" if self.dialect == "sqlite" else "%s"

    @contextmanager
    def _generic_plans(self, conn: Connection, wanted: bool = True) -> Iterator[None]:
        """PostgreSQL: plan this connection's prepared statements once (generic plans)
        while the block runs. `$everything`'s scoped statement, with the PDL scope's OR
        branches, costs twice as much to plan as to run and would otherwise be planned
        anew on every execution (unscoped, its plain form is cheap to plan). Only for
        statements keyed by a patient id, whose one plan fits every patient; the session
        setting is reset before the connection goes back to the pool."""
        if self.dialect != "postgresql" or not wanted:
            yield
            return
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        try:
            yield
        finally:
            conn.exec_driver_sql("RESET plan_cache_mode")

    @contextmanager
    def _dbapi(self) -> Iterator[Callable[[str, Sequence[object]], list[tuple[Any, ...]]]]:
        """Hand-written SELECTs on one pooled DBAPI connection in autocommit: one round trip
        each, no statement building, no BEGIN/ROLLBACK bracket. Yields run(sql, params)."""
        with driver_errors_mapped():
            raw = self.engine.raw_connection()
        driver: Any = raw.driver_connection
        autocommit = self.dialect == "postgresql" and not driver.autocommit

        def run(sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
            cursor = raw.cursor()
            try:
                cursor.execute(sql, tuple(params))
                return [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()

        try:
            if autocommit:
                driver.autocommit = True
            with driver_errors_mapped():
                yield run
        finally:
            if autocommit:
                driver.autocommit = False
            raw.close()

    def _fetch_one(self, sql: str, params: Sequence[object]) -> tuple[Any, ...] | None:
        """One hand-written SELECT (see `_dbapi`); its first row or None."""
        with self._dbapi() as run:
            found = run(sql, params)
        return found[0] if found else None

    def vread(
        self,
        resource_type: str,
        resource_id: str,
        version_id: int,
        scope: ReadScope | None = None,
    ) -> StoredResource:
        stmt = select(*_VERSION_COLUMNS).where(
            _v.res_type == resource_type,
            _v.res_id == resource_id,
            _v.version_id == version_id,
            _scoped(scope, _v),
        )
        with self._reading() as conn:
            row = conn.execute(stmt).first()
        return _stored(live(row, resource_type, resource_id, version_id))

    def security_and_version(
        self, resource_type: str, resource_id: str
    ) -> tuple[StoredResource | None, tuple[int, int, int] | None]:
        """The current version's metadata and security columns (without content) and, for
        a row about a patient, that patient's `patient_version`, in one query (one
        snapshot): what a guarded read needs before its scoped read."""
        sql = _SECURITY_AND_VERSION_SQL.replace("?", self._mark)
        found = self._fetch_one(sql, (resource_type, resource_id))
        if found is None:
            return None, None
        stored = _stored(_Row(*found[:10]))
        if stored.patient_id is None:
            return stored, None
        latest, count, granted = found[10:]
        return stored, (int(latest or 0), int(count or 0), int(granted or 0))

    def history(
        self,
        resource_type: str | None,
        resource_id: str | None,
        *,
        since: int | None,
        count: int,
        offset: int,
        scope: ReadScope | None = None,
    ) -> HistoryPage:
        """Versions newest first: of one resource, one type, or the whole store."""
        conditions: list[ColumnElement[bool]] = [_scoped(scope, _v)]
        if resource_type is not None:
            conditions.append(_v.res_type == resource_type)
        if resource_id is not None:
            conditions.append(_v.res_id == resource_id)
        if since is not None:
            conditions.append(_v.last_updated >= since)
        stmt = (
            select(*_VERSION_COLUMNS)
            .where(*conditions)
            .order_by(_v.last_updated.desc(), _v.res_type, _v.res_id, _v.version_id.desc())
            .limit(count + 1)
            .offset(offset)
        )
        with self._reading() as conn:
            if resource_type is not None and resource_id is not None:
                exists = conn.execute(
                    select(_r.version_id).where(
                        _r.res_type == resource_type,
                        _r.res_id == resource_id,
                        _r.version_id > 0,
                        _scoped(scope, _r),
                    )
                ).first()
                if exists is None:
                    raise missing(resource_type, resource_id)
            rows = conn.execute(stmt).all()
            total = conn.execute(
                select(func.count()).select_from(resource_versions).where(*conditions)
            ).scalar_one()
        entries = [_stored(r) for r in rows[:count]]
        return HistoryPage(entries=entries, total=int(total), has_next=len(rows) > count)

    def search(self, query: SearchQuery, scope: ReadScope | None = None) -> SearchPage:
        with self._reading() as conn:
            return self._search(conn, query, scope)

    def _fetch(
        self, conn: Connection, keys: Sequence[tuple[str, str]], scope: ReadScope | None
    ) -> list[StoredResource]:
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            by_type.setdefault(resource_type, []).append(resource_id)
        found: list[StoredResource] = []
        for resource_type, ids in by_type.items():
            stmt = (
                select(*_VERSION_COLUMNS)
                .select_from(_CURRENT)
                .where(
                    _r.res_type == resource_type,
                    _r.res_id.in_(ids),
                    _r.deleted.is_(False),
                    _scoped(scope, _r),
                )
                .order_by(_r.res_id)
            )
            found.extend(_stored(row) for row in conn.execute(stmt))
        return found

    def _search(
        self, conn: Connection, query: SearchQuery, scope: ReadScope | None = None
    ) -> SearchPage:
        clauses = where_clauses(query, scope)
        total: int | None = None
        if query.summary_count or query.count == 0 or query.total in ("accurate", "estimate"):
            total = int(
                conn.execute(
                    select(func.count()).select_from(resources).where(*clauses)
                ).scalar_one()
            )
        if query.summary_count or query.count == 0:
            return SearchPage(matches=[], included=[], total=total, has_next=False)
        stmt: Select[Any] = (
            order_by(query, select(*_VERSION_COLUMNS).select_from(_CURRENT).where(*clauses))
            .limit(query.count + 1)
            .offset(query.offset)
        )
        rows = conn.execute(stmt).all()
        matches = [_stored(r) for r in rows[: query.count]]
        has_next = len(rows) > query.count
        if (
            total is None
            and query.total != "none"
            and not has_next
            and (matches or query.offset == 0)
        ):
            total = query.offset + len(matches)
        included = self._includes(conn, query, matches, scope)
        return SearchPage(matches=matches, included=included, total=total, has_next=has_next)

    def _includes(
        self,
        conn: Connection,
        query: SearchQuery,
        matches: list[StoredResource],
        scope: ReadScope | None,
    ) -> list[StoredResource]:
        if not matches or not (query.includes or query.revincludes):
            return []
        seen = {(m.resource_type, m.id) for m in matches}
        included: list[StoredResource] = []
        frontier = matches
        for depth in range(MAX_INCLUDE_ROUNDS):
            if depth and not any(s.iterate for s in (*query.includes, *query.revincludes)):
                break
            keys = self._include_keys(conn, query, frontier, scope, iterating=depth > 0)
            room = self.max_include - len(included)
            fresh = [k for k in dict.fromkeys(keys) if k not in seen][:room]
            if not fresh:
                break
            frontier = self._fetch(conn, fresh, scope)
            seen.update(fresh)
            included.extend(frontier)
            if len(included) >= self.max_include:
                break
        return included

    def _include_keys(
        self,
        conn: Connection,
        query: SearchQuery,
        frontier: list[StoredResource],
        scope: ReadScope | None,
        *,
        iterating: bool,
    ) -> list[tuple[str, str]]:
        """What one round of _include/_revinclude adds to `frontier` (the matches, then for
        `:iterate` the resources the round before added)."""
        ids_by_type: dict[str, list[str]] = {}
        for item in frontier:
            ids_by_type.setdefault(item.resource_type, []).append(item.id)
        keys: list[tuple[str, str]] = []
        ref = search_reference.c
        for spec in query.includes:
            ids = ids_by_type.get(spec.source_type)
            if not ids or (iterating and not spec.iterate):
                continue
            stmt = select(ref.target_type, ref.target_id).where(
                ref.res_type == spec.source_type,
                param_is(ref, spec.param, spec.rows),
                ref.res_id.in_(ids),
            )
            if spec.target_type:
                stmt = stmt.where(ref.target_type == spec.target_type)
            keys.extend((row.target_type, row.target_id) for row in conn.execute(stmt))
        for spec in query.revincludes:
            if iterating and not spec.iterate:
                continue
            for target_type, ids in ids_by_type.items():
                if spec.target_type and spec.target_type != target_type:
                    continue
                referring = select(ref.res_id).where(
                    ref.res_type == spec.source_type,
                    param_is(ref, spec.param, spec.rows),
                    ref.target_type == target_type,
                    ref.target_id.in_(ids),
                )
                stmt = (
                    select(_r.res_type, _r.res_id)
                    .where(
                        _r.res_type == spec.source_type,
                        _r.res_id.in_(referring),
                        _r.deleted.is_(False),
                        _scoped(scope, _r),
                    )
                    .order_by(_r.res_id)
                    .limit(self.max_include)
                )
                keys.extend((row.res_type, row.res_id) for row in conn.execute(stmt))
        return keys

    def everything(
        self,
        patient_id: str,
        *,
        count: int,
        offset: int,
        since: int | None = None,
        scope: ReadScope | None = None,
    ) -> SearchPage:
        """The patient's compartment plus the directory resources it references, paged."""
        compartment = select(_r.res_type.label("t"), _r.res_id.label("i")).where(
            _r.patient_id == patient_id, _r.deleted.is_(False)
        )
        owner = resources.alias("owner")
        ref = search_reference.c
        referenced = (
            select(ref.target_type.label("t"), ref.target_id.label("i"))
            .select_from(
                search_reference.join(
                    owner, and_(owner.c.res_type == ref.res_type, owner.c.res_id == ref.res_id)
                )
            )
            .where(
                owner.c.patient_id == patient_id,
                owner.c.deleted.is_(False),
                ref.target_type.in_(EVERYTHING_REFERENCED_TYPES),
                _scoped(scope, owner.c),
            )
        )
        members = union(compartment, referenced).subquery("members")
        conditions: list[ColumnElement[bool]] = [_r.deleted.is_(False), _scoped(scope, _r)]
        if since is not None:
            conditions.append(_r.last_updated >= since)
        joined = _CURRENT.join(members, and_(members.c.t == _r.res_type, members.c.i == _r.res_id))
        stmt = (
            select(*_VERSION_COLUMNS, func.count().over().label("everything_total"))
            .select_from(joined)
            .where(*conditions)
            .order_by((_r.res_type != literal("Patient")), _r.res_type, _r.res_id)
            .limit(count + 1)
            .offset(offset)
        )
        restricted = scope is not None and not scope.unrestricted
        with self._reading() as conn, self._generic_plans(conn, restricted):
            patient = conn.execute(
                select(_r.deleted, _r.version_id).where(
                    _r.res_type == "Patient", _r.res_id == patient_id, _r.version_id > 0
                )
            ).first()
            live(patient, "Patient", patient_id)
            rows = conn.execute(stmt).all()
            if rows or offset == 0:  # the window count saw every member, before the LIMIT
                total = int(rows[0].everything_total) if rows else 0
            else:  # a page past the end: count on its own
                total = int(
                    conn.execute(
                        select(func.count()).select_from(joined).where(*conditions)
                    ).scalar_one()
                )
        return SearchPage(
            matches=[_stored(r) for r in rows[:count]],
            included=[],
            total=total,
            has_next=len(rows) > count,
        )

    # -- what the access rules read about one patient (internal, unrestricted) -------------

    def patients_with_unit_data(
        self, care_unit: str, resource_types: Sequence[str], limit: int
    ) -> list[str]:
        """Ids of patients with current rows of these types whose source is `care_unit`
        (internal: candidates for a unit's work list; each is then read under its decision)."""
        stmt = (
            select(_r.patient_id)
            .where(
                _r.care_unit == care_unit,
                _r.res_type.in_(list(resource_types)),
                _r.deleted.is_(False),
                _r.patient_id.is_not(None),
            )
            .distinct()
            .order_by(_r.patient_id)
            .limit(limit)
        )
        with self._reading() as conn:
            return [str(row[0]) for row in conn.execute(stmt)]

    def patients_with_blocks(self) -> list[str]:
        """The patients with a Consent that may hold a block (hub.store.blocks): one
        query of the index, whatever the number of Consents."""
        with self._dbapi() as run:
            return [str(patient) for (patient,) in run(PATIENTS_WITH_BLOCKS_SQL, ())]

    def patient_version(self, patient_id: str) -> tuple[int, int, int]:
        """Changes whenever anything about the patient is written or an emergency grant is
        made: (latest write, number of resources, latest grant), one indexed query."""
        found = self._fetch_one(_PATIENT_VERSION_SQL.replace("?", self._mark), [patient_id] * 3)
        latest, count, granted = found or (None, None, None)
        return int(latest or 0), int(count or 0), int(granted or 0)

    def patient_access_inputs(
        self,
        patient_id: str,
        fact_types: Sequence[str],
        references: Callable[[list[dict[str, Any]]], list[tuple[str, str]]],
        depth: int = 4,
        directory_cache: DirectoryLookup | None = None,
    ) -> tuple[list[tuple[str, str | None]], list[dict[str, Any]], list[dict[str, Any]]]:
        """What the access rules read about one patient, over one connection: the sources
        of its data, its live resources of `fact_types`, and the directory resources those
        refer to (followed `depth` levels through `references`; `directory_cache` answers
        what it holds, the rest is read and handed to it)."""
        mark = self._mark
        with self._dbapi() as run:
            sources = [
                (provider, unit)
                for provider, unit in run(_PATIENT_SOURCES_SQL.replace("?", mark), [patient_id])
            ]
            type_marks = ", ".join([mark] * len(fact_types))
            facts = [
                orjson.loads(content)
                for (content,) in run(
                    _PATIENT_FACTS_SQL.replace("?", mark).replace("{types}", type_marks),
                    [patient_id, *fact_types],
                )
                if content
            ]
            directory: dict[tuple[str, str], dict[str, Any]] = {}
            pending = references(facts)
            for _level in range(depth):
                keys = [key for key in pending if key not in directory]
                if not keys:
                    break
                fetched: list[dict[str, Any]] = []
                missing: list[tuple[str, str]] = []
                for key in keys:
                    hit = directory_cache.get(key) if directory_cache is not None else None
                    if hit is not None:
                        fetched.append(hit)
                    else:
                        missing.append(key)
                if missing:
                    loaded = [orjson.loads(c) for c in self._current_contents(run, missing) if c]
                    if directory_cache is not None:
                        for resource in loaded:
                            directory_cache.put(resource)
                    fetched.extend(loaded)
                for resource in fetched:
                    directory[(resource["resourceType"], resource["id"])] = resource
                pending = references(fetched)
        return sources, facts, list(directory.values())

    def _current_contents(
        self,
        run: Callable[[str, Sequence[object]], list[tuple[Any, ...]]],
        keys: Sequence[tuple[str, str]],
    ) -> list[bytes | None]:
        """Current live contents of (type, id) keys, one query per type."""
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            by_type.setdefault(resource_type, []).append(resource_id)
        mark = self._mark
        contents: list[bytes | None] = []
        for resource_type, ids in by_type.items():
            sql = _CURRENT_CONTENTS_SQL.replace("?", mark).replace(
                "{ids}", ", ".join([mark] * len(ids))
            )
            contents.extend(
                bytes(c) if c is not None else None for (c,) in run(sql, [resource_type, *ids])
            )
        return contents

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        self.engine.dispose()
