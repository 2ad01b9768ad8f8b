"""Database tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

resources           current state per (type, id): version, deleted flag, security columns
resource_versions   every version's canonical JSON bytes (history, vread, and current reads)
search_*            index rows of the current version of each live resource
conditional_locks   one row per conditional-write key; its upsert serialises competing writers
schema_migrations   applied migration versions
audit_records       the hash-chained access log: canonical record JSON plus indexed columns
audit_checkpoints   Ed25519-signed checkpoints over record hashes
audit_head          one row: the newest record's sequence and hash; appenders lock it
audit_patient_index (patient, sequence) of every record up to audit_index_head: the
                    patients' extracts, filled in batches behind the appends
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from hub.search.parameters import COMPOSITE_SLOTS

metadata = MetaData()

TYPE = 64
ID = 64
HSA = 64

resources = Table(
    "resources",
    metadata,
    Column("res_type", String(TYPE), nullable=False),
    Column("res_id", String(ID), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("patient_id", String(ID)),
    Column("care_provider", String(HSA)),
    Column("care_unit", String(HSA)),
    PrimaryKeyConstraint("res_type", "res_id", name="pk_resources"),
)
Index("ix_resources_type_updated", resources.c.res_type, resources.c.last_updated)
Index("ix_resources_patient", resources.c.patient_id, resources.c.res_type)
Index("ix_resources_provider", resources.c.care_provider, resources.c.care_unit)

resource_versions = Table(
    "resource_versions",
    metadata,
    Column("res_type", String(TYPE), nullable=False),
    Column("res_id", String(ID), nullable=False),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("method", String(8), nullable=False),
    Column("content", LargeBinary),
    Column("patient_id", String(ID)),
    Column("care_provider", String(HSA)),
    Column("care_unit", String(HSA)),
    PrimaryKeyConstraint("res_type", "res_id", "version_id", name="pk_resource_versions"),
)
Index("ix_versions_updated", resource_versions.c.last_updated)
Index("ix_versions_type_updated", resource_versions.c.res_type, resource_versions.c.last_updated)
Index(
    "ix_versions_patient_sources",
    resource_versions.c.patient_id,
    resource_versions.c.care_provider,
    resource_versions.c.care_unit,
)

search_token = Table(
    "search_token",
    metadata,
    Column("res_type", String(TYPE), nullable=False),
    Column("res_id", String(ID), nullable=False),
    Column("param", String(64), nullable=False),
    Column("system", String(255)),
    Column("code", String(255), nullable=False),
)
Index("ix_token_lookup", search_token.c.res_type, search_token.c.param, search_token.c.code)
Index("ix_token_owner", search_token.c.res_type, search_token.c.res_id, search_token.c.param)

search_string = Table(
    "search_string",
    metadata,
    Column("res_type", String(TYPE), nullable=False),
    Column("res_id", String(ID), nullable=False),
    Column("param", String(64), nullable=False),
    Column("value_norm", String(255), nullable=False),
    Column("value_exact", String(255), nullable=False),
)
Index(
    "ix_string_lookup",
    search_string.c.res_type,
    search_string.c.param,
    search_string.c.value_norm,
    postgresql_ops={"value_norm": "varchar_pattern_ops"},
)
Index("ix_string_owner", search_string.c.res_type, search_string.c.res_id, search_string.c.param)

search_date = Table(
    "search_date",
    metadata,
    Column("res_type", String(TYPE), nullable=False),
    Column("res_id", String(ID), nullable=False),
    Column("param", String(64), nullable=False),
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
)
Index("ix_date_low", search_date.c.res_type, search_date.c.param, search_date.c.low)
Index("ix_date_high", search_date.c.res_type, search_date.c.param, search_date.c.high)
Index("ix_date_owner", search_date.c.res_type, search_date.c.res_id, search_date.c.param)

search_reference = Table(
    "search_reference",
    metadata,
    Column("res_type", String(TYPE), nullable=False),
    Column("res_id", String(ID), nullable=False),
    Column("param", String(64), nullable=False),
    Column("target_type", String(TYPE), nullable=False),
    Column("target_id", String(ID), nullable=False),
)
Index(
    "ix_reference_lookup",
    search_reference.c.res_type,
    search_reference.c.param,
    search_reference.c.target_id,
)
Index("ix_reference_target", search_reference.c.target_type, search_reference.c.target_id)
Index(
    "ix_reference_owner",
    search_reference.c.res_type,
    search_reference.c.res_id,
    search_reference.c.param,
)

conditional_locks = Table(
    "conditional_locks",
    metadata,
    Column("res_type", String(TYPE), nullable=False),
    Column("lock_key", String(64), nullable=False),
    Column("uses", BigInteger, nullable=False),
    PrimaryKeyConstraint("res_type", "lock_key", name="pk_conditional_locks"),
)

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", BigInteger, nullable=False),
)

# --- Migration 7: number and quantity values ------------------------------------------

search_quantity = Table(
    "search_quantity",
    metadata,
    Column("res_type", String(TYPE), nullable=False),
    Column("res_id", String(ID), nullable=False),
    Column("param", String(64), nullable=False),
    Column("system", String(255)),
    Column("code", String(255)),
    Column("low", Float(53), nullable=False),
    Column("high", Float(53), nullable=False),
)
"""Values of number parameters (system and code NULL) and quantity parameters (the unit's
system and code, or its `unit` text when it has no code); a Range is one row low..high."""
Index("ix_quantity_low", search_quantity.c.res_type, search_quantity.c.param, search_quantity.c.low)
Index(
    "ix_quantity_high", search_quantity.c.res_type, search_quantity.c.param, search_quantity.c.high
)
Index(
    "ix_quantity_owner",
    search_quantity.c.res_type,
    search_quantity.c.res_id,
    search_quantity.c.param,
)

VERSION_7_TABLES = (search_quantity,)
"""The tables migration 7 creates."""

# --- Migration 8: composite values, one row per repetition -----------------------------

search_composite = Table(
    "search_composite",
    metadata,
    Column("res_type", String(TYPE), nullable=False),
    Column("res_id", String(ID), nullable=False),
    Column("param", String(64), nullable=False),
    *[
        column
        for slot in range(1, COMPOSITE_SLOTS + 1)
        for column in (
            Column(f"system{slot}", String(255)),
            Column(f"code{slot}", String(255)),
            Column(f"low{slot}", Float(53)),
            Column(f"high{slot}", Float(53)),
        )
    ],
)
"""Values of composite parameters: one row per repetition of the composite's element (each
Observation.component, each useContext) and combination of its components' values there,
so that `code$value` matches both parts in ONE repetition. Per component slot: a token's
system and code, a string's exact and normalised text, a reference's target type and id,
a date's interval in microseconds, a number's or quantity's interval with its unit's
system and code."""
Index(
    "ix_composite_lookup",
    search_composite.c.res_type,
    search_composite.c.param,
    search_composite.c.code1,
)
Index(
    "ix_composite_owner",
    search_composite.c.res_type,
    search_composite.c.res_id,
    search_composite.c.param,
)

VERSION_8_TABLES = (search_composite,)
"""The tables migration 8 creates."""

INDEX_TABLES = (
    search_token,
    search_string,
    search_date,
    search_reference,
    search_quantity,
    search_composite,
)

consent_blocks = Table(
    "consent_blocks",
    metadata,
    Column("res_id", String(ID), primary_key=True),
    Column("patient_id", String(ID), nullable=False),
)
"""The Consents that may hold a block (`consent.extract.may_hold_a_block`), current and
not deleted, with their patient: kept by every Consent write in its own transaction
(hub.store.blocks)."""
Index("ix_consent_blocks_patient", consent_blocks.c.patient_id)

BLOCK_INDEX_TABLES = (consent_blocks,)
"""The tables of the index of blocks (a migration creates and fills them)."""

VERSION_1_TABLES = (
    resources,
    resource_versions,
    search_token,
    search_string,
    search_date,
    search_reference,
    conditional_locks,
)
"""The tables migration 1 creates (schema_migrations is created by the migrator itself)."""

# --- Migration 2: the access log -------------------------------------------------------

audit_records = Table(
    "audit_records",
    metadata,
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("timestamp_us", BigInteger, nullable=False),
    Column("patient_id", String(ID), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("emergency", Boolean, nullable=False),
    Column("record", Text, nullable=False),
)
Index("ix_audit_time", audit_records.c.timestamp_us)
# The follow-up's day reads ix_audit_time. Migration 10 dropped (subject, time) and
# (emergency, time): no query read them, and every append paid for them. Migration 12
# replaced the index of (patient, sequence), whose leaves every append touched at random
# (one per patient on a search page), with audit_patient_index below.

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("record_hash", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sequence", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    CheckConstraint("id = 1", name="ck_audit_head_single_row"),
)

VERSION_2_TABLES = (audit_records, audit_checkpoints, audit_head)
"""The tables migration 2 creates."""

audit_patient_index = Table(
    "audit_patient_index",
    metadata,
    Column("patient_id", String(ID), nullable=False),
    Column("sequence", BigInteger, nullable=False, autoincrement=False),
    PrimaryKeyConstraint("patient_id", "sequence", name="pk_audit_patient_index"),
    sqlite_with_rowid=False,
)
"""Each audit record's patient, for the patient's extract: the records up to
``audit_index_head.sequence`` are here, each once (hub.audit.patient_index). An append does
not write here; the newer records are found by a scan of the short tail after that
sequence, and the index catches up in batches, where one transaction touches each of its
patients' leaves once instead of once per record."""

audit_index_head = Table(
    "audit_index_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("sequence", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="ck_audit_index_head_single_row"),
)
"""One row: every record up to this sequence is in audit_patient_index."""

PATIENT_INDEX_TABLES = (audit_patient_index, audit_index_head)
"""The tables migration 12 creates."""

ingest_quarantine = Table(
    "ingest_quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("adapter", String(64), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("source_system", String(255)),
    Column("received_at", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("http_status", Integer, nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("error_location", Text),
    Column("error_message", Text, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("replayed_at", BigInteger),
)
Index("ix_ingest_quarantine_status", ingest_quarantine.c.status, ingest_quarantine.c.id)
KEPT_ONCE = ("quarantined", "superseded")
"""Statuses whose entries are one per adapter and content hash (replayed ones may repeat)."""
QUARANTINE_CONTENT_INDEX = Index(
    "ux_ingest_quarantine_content",
    ingest_quarantine.c.adapter,
    ingest_quarantine.c.sha256,
    ingest_quarantine.c.status,
    unique=True,
    sqlite_where=ingest_quarantine.c.status.in_(KEPT_ONCE),
    postgresql_where=ingest_quarantine.c.status.in_(KEPT_ONCE),
)
"""One quarantined (or superseded) entry per adapter and content hash, created by
migration 11: two uploads of the same bytes at once meet here (hub.ingest.quarantine)."""

emergency_grants = Table(
    "emergency_grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("patient_id", String(ID), nullable=False),
    Column("employee", String(HSA), nullable=False),
    Column("care_unit", String(HSA), nullable=False),
    Column("start_us", BigInteger, nullable=False),
    Column("end_us", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("grant", LargeBinary, nullable=False),
)
Index("ix_emergency_grants_patient", emergency_grants.c.patient_id, emergency_grants.c.end_us)

VERSION_3_TABLES = (ingest_quarantine, emergency_grants)
"""The tables migration 3 creates."""
