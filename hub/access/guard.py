"""The one choke point for reads: PDL decisions become ReadScopes, and every access is audited.

Every read path of the API (read, vread, history, search with _include/_revinclude,
paging and totals, $everything) and every read inside a write (the match of a conditional
interaction, the current version an update or delete changes) calls an `Access` method;
no request module calls the store's read methods directly (ADR 0014). For a user the
facts of the patient in context are loaded from the store, `consent.decide` turns them
into visible (care provider, care unit) pairs, and the store applies them as a WHERE
clause; a read by id fetches its one row with its patient's facts and judges it here with
`ReadScope.allows`, the same rule (`_read_judged`). A hidden resource answers exactly like
a missing one.

Each access that tells anything about a patient (data, counts, matches, writes, refused
reads) is appended to the audit log before the response leaves; if that append fails, the
data is not returned (StoreUnavailable). Inside a write transaction the entries wait until
it has ended (`unit_of_work`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

import orjson
from sqlalchemy import Connection

from consent import Source, decide, patient_facts
from consent.audit import AccessEntry, AuditRecord
from consent.audit_export import redacted
from consent.decision import AccessDecision
from consent.facts import EmergencyGrant
from consent.registration import BLOCK_RECORD_UNIT
from consent.rules import Reason
from hub.access.notices import PATIENT_ID_NEEDED, PATIENT_NEEDED, decision_notice
from hub.access.scope import DIRECTORY_TYPES, ReadScope
from hub.access.writes import CurrentReader, WritePolicy, check_write, lookup_in
from hub.audit.log import AuditLog
from hub.audit.names import directory_names
from hub.auth import Principal
from hub.errors import Forbidden, Gone, NotFound, StoreUnavailable
from hub.search.query import Criterion, ReferenceValue, SearchQuery, TokenValue, linked_types
from hub.store.found import live, missing
from hub.store.model import DecisionInputs, HistoryPage, SearchPage, StoredResource, Version
from hub.store.protocol import Store, UnitOfWork
from hub.validation.resources import supported_types

log = logging.getLogger("hub.access")
FACT_TYPES = ("EpisodeOfCare", "Encounter", "CareTeam", "Consent")
DIRECTORY_LOOKUP_TYPES = ("Organization", "PractitionerRole", "Practitioner", "RelatedPerson")
PATIENT_PARAMETERS = ("patient", "subject")


_DIRECTORY_REFERENCE = re.compile(
    rb'"reference":"('
    + "|".join(DIRECTORY_LOOKUP_TYPES).encode()
    + rb')/((?:[^"\\/]|\\.)+)(?:/_history/(?:[^"\\/]|\\.)*)?"'
)
"""A relative literal reference to a directory resource (split_reference's `Type/id` and
`Type/id/_history/n` shapes) in orjson's compact output, which escapes only quotes,
backslashes and control characters (never a slash)."""


def _directory_references(resources: Iterable[Any]) -> list[tuple[str, str]]:
    """Every literal reference to a directory resource inside the given JSON: one pass of
    a compiled pattern over each resource's compact bytes (cold decisions read dozens)."""
    found: list[tuple[str, str]] = []
    for resource in resources:
        for match in _DIRECTORY_REFERENCE.finditer(orjson.dumps(resource)):
            raw_id = match.group(2)
            resource_id = orjson.loads(b'"' + raw_id + b'"') if b"\\" in raw_id else raw_id.decode()
            found.append((match.group(1).decode(), resource_id))
    return list(dict.fromkeys(found))


def _reaches_clinical_data(query: SearchQuery) -> bool:
    """Whether a chained or _has criterion of the search goes through a clinical type."""
    return any(t not in DIRECTORY_TYPES for t in linked_types(query.criteria))


def _only_directory_data(query: SearchQuery) -> bool:
    """Whether no part of a search can reach clinical data: its type, every chained or _has
    link, every _revinclude's source and every _include's target are directory types (an
    _include without a target type counts as reaching anything)."""
    return not _asks_clinical_data(query) and all(
        spec.target_type is not None for spec in query.includes
    )


def _asks_clinical_data(query: SearchQuery) -> bool:
    """Whether a search asks for clinical data: its own type, a chained or _has link, or a
    type it includes or revincludes, outside the directory."""
    return (
        query.resource_type not in DIRECTORY_TYPES
        or _reaches_clinical_data(query)
        or any(spec.source_type not in DIRECTORY_TYPES for spec in query.revincludes)
        or any(
            spec.target_type is not None and spec.target_type not in DIRECTORY_TYPES
            for spec in query.includes
        )
    )


def _the_one_patient(store: Store, criterion: Criterion) -> str | None:
    """The id of the one Patient that `criterion` (evaluated on Patient) finds, if exactly
    one: Patients are directory data, so finding it needs no decision."""
    lookup = SearchQuery("Patient", criteria=(criterion,), count=1, total="none")
    page = store.search(lookup, ReadScope.directory_only())
    return page.matches[0].id if len(page.matches) == 1 and not page.has_next else None


def _patient_found_by(store: Store, criterion: Criterion) -> str | None:
    """The one Patient a chain on patient/subject (patient.identifier=...) finds, if exactly
    one."""
    if [link.resource_type for link in criterion.links] != ["Patient"]:
        return None
    return _the_one_patient(store, criterion.links[0].criterion)


def _names_one_identifier(criterion: Criterion) -> bool:
    """`identifier=[system|]value` with one value (a personnummer searched under its system
    and alias counts once), as a Patient search may name its patient."""
    codes = {v.code for v in criterion.values if isinstance(v, TokenValue)}
    return (
        criterion.name == "identifier"
        and criterion.kind == "token"
        and criterion.modifier is None
        and len(codes) == 1
        and None not in codes
    )


def _hidden_own_units(decided: AccessDecision, provider: str) -> frozenset[str | None]:
    """The units of `provider` whose data about the patient the decision hides from a
    system client of that provider (an inre spärr on a unit of its provider other than its
    own); the block records themselves are another rule's (W16)."""
    return frozenset(
        verdict.source.care_unit
        for verdict in decided.hidden
        if verdict.source.care_provider == provider
        and verdict.source.care_unit != BLOCK_RECORD_UNIT
    )


def _cache_key(principal: Principal, patient_id: str) -> tuple[str | None, ...]:
    return (
        principal.subject,
        principal.care_unit,
        principal.care_provider,
        principal.role,
        principal.kind,
        patient_id,
    )


class DirectoryCache:
    """Directory resources the decisions refer to (care units, providers, practitioners),
    kept for `ttl` seconds: they change rarely, and each decision needs several."""

    def __init__(self, ttl: float = 30.0, size: int = 50_000) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[tuple[str, str], tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.monotonic() - entry[0] > self._ttl:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, resource: dict[str, Any]) -> None:
        with self._lock:
            self._entries[(resource["resourceType"], resource["id"])] = (time.monotonic(), resource)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class DecisionCache:
    """Recent decisions of this process, keyed by reader and patient.

    An entry is used only while the patient's version (latest write, resource count,
    latest emergency grant) is the one it was computed at, and for at most `ttl` seconds.
    Directory edits (an Organization's partOf) reach cached decisions and the directory
    cache within `ttl`.
    """

    def __init__(self, ttl: float = 30.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self._size = size
        self.directory = DirectoryCache(ttl)
        self._entries: OrderedDict[tuple[str | None, ...], tuple[object, float, AccessDecision]]
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str | None, ...], version: object) -> AccessDecision | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_version, born, decision = entry
            if stored_version != version or time.monotonic() - born > self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return decision

    def peek(self, key: tuple[str | None, ...]) -> tuple[object, AccessDecision] | None:
        """The entry of `key` (its version and decision) while within `ttl`, whatever the
        patient's current version: a guess that the caller checks against the version
        (`get`) before using it."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[1] > self.ttl:
            return None
        return entry[0], entry[2]

    def put(self, key: tuple[str | None, ...], version: object, decision: AccessDecision) -> None:
        with self._lock:
            self._entries[key] = (version, time.monotonic(), decision)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class AuditSink(Protocol):
    def append_many(self, entries: Sequence[AccessEntry]) -> object: ...

    def append_within(self, conn: Connection, entries: Sequence[AccessEntry]) -> object: ...

    def append_detached(self, entries: Sequence[AccessEntry]) -> Future[Any]: ...

    def append_on_loop(self, entries: Sequence[AccessEntry]) -> asyncio.Future[Any]: ...


class GrantSource(Protocol):
    def active_grants(self, patient_id: str, now: datetime) -> list[EmergencyGrant]: ...


class NoGrants:
    def active_grants(self, patient_id: str, now: datetime) -> list[EmergencyGrant]:
        return []


@dataclass
class Access:
    """One request's reader: who it is, what it may see, and what gets logged."""

    store: Store
    principal: Principal | None
    audit: AuditSink | None
    request_id: str
    grants: GrantSource = field(default_factory=NoGrants)
    cache: DecisionCache | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    writes: WritePolicy = field(default_factory=WritePolicy)
    integration_clients: frozenset[str] = frozenset()
    _decisions: dict[str, AccessDecision] = field(default_factory=dict)
    _in_context: dict[SearchQuery, str | None] = field(default_factory=dict)
    _held: dict[tuple[str, str], AccessEntry] | None = None
    _system_scope: ReadScope | None = None
    _detached: list[Future[Any]] | None = None
    _collected: list[AccessEntry] | None = None

    # -- decisions -------------------------------------------------------------------------

    @property
    def unrestricted(self) -> bool:
        return self.principal is None

    def decision(
        self, patient_id: str, version: tuple[int, int, int] | None = None
    ) -> AccessDecision:
        """consent.decide for this reader and patient, from the store's facts.

        Cached for the request, and across requests in `cache` while the patient's data
        and emergency grants are unchanged (checked with one indexed query, or `version`
        when the caller read the patient's version already) and for at most
        DecisionCache.ttl seconds (time-bound rules: periods, grant ends). Without a cached
        entry the version is read in the same round trip as the facts.
        """
        cached = self._decisions.get(patient_id)
        if cached is not None:
            return cached
        assert self.principal is not None
        key = _cache_key(self.principal, patient_id)
        if self.cache is not None:
            if version is None and self.cache.peek(key) is not None:
                version = self.store.patient_version(patient_id)
            if version is not None:
                shared = self.cache.get(key, version)
                if shared is not None:
                    self._decisions[patient_id] = shared
                    return shared
        moment_in = getattr(self.grants, "moment_in", None)
        engine = getattr(self.store, "engine", None)
        moment = moment_in(engine, self.now) if moment_in is not None else None
        inputs = self.store.patient_decision_inputs(
            patient_id,
            FACT_TYPES,
            _directory_references,
            directory_cache=self.cache.directory if self.cache is not None else None,
            grants_at=moment,
        )
        grants = (
            self.grants.parsed(inputs.grants)  # type: ignore[attr-defined]
            if moment is not None
            else self.grants.active_grants(patient_id, self.now)
        )
        decided = self._decide(patient_id, inputs, grants)
        if self.cache is not None:
            self.cache.put(key, version if version is not None else inputs.version, decided)
        return decided

    def _decide(
        self, patient_id: str, inputs: DecisionInputs, grants: list[EmergencyGrant]
    ) -> AccessDecision:
        assert self.principal is not None
        facts = patient_facts(
            patient_id,
            inputs.facts,
            [Source(p, u) for p, u in inputs.sources],
            directory_resources=inputs.directory,
            emergency_grants=grants,
        )
        decided = decide(self.principal, patient_id, facts, self.now)
        self._decisions[patient_id] = decided
        return decided

    def decisions(self, patient_ids: Sequence[str]) -> dict[str, AccessDecision]:
        """`decision` for each of several patients (a unit's work list), each exactly the
        one `decision` would give, read with a few statements for all of them: the
        versions of those with a cached decision, then the versions, sources, facts,
        directory and emergency grants of the rest together."""
        assert self.principal is not None
        wanted = list(dict.fromkeys(patient_ids))
        found = {p: self._decisions[p] for p in wanted if p in self._decisions}
        rest = [p for p in wanted if p not in found]
        keys = {p: _cache_key(self.principal, p) for p in rest}
        if self.cache is not None and rest:
            held = [p for p in rest if self.cache.peek(keys[p]) is not None]
            versions = self.store.patients_versions(held) if held else {}
            for patient in held:
                shared = self.cache.get(keys[patient], versions[patient])
                if shared is not None:
                    found[patient] = self._decisions[patient] = shared
            rest = [p for p in rest if p not in found]
        if not rest:
            return found
        inputs = self.store.patients_decision_inputs(
            rest,
            FACT_TYPES,
            _directory_references,
            directory_cache=self.cache.directory if self.cache is not None else None,
        )
        grants = self._active_grants(rest)
        for patient in rest:
            decided = self._decide(patient, inputs[patient], grants.get(patient, []))
            found[patient] = decided
            if self.cache is not None:
                self.cache.put(keys[patient], inputs[patient].version, decided)
        return found

    def _active_grants(self, patient_ids: list[str]) -> dict[str, list[EmergencyGrant]]:
        """The active emergency grants of several patients: one query when the grant
        source reads many at once (GrantStore), else one per patient."""
        many = getattr(self.grants, "active_grants_many", None)
        if many is not None:
            found: dict[str, list[EmergencyGrant]] = many(patient_ids, self.now)
            return found
        return {p: self.grants.active_grants(p, self.now) for p in patient_ids}

    def forget(self, patient_id: str) -> None:
        """Drop a cached decision (after a new emergency grant)."""
        self._decisions.pop(patient_id, None)

    def scope(self, patient_ids: Iterable[str] = ()) -> ReadScope:
        """The ReadScope of this reader, with grants for the patients in context, limited
        to the resource types its token may read."""
        if self.principal is None:
            return ReadScope.everything()
        if self.principal.kind == "system":
            return self._typed(self.system_scope())
        grants = {pid: self.decision(pid).visible_pairs for pid in dict.fromkeys(patient_ids)}
        return self._typed(ReadScope(grants=grants))

    @property
    def provider_integration(self) -> bool:
        """Whether this reader is a system client registered as its care provider's own
        integration (HUB_PROVIDER_INTEGRATION_CLIENTS): it reads every row of its provider."""
        principal = self.principal
        return (
            principal is not None
            and principal.kind == "system"
            and principal.subject in self.integration_clients
        )

    def system_scope(self) -> ReadScope:
        """A system client's scope, before the token's types: its own provider's rows,
        except, per patient, the units `consent.decide` hides from it (S3: an inre spärr on
        a unit of its provider other than its own). The patients looked at are those with
        a block record of any provider; their decisions come from the same facts as a
        user's, read for all of them together (`decisions`: a few statements, not a few
        per patient). Computed once per request."""
        assert self.principal is not None
        provider = self.principal.care_provider
        if self._system_scope is not None:
            return self._system_scope
        if self.provider_integration or provider is None:
            self._system_scope = ReadScope(provider=provider)
            return self._system_scope
        excluded: dict[str, frozenset[str | None]] = {}
        blocked = self._patients_with_blocks()
        decided = self.decisions(blocked) if blocked else {}
        for patient_id in blocked:
            units = _hidden_own_units(decided[patient_id], provider)
            if units:
                excluded[patient_id] = units
        self._system_scope = ReadScope(provider=provider, excluded=excluded)
        return self._system_scope

    def _system_scope_for(self, patient_id: str | None, blocked: bool) -> ReadScope:
        """`system_scope` as it bears on the rows of one patient (None: rows about no
        patient), from whether that patient has a record in the index of blocks: the
        same exclusions for that patient, without looking at any other."""
        assert self.principal is not None
        provider = self.principal.care_provider
        if self._system_scope is not None:
            return self._system_scope
        if self.provider_integration or provider is None or patient_id is None or not blocked:
            return ReadScope(provider=provider)
        units = _hidden_own_units(self.decision(patient_id), provider)
        return ReadScope(provider=provider, excluded={patient_id: units} if units else {})

    def _patients_with_blocks(self) -> list[str]:
        """Patients with a Consent that may hold a block (in force or not: the decision
        tells), of any provider: one query of the store's index of blocks."""
        return self.store.patients_with_blocks()

    # -- scopes of the token ---------------------------------------------------------------

    def require_read(self, resource_type: str) -> None:
        if self.principal is not None and not self.principal.can_read(resource_type):
            raise Forbidden(f"The token's scopes do not allow reading {resource_type}")

    def require_search(self, resource_type: str) -> None:
        if self.principal is not None and not self.principal.can_search(resource_type):
            raise Forbidden(f"The token's scopes do not allow searching {resource_type}")

    def require_delete(self, resource_type: str) -> None:
        if self.principal is not None and not self.principal.allows(resource_type, "delete"):
            raise Forbidden(f"The token's scopes do not allow deleting {resource_type}")

    def require_write(self, resource_type: str) -> None:
        if self.principal is not None and not self.principal.can_write(resource_type):
            raise Forbidden(f"The token's scopes do not allow writing {resource_type}")

    # -- audit -----------------------------------------------------------------------------

    def _entry(self, patient_id: str, action: str) -> AccessEntry:
        assert self.principal is not None
        if self.principal.kind == "user" and patient_id in self._decisions:
            return self._decisions[patient_id].audit_entry(
                request_id=self.request_id, timestamp=self.now, action=action
            )
        own = (self.principal.care_provider,) if self.principal.care_provider else ()
        return AccessEntry(
            timestamp=self.now,
            request_id=self.request_id,
            action=action,
            subject=self.principal.subject,
            principal_kind=self.principal.kind,
            care_unit=self.principal.care_unit,
            care_provider=self.principal.care_provider,
            role=self.principal.role,
            patient_id=patient_id,
            shown_providers=own if self.principal.kind == "system" else (),
            hidden_providers=(),
            decision="permit",
            reason=(
                self._system_reason()
                if self.principal.kind == "system"
                else Reason.DIRECTORY_DATA.value
            ),
            emergency=False,
        )

    def _entries(self, patient_ids: list[str], action: str) -> list[AccessEntry]:
        """``_entry`` of each patient. A system client's entries differ only in the
        patient (a search page's twenty), so their shared fields are worked out once."""
        principal = self.principal
        if principal is None or principal.kind != "system" or len(patient_ids) < 2:
            return [self._entry(pid, action) for pid in patient_ids]
        shared = (
            self.now,
            self.request_id,
            action,
            principal.subject,
            principal.kind,
            principal.care_unit,
            principal.care_provider,
            principal.role,
        )
        shown = (principal.care_provider,) if principal.care_provider else ()
        reason = self._system_reason()
        return [
            AccessEntry(*shared, pid, shown, (), "permit", reason, False) for pid in patient_ids
        ]

    def _system_reason(self) -> str:
        if self.provider_integration:
            return Reason.PROVIDER_INTEGRATION.value
        return Reason.SYSTEM_OWN_PROVIDER.value

    def record(self, action: str, patient_ids: Iterable[str | None]) -> None:
        """Append one audit record per patient whose data this access returned (or whose
        data it looked at to answer). Inside a write transaction of this request the
        entries are held until the transaction has ended (`unit_of_work`)."""
        if self.principal is None or self.audit is None:
            return
        entries = self._entries([pid for pid in dict.fromkeys(patient_ids) if pid], action)
        if not entries:
            return
        if self._held is not None:  # once per action and patient in a transaction
            for entry in entries:
                self._held.setdefault((entry.action, entry.patient_id), entry)
            return
        self._append(entries)

    def _append(self, entries: Sequence[AccessEntry]) -> None:
        if not entries or self.audit is None:
            return
        if self._collected is not None:
            self._collected.extend(entries)
            return
        if self._detached is not None:
            try:
                self._detached.append(self.audit.append_detached(list(entries)))
            except Exception as error:
                self._append_failed(error)
            return
        try:
            self.audit.append_many(entries)
        except Exception as error:
            self._append_failed(error)

    def _append_failed(self, error: BaseException) -> NoReturn:
        log.error("audit append failed: %s (request %s)", type(error).__name__, self.request_id)
        raise StoreUnavailable("The audit log is unavailable; no data was returned") from None

    def collect_appends(self) -> bool:
        """From now on this request's audit entries are only collected, for the request's
        coroutine to append on the event loop (``append_collected``) before it answers.
        False (and nothing changes) when appends are already collected, detached or held
        by a unit of work."""
        if self._collected is not None or self._detached is not None or self._held is not None:
            return False
        self._collected = []
        return True

    async def append_collected(self) -> None:
        """On the event loop: append the entries collected since ``collect_appends`` in one
        batch (``AuditLog.append_on_loop``) and return once it has committed; appends wait
        again from now on. StoreUnavailable if the append failed: nothing may be answered."""
        entries, self._collected = self._collected or [], None
        if not entries or self.audit is None:
            return
        try:
            await self.audit.append_on_loop(entries)
        except Exception as error:
            self._append_failed(error)

    @contextmanager
    def appending_alongside(self) -> Iterator[None]:
        """Inside the block, the audit appends are written by the group commit's writer
        thread (``AuditLog.append_detached``) while the request goes on (reading and
        building its answer); the block ends only when every one of them has committed,
        and raises StoreUnavailable if any failed. The caller answers after the block, so,
        as with an append in line, no data leaves before its access is in the log."""
        if self._collected is not None or self._detached is not None or self._held is not None:
            yield
            return
        self._detached = []
        try:
            yield
        finally:
            pending, self._detached = self._detached, None
            wait_futures(pending)
            for appended in pending:
                error = appended.exception()
                if error is not None:
                    self._append_failed(error)

    @contextmanager
    def unit_of_work(self, base_url: str | None = None) -> Iterator[UnitOfWork]:
        """The write transaction of this request (its writes and the reads inside them).

        The audit entries of the reads inside it are held and appended once the
        transaction has ended, committed or rolled back, before anything is answered: an
        append waiting for the database lock its own transaction holds (SQLite's single
        writer) would wait forever. If that append fails the answer is 503 and no data
        leaves, so no answered read is unaudited.

        On SQLite, when the body succeeds, the entries are appended inside the transaction
        instead (``_append_within``): the transaction already holds the database's one write
        lock, so its writes and their audit commit together, in one commit instead of two."""
        if self._held is not None:
            raise RuntimeError("A request opens one write transaction at a time")
        self._held = {}
        try:
            with self.store.unit_of_work(base_url) as work:
                yield work
                self._append_within(work)
        finally:
            held, self._held = self._held, None
            self._append(list(held.values()))

    def _append_within(self, work: UnitOfWork) -> None:
        """The held entries, appended in the unit of work's own transaction on SQLite (see
        ``unit_of_work``). If that fails the transaction rolls back and the answer is 503:
        nothing of it was written or disclosed."""
        if not self._held or self.audit is None or self.store.dialect != "sqlite":
            return
        entries = list(self._held.values())
        self._held = {}
        try:
            self.audit.append_within(work.connection(), entries)
        except Exception as error:
            log.error("audit append failed: %s (request %s)", type(error).__name__, self.request_id)
            raise StoreUnavailable("The audit log is unavailable; no data was returned") from None

    @property
    def audits_writes_within(self) -> bool:
        """Whether this request's own writes are recorded inside their transaction
        (``record_write`` called in the unit of work): a system client's entry takes no
        decision, so nothing the write changes can alter it. A user's entry carries the
        decision for the patient as it stands after the write, so it is recorded after."""
        return (
            self.audit is not None
            and self.principal is not None
            and self.principal.kind == "system"
        )

    def record_write(self, action: str, stored: StoredResource | None) -> None:
        """Audit a write or delete: it tells its client about the record (its version, and
        with Prefer: return=representation its content). Users' entries carry the
        decision for the patient, as their reads do."""
        if stored is None or self.principal is None or self.audit is None:
            return
        patient = stored.id if stored.resource_type == "Patient" else stored.patient_id
        if patient is None:
            return
        if self.principal.kind == "user" and stored.resource_type not in DIRECTORY_TYPES:
            self.decision(patient)
        self.record(action, [patient])

    # -- read paths ------------------------------------------------------------------------

    def _readable_types(self) -> frozenset[str] | None:
        """The resource types the token's scopes let it read (directory types need none),
        None for all: every scope handed to the store carries them, so that included,
        revincluded, history and $everything rows of other types never leave."""
        if self.principal is None or self.principal.allows("*", "read"):
            return None
        return frozenset(
            t for t in (*supported_types(), *DIRECTORY_TYPES) if self.principal.can_read(t)
        )

    def _typed(self, scope: ReadScope) -> ReadScope:
        types = self._readable_types()
        return scope if types is None or scope.unrestricted else replace(scope, types=types)

    def _scope_for_row(self, resource_type: str, resource_id: str) -> ReadScope:
        """The scope a read of one row needs: a directory type is shown to every reader
        (its token's types permitting) without a decision; a system client's row by its
        provider scope; a user's by the decision for the row's patient."""
        if self.principal is None:
            return self.scope()
        if resource_type in DIRECTORY_TYPES:
            return self._typed(ReadScope.directory_only())
        if self.principal.kind == "system":
            return self.scope()
        row, version = self.store.security_and_version(resource_type, resource_id)
        return self._user_scope(None if row is None else row.patient_id, version)

    def _user_scope(self, patient_id: str | None, version: Version | None) -> ReadScope:
        """A user's scope for a row of clinical data about `patient_id` (None: about no
        patient, so directory data only), from the decision for that patient (at
        `version`, when the caller read it)."""
        if patient_id is None:
            return self._typed(ReadScope.directory_only())
        decided = self.decision(patient_id, version)
        return self._typed(ReadScope(grants={patient_id: decided.visible_pairs}))

    def _denied(self, action: str, resource_type: str, resource_id: str) -> None:
        """Audit a read by id that found nothing the reader may see, under the patient of
        the row when there is one (the log says who tried; the answer says nothing)."""
        if self.principal is None or self.audit is None:
            return
        row, _version = self.store.security_and_version(resource_type, resource_id)
        if row is not None:
            self._record_denied(action, row)

    def _record_denied(self, action: str, row: StoredResource) -> None:
        """`action`-denied under the patient of a row the reader found and may not see."""
        patient = row.id if row.resource_type == "Patient" else row.patient_id
        self.record(f"{action}-denied", [patient])

    def read(
        self, resource_type: str, resource_id: str, work: UnitOfWork | None = None
    ) -> StoredResource:
        self.require_read(resource_type)
        if work is None and self.principal is not None:
            stored = self._read_judged(resource_type, resource_id)
            self.record("read", [stored.patient_id])
            return stored
        scope = self._scope_for_row(resource_type, resource_id)
        try:
            stored = (
                work.read(resource_type, resource_id, scope)
                if work is not None
                else self.store.read(resource_type, resource_id, scope)
            )
        except (NotFound, Gone):
            self._denied("read", resource_type, resource_id)
            raise
        self.record("read", [stored.patient_id])
        return stored

    def _read_judged(self, resource_type: str, resource_id: str) -> StoredResource:
        """A reader's read by id in one round trip: the current row with what the decision
        needs about its patient (`Store.current_with_facts`), judged here with
        `ReadScope.allows`, the rule of the scope's SQL condition, before anything of it
        leaves. The scope is the one `_scope_for_row` gives (a system client's narrowed
        to the row's patient). A row the reader may not see raises exactly what a
        missing one does; a read that finds a row and returns nothing of it (hidden or
        deleted) is audited as denied, under the row's patient (`_denied`)."""
        assert self.principal is not None
        system = self.principal.kind == "system"
        found = self.store.current_with_facts(resource_type, resource_id, version=not system)
        if found is None:
            raise missing(resource_type, resource_id)
        row = found.stored
        if resource_type in DIRECTORY_TYPES:
            scope = self._typed(ReadScope.directory_only())
        elif system:
            scope = self._typed(self._system_scope_for(row.patient_id, found.blocked))
        else:
            scope = self._user_scope(row.patient_id, found.version)
        shown = scope.allows(resource_type, row.patient_id, row.care_provider, row.care_unit)
        if not shown or row.deleted:
            self._record_denied("read", row)
            if shown:
                live(row, resource_type, resource_id)  # a deletion it may see: 410 Gone
            raise missing(resource_type, resource_id)
        return row

    def vread(self, resource_type: str, resource_id: str, version_id: int) -> StoredResource:
        self.require_read(resource_type)
        scope = self._scope_for_row(resource_type, resource_id)
        try:
            stored = self.store.vread(resource_type, resource_id, version_id, scope)
        except (NotFound, Gone):
            self._denied("vread", resource_type, resource_id)
            raise
        self.record("vread", [stored.patient_id])
        return stored

    def history(
        self,
        resource_type: str | None,
        resource_id: str | None,
        *,
        since: int | None,
        count: int,
        offset: int,
        after: tuple[object, ...] | None = None,
    ) -> HistoryPage:
        if resource_type is not None:
            self.require_read(resource_type)
        if resource_id is not None and resource_type is not None:
            scope = self._scope_for_row(resource_type, resource_id)
        elif self.principal is not None and self.principal.kind == "user":
            scope = self._typed(ReadScope.directory_only())
        else:
            scope = self.scope()
        page = self.store.history(
            resource_type,
            resource_id,
            since=since,
            count=count,
            offset=offset,
            scope=scope,
            after=after,
        )
        self.record("history", [*(e.patient_id for e in page.entries), *scope.grants])
        return page

    def patient_in_context(self, query: SearchQuery) -> str | None:
        """The single patient a search names with patient= or subject= (a reference, or a
        chain such as patient.identifier= that finds exactly one Patient), or with one _id
        or an identifier= that finds exactly one Patient in a Patient search; None if it
        names no single patient. Found from the query and directory data alone (every
        reader may find a Patient), never from clinical data."""
        if query not in self._in_context:
            self._in_context[query] = self._named_patient(query)
        return self._in_context[query]

    def _named_patient(self, query: SearchQuery) -> str | None:
        for criterion in query.criteria:
            if criterion.name in PATIENT_PARAMETERS and criterion.kind == "reference":
                values = [v for v in criterion.values if isinstance(v, ReferenceValue)]
                if len(values) == 1 and values[0].target_type in (None, "Patient"):
                    return values[0].target_id
        if query.resource_type == "Patient":
            for criterion in query.criteria:
                if criterion.kind == "id" and len(criterion.ids) == 1:
                    return criterion.ids[0]
            for criterion in query.criteria:
                if _names_one_identifier(criterion):
                    found = _the_one_patient(self.store, criterion)
                    if found is not None:
                        return found
        for criterion in query.criteria:
            if criterion.name in PATIENT_PARAMETERS and criterion.kind == "chain":
                found = _patient_found_by(self.store, criterion)
                if found is not None:
                    return found
        return None

    def _first_scope(self, query: SearchQuery) -> ReadScope:
        """The scope of a search's matches (and of a conditional interaction's match): a
        system client's own provider; for a user the patient in context, and without one
        directory data only (a directory search whose chains or _has reach clinical data
        sees that data only for the patient in context). A search that cannot reach
        clinical data at all (`_only_directory_data`) takes the directory scope for every
        reader: the same rows, without the system client's look at every patient with a
        block, and any clinical row it might still reach stays hidden."""
        if self.principal is None:
            return self.scope()
        if self.principal.kind == "system":
            if _only_directory_data(query):
                return self._typed(ReadScope.directory_only())
            return self.scope()
        if query.resource_type in DIRECTORY_TYPES:
            context = self.patient_in_context(query) if _reaches_clinical_data(query) else None
        else:
            context = self.patient_in_context(query)
        if context:
            return self.scope([context])
        return self._typed(ReadScope.directory_only())

    def search(self, query: SearchQuery, work: UnitOfWork | None = None) -> SearchPage:
        """The page of `explained_search`, without its notice."""
        return self.explained_search(query, work)[0]

    def explained_search(
        self, query: SearchQuery, work: UnitOfWork | None = None
    ) -> tuple[SearchPage, str | None]:
        """One scope for the matches, totals, pages, includes and every chain or _has link,
        and the notice a user's answer carries (`search_notice`).

        A user's directory search whose chains or _has reach clinical data sees that data
        only for the patient in context (one _id or identifier of a Patient search);
        without one, those criteria match nothing and the notice says why. A search tells
        its reader something even when it finds nothing (a count, an empty page, the
        notice), so the patient it names is audited too, whoever the reader is
        (`_named_in_audit`)."""
        self.require_search(query.resource_type)
        for spec in (*query.includes, *query.revincludes):
            self.require_read(spec.source_type)
        for linked in sorted(linked_types(query.criteria)):
            self.require_read(linked)
        reader: Any = work if work is not None else self.store
        scope = self._first_scope(query)
        page: SearchPage = reader.search(query, scope)
        if (
            self.principal is not None
            and self.principal.kind != "system"
            and query.resource_type in DIRECTORY_TYPES
            and (query.revincludes or query.includes)
        ):
            patients = [m.id for m in page.matches if m.resource_type == "Patient"]
            scope = self.scope(patients)
            page = reader.search(query, scope)
        touched = [r.patient_id for r in (*page.matches, *page.included)]
        touched += [r.id for r in (*page.matches, *page.included) if r.resource_type == "Patient"]
        notice = self.search_notice(query, page)
        named = self._named_in_audit(query) if _asks_clinical_data(query) else None
        self.record("search", [*touched, *scope.grants, named])
        return page, notice

    def _named_in_audit(self, query: SearchQuery) -> str | None:
        """The patient a search of clinical data or a conditional match is audited under
        besides the rows it touched: the one its query names (`patient_in_context`), for
        every kind of reader. The patient's log shows who looked, also when nothing was
        found (an empty page, a count of nothing, a conditional create that creates)."""
        if self.principal is None:
            return None
        return self.patient_in_context(query)

    def _explains(self, query: SearchQuery) -> bool:
        """Whether the answer to this search may carry a notice: a user's search that asks
        for clinical data."""
        return (
            self.principal is not None
            and self.principal.kind == "user"
            and _asks_clinical_data(query)
        )

    def search_notice(self, query: SearchQuery, page: SearchPage) -> str | None:
        """What a user's search answer says about what the rules withheld (hub.access.notices).

        A search of clinical data (its type, or a chain or _has through clinical types)
        that names no single patient finds nothing there: it says so. One that names a
        patient (`patient_in_context`, from the query and directory data alone) and asks
        for clinical data (also by _include or _revinclude) explains the reader's decision
        for that patient: no care relationship at the reader's unit, or, when the answer
        shows none of the patient's clinical data, that other providers' data needs consent
        or emergency access. The notice never depends on whether hidden data exists."""
        if not self._explains(query):
            return None
        named = self.patient_in_context(query)
        if named is None:
            if query.resource_type in DIRECTORY_TYPES and not _reaches_clinical_data(query):
                return None  # includes of the matched Patients' data need no named patient
            return PATIENT_ID_NEEDED if query.resource_type == "Patient" else PATIENT_NEEDED
        found = bool(page.matches) or bool(page.total)
        shown = any(
            stored.resource_type not in DIRECTORY_TYPES
            for stored in (*page.matches, *page.included)
        ) or (
            found and (query.resource_type not in DIRECTORY_TYPES or _reaches_clinical_data(query))
        )
        return decision_notice(self.decision(named), shows_clinical_data=shown)

    def everything(
        self, patient_id: str, *, count: int, offset: int, since: int | None
    ) -> SearchPage:
        self.require_read("Patient")
        page = self._everything_as_cached(patient_id, count=count, offset=offset, since=since)
        if page is None:
            scope = self.scope([patient_id])
            page = self.store.everything(
                patient_id, count=count, offset=offset, since=since, scope=scope
            )
        self.record("everything", [patient_id])
        return page

    def _everything_as_cached(
        self, patient_id: str, *, count: int, offset: int, since: int | None
    ) -> SearchPage | None:
        """$everything under the shared cache's decision for this user and patient, with the
        patient's version read in the same round trip just before the page: the page is
        kept only when that version is the one the decision was computed at, the check
        `decision` makes on its own; otherwise None, and nothing of it is used."""
        if (
            self.cache is None
            or self.principal is None
            or self.principal.kind == "system"
            or patient_id in self._decisions
        ):
            return None
        key = _cache_key(self.principal, patient_id)
        guess = self.cache.peek(key)
        if guess is None:
            return None
        scope = self._typed(ReadScope(grants={patient_id: guess[1].visible_pairs}))
        page, version = self.store.versioned_everything(
            patient_id, count=count, offset=offset, since=since, scope=scope
        )
        if self.cache.get(key, version) is not guess[1]:
            return None
        self._decisions[patient_id] = guess[1]
        return page

    def unit_patients(self, limit: int = 1000) -> list[str]:
        """The patients a user's own care unit has a care relationship with now: patients
        with episodes, teams, encounters or plans from the unit whose decision for this
        reader shows anything. Only ids; reading their data is a separate, audited access."""
        principal = self.principal
        if principal is None or principal.kind != "user" or principal.care_unit is None:
            raise Forbidden("A unit's work list is for a user at a care unit")
        candidates = self.store.patients_with_unit_data(
            principal.care_unit,
            ("EpisodeOfCare", "CareTeam", "Encounter", "CarePlan"),
            limit,
            care_provider=principal.care_provider,
        )
        decided = self.decisions(candidates)
        return [pid for pid in candidates if decided[pid].visible_sources]

    def patients_resources(
        self, resource_type: str, patient_ids: Sequence[str]
    ) -> list[StoredResource]:
        """The current resources of one type of several patients (a unit's work list), in
        one indexed query: every row is visible under this reader's decision for its own
        patient, and nothing of any other patient is. Audited as a search for every
        patient it returned data of."""
        self.require_search(resource_type)
        if self.principal is not None and self.principal.kind != "user":
            raise Forbidden("A search over several patients is for a user")
        found = self.store.patients_current(resource_type, patient_ids, self.scope(patient_ids))
        self.record("search", [r.patient_id for r in found if r.patient_id])
        return found

    def access_log(self, patient_id: str) -> list[AuditRecord]:
        """The patient's log extract as a care provider hands it out (PDL 4 kap. 9 §): the
        accesses to this provider's data about the patient, and the accesses its own staff
        and systems made, from the signed records. Only for a system client of that
        provider with AuditEvent read scope; the extract itself is logged."""
        if self.principal is None or self.principal.kind != "system":
            raise Forbidden("The access log extract is for a care provider's system client")
        if not self.principal.can_read("AuditEvent"):
            raise Forbidden("The token's scopes do not allow reading AuditEvent")
        if not isinstance(self.audit, AuditLog):
            raise NotFound("No access log is kept by this server")
        self.require_patient(patient_id)
        own = self.principal.care_provider
        found = [] if own is None else self.audit.extract(patient_id, care_provider=own)
        found = [redacted(record, own) for record in found]  # nothing of others' blocks
        self.record("access-log", [patient_id])
        return found

    def require_patient(self, patient_id: str) -> None:
        """404 unless the Patient is stored (directory data: every reader may know it)."""
        self.store.read("Patient", patient_id, ReadScope.directory_only())

    def directory_names(self, records: list[AuditRecord]) -> dict[str, str]:
        """Names of the employees, units and providers in log records (directory data,
        which every authenticated reader may see)."""
        return directory_names(self.store, records)

    # -- reads inside writes -----------------------------------------------------------------

    def conditional_match(
        self, work: UnitOfWork, interaction: str, query: SearchQuery, canonical_query: str
    ) -> StoredResource | None:
        """The one resource the criteria of a conditional interaction (If-None-Exist
        create, conditional update or delete, a transaction's conditional reference) find,
        None for none, 412 for several: a search by this reader, under the same scope as
        `search` (a user's clinical criteria name the patient), inside the write's
        transaction and under its conditional lock. A resource the reader may not read is
        not found, exactly like one that does not exist, and the match is audited: under
        the patient of the row found and the patient the criteria name (`_named_in_audit`),
        also when nothing matched."""
        self.require_search(query.resource_type)
        scope = self._first_scope(query)
        found = work.single_match(interaction, query, canonical_query, scope)
        context = self._named_in_audit(query)
        if found is None:
            self.record(f"conditional-{interaction}", [context])
            return None
        stored = work.current(query.resource_type, found)
        if stored is None or stored.deleted or not self.may_read(stored):
            self.record(f"conditional-{interaction}", [context])
            return None
        patient = stored.id if stored.resource_type == "Patient" else stored.patient_id
        self.record(f"conditional-{interaction}", [patient, context])
        return stored

    def may_read(self, stored: StoredResource) -> bool:
        """Whether this reader may read one row already in hand (the rule of `scope`)."""
        if self.principal is None:
            return True
        if stored.resource_type in DIRECTORY_TYPES:
            return True
        if self.principal.kind == "system":
            return self.system_scope().allows(
                stored.resource_type, stored.patient_id, stored.care_provider, stored.care_unit
            )
        if stored.patient_id is None:
            return False
        pairs = self.decision(stored.patient_id).visible_pairs
        return ReadScope(grants={stored.patient_id: pairs}).allows(
            stored.resource_type, stored.patient_id, stored.care_provider, stored.care_unit
        )

    def check_writable(
        self,
        resource_type: str,
        resource_id: str,
        current: StoredResource | None,
        incoming: dict[str, Any] | None = None,
        work: CurrentReader | None = None,
    ) -> None:
        """Called with the locked current version before a write changes it (None when
        the id is free). A record the client may not read is not found, whoever owns it,
        so that no write (If-Match, an unchanged update, a delete) tells that it exists.
        A client changes only its own care provider's data (directory data is shared). A
        user's or representative's update to a free id of clinical data is refused as
        not found too (they create new data with POST), so that a free id and an id held
        by hidden data answer alike. Then the write rules (hub.access.writes) decide
        whether this client may write `incoming` (None for a delete) over `current`."""
        if self.principal is None:
            return
        not_known = NotFound(f"{resource_type}/{resource_id} is not known")
        if current is None:
            if self.principal.kind != "system" and resource_type not in DIRECTORY_TYPES:
                raise not_known
        elif not self.may_read(current):
            raise not_known
        elif (
            current.resource_type not in DIRECTORY_TYPES
            and current.care_provider != self.principal.care_provider
        ):
            raise Forbidden("Only the care provider that owns this data may change it")
        self._check_rules(current, incoming, work)

    def check_content(self, incoming: dict[str, Any], work: CurrentReader | None = None) -> None:
        """The write rules for a new resource alone, before the store looks for a stored
        version: they depend on the content and the directory only, never on whether a
        hidden record exists."""
        self._check_rules(None, incoming, work)

    def _check_rules(
        self,
        current: StoredResource | None,
        incoming: dict[str, Any] | None,
        work: CurrentReader | None,
    ) -> None:
        if self.principal is None:
            return
        check_write(
            self.principal,
            current,
            incoming,
            lookup_in(work) if work is not None else self._directory_lookup,
            now=self.now,
            policy=self.writes,
        )

    def _directory_lookup(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        try:
            stored = self.store.read(resource_type, resource_id, ReadScope.everything())
        except (NotFound, Gone):
            return None
        return None if stored.content is None else orjson.loads(stored.content)
