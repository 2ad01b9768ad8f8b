"""`hub reindex`: rebuild the search index rows and the patient security column of stored
resources from the current definitions (after fhir/search-index.json changed).

Works in batches of current, live resources in (type, id) order, one database transaction
per batch: the batch's index rows are deleted and written anew from the stored JSON, and
the patient column of the row and of its current version is set from the Patient
compartment. A batch is all or nothing; an interrupted run can simply be started again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, delete, func, insert, select, tuple_, update

from hub.search.indexing import index_resource, patient_of
from hub.store.blocks import keep_block_index
from hub.store.schema import (
    INDEX_TABLES,
    resource_versions,
    resources,
    search_composite,
    search_date,
    search_quantity,
    search_reference,
    search_string,
    search_token,
)
from hub.store.sql_store import SqlStore

Progress = Callable[[int, int], None]
"""Called after each batch with (resources done, resources in all)."""


@dataclass(frozen=True)
class ReindexSummary:
    resources: int
    index_rows: int
    patient_changes: int


def _live(types: Sequence[str] | None) -> list[Any]:
    r = resources.c
    conditions: list[Any] = [r.deleted.is_(False)]
    if types:
        conditions.append(r.res_type.in_(list(types)))
    return conditions


def reindex(
    store: SqlStore,
    *,
    types: Sequence[str] | None = None,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> ReindexSummary:
    """Rebuild the index rows (and patient column) of every current resource of `types`
    (all types when None)."""
    r, v = resources.c, resource_versions.c
    with store.engine.connect() as conn:
        total = int(
            conn.execute(
                select(func.count()).select_from(resources).where(*_live(types))
            ).scalar_one()
        )
    done = rows_written = patient_changes = 0
    after: tuple[str, str] | None = None
    while True:
        stmt = (
            select(r.res_type, r.res_id, r.version_id, r.patient_id, v.content)
            .select_from(
                resources.join(
                    resource_versions,
                    and_(
                        v.res_type == r.res_type,
                        v.res_id == r.res_id,
                        v.version_id == r.version_id,
                    ),
                )
            )
            .where(*_live(types))
            .order_by(r.res_type, r.res_id)
            .limit(batch_size)
        )
        if after is not None:
            stmt = stmt.where(tuple_(r.res_type, r.res_id) > tuple_(*after))
        with store.engine.begin() as conn:
            batch = conn.execute(stmt).all()
            if not batch:
                break
            rows_written += _rewrite(store, conn, batch)
            patient_changes += _repatient(store, conn, batch)
        done += len(batch)
        after = (batch[-1].res_type, batch[-1].res_id)
        if progress is not None:
            progress(done, total)
    return ReindexSummary(done, rows_written, patient_changes)


def _rewrite(store: SqlStore, conn: Any, batch: Sequence[Any]) -> int:
    by_type: dict[str, list[str]] = {}
    for row in batch:
        by_type.setdefault(row.res_type, []).append(row.res_id)
    for table in INDEX_TABLES:
        for resource_type, ids in by_type.items():
            conn.execute(
                delete(table).where(table.c.res_type == resource_type, table.c.res_id.in_(ids))
            )
    pending: dict[Any, list[dict[str, Any]]] = {table: [] for table in INDEX_TABLES}
    composite_columns = [c.name for c in search_composite.columns][2:]
    for row in batch:
        document = orjson.loads(row.content)
        rows = index_resource(document, store.registry, store.base_url)
        key = {"res_type": row.res_type, "res_id": row.res_id}
        pending[search_token] += [
            {**key, "param": p, "system": s, "code": c[:255]} for p, s, c in rows.tokens
        ]
        pending[search_string] += [
            {**key, "param": p, "value_norm": n, "value_exact": e} for p, n, e in rows.strings
        ]
        pending[search_date] += [
            {**key, "param": p, "low": lo, "high": hi} for p, lo, hi in rows.dates
        ]
        pending[search_reference] += [
            {**key, "param": p, "target_type": t, "target_id": i} for p, t, i in rows.references
        ]
        pending[search_quantity] += [
            {**key, "param": p, "system": s, "code": c, "low": lo, "high": hi}
            for p, s, c, lo, hi in rows.quantities
        ]
        pending[search_composite] += [
            {**key, **dict(zip(composite_columns, row, strict=True))} for row in rows.composites
        ]
    written = 0
    for table, values in pending.items():
        if values:
            conn.execute(insert(table), values)
            written += len(values)
    return written


def _repatient(store: SqlStore, conn: Any, batch: Sequence[Any]) -> int:
    """Set the patient column where the compartment now says otherwise."""
    r, v = resources.c, resource_versions.c
    changed = 0
    for row in batch:
        document = orjson.loads(row.content)
        patient = patient_of(document, store.base_url, store.registry)
        if patient == row.patient_id:
            continue
        key = (r.res_type == row.res_type, r.res_id == row.res_id)
        conn.execute(update(resources).where(*key).values(patient_id=patient))
        if row.res_type == "Consent":  # the index of blocks names the patient too
            keep_block_index(conn.execute, row.res_id, patient, document)
        conn.execute(
            update(resource_versions)
            .where(
                v.res_type == row.res_type,
                v.res_id == row.res_id,
                v.version_id == row.version_id,
            )
            .values(patient_id=patient)
        )
        changed += 1
    return changed
