"""Versioned schema migrations, applied in order at start-up under a database lock.

Each migration has a number, a name and a function of a Connection. The applied numbers
are recorded in schema_migrations; a database newer than this code refuses to start.
Migration 1 creates the version-1 tables of schema.py, migration 2 the access-log tables,
migration 3 the ingest quarantine and the emergency-access grants, migration 11 its unique
index of content, migration 12 the audit records' patient index;
later schema changes are new migrations with their own DDL, never edits of an applied one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, select, text, update

from hub.fhir_dates import now_us
from hub.store.schema import (
    BLOCK_INDEX_TABLES,
    KEPT_ONCE,
    PATIENT_INDEX_TABLES,
    QUARANTINE_CONTENT_INDEX,
    VERSION_1_TABLES,
    VERSION_2_TABLES,
    VERSION_3_TABLES,
    VERSION_7_TABLES,
    VERSION_8_TABLES,
    audit_head,
    audit_index_head,
    audit_patient_index,
    audit_records,
    ingest_quarantine,
    metadata,
    schema_migrations,
)

GENESIS_HASH = "0" * 64
"""``consent.audit.GENESIS_HASH``, repeated so that migrations stay independent of it."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _create_initial_schema(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(VERSION_1_TABLES))


def _create_audit_tables(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(VERSION_2_TABLES))
    conn.execute(audit_head.insert().values(id=1, sequence=0, hash=GENESIS_HASH))


def _create_intake_and_emergency_tables(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(VERSION_3_TABLES))


OWNER_INDEXES_WITH_PARAM = tuple(
    statement
    for name, table in (
        ("ix_token_owner", "search_token"),
        ("ix_string_owner", "search_string"),
        ("ix_date_owner", "search_date"),
        ("ix_reference_owner", "search_reference"),
    )
    for statement in (
        "DROP INDEX IF EXISTS " + name,
        "CREATE INDEX " + name + " ON " + table + " (res_type, res_id, param)",
    )
)
"""Migration 4's DDL, fixed as it was applied (schema names only, no values)."""


def _owner_indexes_with_param(conn: Connection) -> None:
    """(res_type, res_id, param): a correlated EXISTS probe of one parameter is then an
    equality lookup on three columns, which every planner prefers over a value index."""
    for statement in OWNER_INDEXES_WITH_PARAM:
        conn.execute(text(statement))


def _index_patient_sources(conn: Connection) -> None:
    """The sources of one patient's data (every version) are an index-only lookup."""
    conn.execute(text("DROP INDEX IF EXISTS ix_versions_patient_sources"))
    conn.execute(
        text(
            "CREATE INDEX ix_versions_patient_sources "
            "ON resource_versions (patient_id, care_provider, care_unit)"
        )
    )


_TWIN_PARAMETERS = (("CarePlan", "patient"), ("CareTeam", "patient"), ("Encounter", "patient"))
"""The reference parameters kept in their broader twin's rows (`subject`) since migration 6,
as fhir/search-parameters.json defined them then."""


def _drop_twin_reference_rows(conn: Connection) -> None:
    """`patient` of CarePlan, CareTeam and Encounter is `subject` restricted to Patient:
    searches now read the `subject` rows, so their own copies go."""
    for resource_type, param in _TWIN_PARAMETERS:
        conn.execute(
            text("DELETE FROM search_reference WHERE res_type = :t AND param = :p"),
            {"t": resource_type, "p": param},
        )


def _create_quantity_index(conn: Connection) -> None:
    """Number and quantity search values (the full R4 search parameters); `hub reindex`
    fills them for resources stored before."""
    metadata.create_all(conn, tables=list(VERSION_7_TABLES))


def _create_composite_index(conn: Connection) -> None:
    """Composite search values per repetition; `hub reindex` fills them for resources
    stored before."""
    metadata.create_all(conn, tables=list(VERSION_8_TABLES))


def _create_block_index(conn: Connection) -> None:
    """The index of the Consents that may hold a block (hub.store.blocks), filled from
    the stored Consents."""
    from hub.store.blocks import rebuild_block_index

    metadata.create_all(conn, tables=list(BLOCK_INDEX_TABLES))
    rebuild_block_index(conn)


UNREAD_AUDIT_INDEXES = ("ix_audit_subject_time", "ix_audit_emergency_time")
"""Migration 10 drops these: no query of the access log reads them (the extract reads
the patient index, the follow-up the time index and filters the day's records)."""


def _drop_unread_audit_indexes(conn: Connection) -> None:
    """Every audit append updated two indexes no query read."""
    for name in UNREAD_AUDIT_INDEXES:
        conn.execute(text("DROP INDEX IF EXISTS " + name))


def _quarantine_once_per_content(conn: Connection) -> None:
    """Entries of the same adapter, content hash and status (quarantined or superseded)
    become the oldest one, their attempts added up; then the unique index that keeps
    them one."""
    q = ingest_quarantine
    groups = conn.execute(
        select(q.c.adapter, q.c.sha256, q.c.status, func.min(q.c.id), func.sum(q.c.attempts))
        .where(q.c.status.in_(KEPT_ONCE))
        .group_by(q.c.adapter, q.c.sha256, q.c.status)
        .having(func.count() > 1)
    ).all()
    for adapter, sha256, status, first, attempts in groups:
        same = (q.c.adapter == adapter) & (q.c.sha256 == sha256) & (q.c.status == status)
        conn.execute(delete(q).where(same, q.c.id != first))
        conn.execute(update(q).where(q.c.id == first).values(attempts=int(attempts)))
    QUARANTINE_CONTENT_INDEX.create(conn, checkfirst=True)


def _patient_index_behind_appends(conn: Connection) -> None:
    """The audit records' patients move from an index that every append updated to
    audit_patient_index (hub.audit.patient_index), filled here with every record so far."""
    metadata.create_all(conn, tables=list(PATIENT_INDEX_TABLES))
    # A hub of the version before may still append while this runs: the audit head's lock
    # (PostgreSQL) holds its appends back, and only records up to the newest one read
    # here are indexed, so the index head never passes a record the index lacks.
    conn.execute(select(audit_head.c.sequence).with_for_update())
    newest = int(conn.execute(select(func.max(audit_records.c.sequence))).scalar_one() or 0)
    conn.execute(
        audit_patient_index.insert().from_select(
            ["patient_id", "sequence"],
            select(audit_records.c.patient_id, audit_records.c.sequence).where(
                audit_records.c.sequence <= newest
            ),
        )
    )
    conn.execute(audit_index_head.insert().values(id=1, sequence=newest))
    conn.execute(text("DROP INDEX IF EXISTS ix_audit_patient"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "resources, versions, search indexes, conditional locks", _create_initial_schema),
    Migration(2, "access log: records, checkpoints, head", _create_audit_tables),
    Migration(3, "ingest quarantine, emergency-access grants", _create_intake_and_emergency_tables),
    Migration(
        4, "owner indexes of the search tables include the parameter", _owner_indexes_with_param
    ),
    Migration(5, "index of the providers and units of each patient's data", _index_patient_sources),
    Migration(
        6, "no reference rows of their own for Patient-only twins", _drop_twin_reference_rows
    ),
    Migration(7, "number and quantity search index", _create_quantity_index),
    Migration(8, "composite search index, one row per repetition", _create_composite_index),
    Migration(9, "index of the Consents that may hold a block", _create_block_index),
    Migration(10, "no access-log indexes that no query reads", _drop_unread_audit_indexes),
    Migration(
        11, "one quarantine entry per adapter, content and status", _quarantine_once_per_content
    ),
    Migration(
        12, "audit records' patients indexed behind the appends", _patient_index_behind_appends
    ),
)
_PG_LOCK_KEY = 7_231_944_118


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer hub than this one."""


def migrate(engine: Engine) -> list[int]:
    """Apply pending migrations; returns the versions applied now."""
    applied_now: list[int] = []
    with engine.connect() as raw:
        conn = raw.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            schema_migrations.create(conn, checkfirst=True)
            done = {row.version for row in conn.execute(select(schema_migrations.c.version))}
            known = {m.version for m in MIGRATIONS}
            if done - known:
                raise SchemaTooNew(
                    f"database schema version {max(done)} is newer than this hub supports "
                    f"({max(known)})"
                )
            for migration in MIGRATIONS:
                if migration.version in done:
                    continue
                migration.apply(conn)
                conn.execute(
                    schema_migrations.insert().values(
                        version=migration.version, name=migration.name, applied_at=now_us()
                    )
                )
                applied_now.append(migration.version)
    return applied_now
