"""The index of blocks: which patients have a Consent that may hold a block (spärr).

A system client's read scope hides, per patient, the units a block closes to it
(docs/access-rules.md S3), so every such read must know the patients with blocks. Reading
every Consent per request for that grows with all consents ever registered; instead the
`consent_blocks` table lists each current, undeleted Consent that may hold a block
(`consent.extract.may_hold_a_block`) with its patient. Every Consent write keeps it in
the write's own transaction (`keep_block_index`, called by the store's UnitOfWork), and
the migration that created it filled it from the stored Consents (`rebuild_block_index`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, insert, select

from consent.extract import may_hold_a_block
from hub.store.schema import consent_blocks, resource_versions, resources
from hub.store.statements import DriverStatement, compiled

__all__ = ["keep_block_index", "patients_with_blocks", "rebuild_block_index"]


@cache
def patients_with_blocks(dialect: str) -> DriverStatement:
    """The patients of the index, compiled once per dialect."""
    return compiled(
        select(consent_blocks.c.patient_id).distinct().order_by(consent_blocks.c.patient_id),
        dialect,
    )


def keep_block_index(
    execute: Callable[[Any], Any],
    resource_id: str,
    patient_id: str | None,
    document: dict[str, Any] | None,
) -> None:
    """Bring the index up to date with one Consent's new version (`document` None for a
    deletion), through the write transaction's `execute`."""
    execute(delete(consent_blocks).where(consent_blocks.c.res_id == resource_id))
    if document is not None and patient_id is not None and may_hold_a_block(document):
        execute(insert(consent_blocks).values(res_id=resource_id, patient_id=patient_id))


def rebuild_block_index(conn: Connection) -> None:
    """Fill the index anew from the current, undeleted Consents."""
    r, v = resources.c, resource_versions.c
    current = (
        select(r.res_id, r.patient_id, v.content)
        .select_from(
            resources.join(
                resource_versions,
                and_(v.res_type == r.res_type, v.res_id == r.res_id, v.version_id == r.version_id),
            )
        )
        .where(r.res_type == "Consent", r.deleted.is_(False), r.patient_id.is_not(None))
    )
    rows = [
        {"res_id": row.res_id, "patient_id": row.patient_id}
        for row in conn.execute(current)
        if row.content is not None and _holds(bytes(row.content))
    ]
    conn.execute(delete(consent_blocks))
    if rows:
        conn.execute(insert(consent_blocks), rows)


def _holds(content: bytes) -> bool:
    document = orjson.loads(content)
    return isinstance(document, dict) and may_hold_a_block(document)
