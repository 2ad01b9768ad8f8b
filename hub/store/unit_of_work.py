"""A unit of work: one database transaction of FHIR writes, and reads that see them.

Single interactions and whole transaction bundles run in one. A write stamps the version,
writes the resources row, the version row and the search index rows; a no-op update keeps
its version; If-Match and concurrent writers are checked with `UPDATE ... WHERE version`;
conditional writes serialise on a lock row (ADR 0004). The rows go through a BatchWriter
(batch.py), which sends them in few round trips.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from sqlalchemy import Connection, delete, select, tuple_, update

from hub.access.scope import ReadScope
from hub.errors import Conflict, InvalidRequest, PreconditionFailed
from hub.fhir_dates import instant_from_us, now_us
from hub.search.indexing import index_resource, patient_of
from hub.search.query import SearchQuery
from hub.search.sql import where_clauses
from hub.store.batch import BatchWriter
from hub.store.blocks import keep_block_index
from hub.store.found import live, missing
from hub.store.ids import new_id
from hub.store.model import Authorize, SearchPage, StoredResource, WriteContext, WriteOutcome
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
from hub.store.searching import search_page
from hub.store.statements import CURRENT, VERSION_COLUMNS, to_stored

if TYPE_CHECKING:
    from hub.store.sql_store import SqlStore

__all__ = ["Matcher", "UnitOfWork", "unscoped_match"]

_r = resources.c
_v = resource_versions.c


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


def _check_if_match(current: StoredResource, if_match: int | None) -> None:
    """412 unless If-Match (when given) names the current version."""
    if if_match is not None and if_match != current.version_id:
        raise PreconditionFailed(
            f"If-Match version {if_match} is not the current version of "
            f"{current.resource_type}/{current.id}"
        )


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
        self._known: dict[tuple[str, str], StoredResource | None] = {}
        self._batch = BatchWriter(conn, store.dialect)
        self.claim_new = True
        """Where writers run at once (PostgreSQL): claim each new resource at its write
        (INSERT ... ON CONFLICT DO NOTHING, one round trip each), so that a concurrent
        creator turns it into an update. False queues new resources with the other rows: a
        concurrent creator then fails the transaction, or the savepoint around the write,
        with a conflict (batched intake, which loads such a file again on its own)."""

    # -- the connection and the queued rows ---------------------------------------------------

    @property
    def rows_written(self) -> int:
        """Rows sent so far (resources, versions, index rows)."""
        return self._batch.rows_written

    def _execute(self, statement: Any) -> Any:
        self._batch.flush()
        return self._conn.execute(statement)

    def finish(self) -> None:
        self._batch.flush()

    def connection(self) -> Connection:
        """The transaction's connection, with every queued write sent, for statements of
        other modules that must commit with this work (the audit of a read inside it:
        ``AuditLog.append_within``)."""
        self._batch.flush()
        return self._conn

    def abandon(self) -> None:
        """Before a rollback: read the answer of a batch in flight (its error no longer
        matters), so that the connection takes the ROLLBACK."""
        self._batch.abandon()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A part of the transaction that rolls back alone (SAVEPOINT): an error inside it
        undoes its writes, forgets what it read, and leaves the rest of the transaction as
        it was. Its writes are sent before it ends, so their errors are its own."""
        self._batch.flush()
        nested = self._conn.begin_nested()
        try:
            yield
            self._batch.flush()
        except BaseException:
            self._batch.discard()
            self._known.clear()
            nested.rollback()
            raise
        nested.commit()

    def flush_when(self, queued_rows: int) -> None:
        """Send queued INSERTs as the transaction goes (BatchWriter.flush_when)."""
        self._batch.flush_when(queued_rows)

    def send_queued(self) -> None:
        """Send every queued row now (BatchWriter.send_queued)."""
        self._batch.send_queued()

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
                select(*VERSION_COLUMNS).where(
                    _v.res_type == resource_type,
                    _v.res_id == resource_id,
                    _v.version_id == locked.version_id,
                )
            ).first()
            return to_stored(row) if row else None
        stmt = (
            select(*VERSION_COLUMNS)
            .select_from(CURRENT)
            .where(_r.res_type == resource_type, _r.res_id == resource_id)
        )
        row = self._execute(stmt).first()
        return to_stored(row) if row else None

    def lock_current_many(self, keys: Sequence[tuple[str, str]], chunk: int = 500) -> None:
        """Row-lock and load the current versions of many resources in a few statements, so
        that a bulk load's later `current(..., for_update=True)` calls need no round trip.
        Keys not found are remembered as absent; a concurrent creator is still caught by
        the insert's conflict check. Keys this transaction knows already (locked before
        and not written since: a write forgets its key) are not asked again."""
        by_type: dict[str, list[str]] = {}
        for key in dict.fromkeys(keys):
            if key not in self._known:
                by_type.setdefault(key[0], []).append(key[1])
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
                        select(*VERSION_COLUMNS).where(
                            _v.res_type == resource_type,
                            tuple_(_v.res_id, _v.version_id).in_(list(locked.items())),
                        )
                    )
                    found = {row.res_id: to_stored(row) for row in rows}
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
        self._batch.flush()
        return search_page(self._conn, query, scope, self._store.max_include)

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
            self._batch.settle()
            claimed = self._conn.execute(
                self._store.insert_ignore(resources, {**key, **row})
            ).first()
            if claimed is None:
                return None
        elif previous is None:
            self._batch.queue(resources, {**key, **row})
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
        self._batch.queue(
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
        self._batch.queue_rows(
            search_token,
            [(rt, resource_id, p, system, code[:255]) for p, system, code in rows.tokens],
        )
        self._batch.queue_rows(search_string, [(rt, resource_id, *row) for row in rows.strings])
        self._batch.queue_rows(search_date, [(rt, resource_id, *row) for row in rows.dates])
        self._batch.queue_rows(
            search_reference, [(rt, resource_id, *row) for row in rows.references]
        )
        if rows.quantities:
            self._batch.queue_rows(
                search_quantity,
                [(rt, resource_id, *row) for row in rows.quantities],
            )
        if rows.composites:
            self._batch.queue_rows(
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
                resource,
                resource_id,
                1,
                ctx,
                None,
                "PUT",
                claim=self._store.concurrent_writers and self.claim_new,
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
        self._batch.queue(
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
