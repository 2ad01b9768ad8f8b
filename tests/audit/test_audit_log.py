"""The access log in the database: concurrent appends, tamper detection, extracts.

Every test runs on SQLite and PostgreSQL (the ``store`` fixture). Tampering is done with
plain SQL on the tables, as someone with database access but without the signing key
would do it.

What is and is not detected when the newest records are deleted:

- records after the last checkpoint deleted, head row left alone: detected (``deleted``,
  the head points past the newest record);
- records after the last checkpoint deleted and the head row set back to the new newest
  record: NOT detected; the chain is consistent and every checkpoint still matches;
- the same after ``write_checkpoint_now`` (written at shutdown): detected, the signed
  newest record is missing.
"""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, inspect, select, update

from consent.audit import AccessEntry, AuditRecord, record_hash, sign_checkpoint
from hub.audit.log import (
    AuditLog,
    AuditWriteError,
    load_audit_public_key,
    load_or_create_audit_key,
)
from hub.store import migrations
from hub.store.schema import audit_checkpoints, audit_head, audit_records
from hub.store.sql_store import SqlStore

KEY = Ed25519PrivateKey.generate()
START = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


def entry(number: int, *, patient: str | None = None, emergency: bool = False) -> AccessEntry:
    return AccessEntry(
        timestamp=START + timedelta(minutes=number),
        request_id=f"req-{number}",
        action="read",
        subject="SE2120002122-P001",
        principal_kind="user",
        care_unit="SE2120002122-1001",
        care_provider="SE2120002122-0000",
        role=None,
        patient_id=patient or f"pat-{number % 3}",
        shown_providers=("SE2120002122-0000",),
        hidden_providers=("SE2321000164-0000",),
        decision="partial",
        reason="own-unit,no-consent",
        emergency=emergency,
    )


def filled(store: SqlStore, count: int, interval: int = 10) -> AuditLog:
    log = AuditLog(store.engine, KEY, checkpoint_interval=interval)
    log.append_many(entry(number) for number in range(1, count + 1))
    return log


def first(log: AuditLog) -> tuple[str, int]:
    problem = log.verify(KEY.public_key()).first_problem
    assert problem is not None, "tampering was not detected"
    return problem.kind, problem.sequence


def stored_json(engine: Engine, sequence: int) -> dict[str, object]:
    with engine.connect() as conn:
        text = conn.execute(
            select(audit_records.c.record).where(audit_records.c.sequence == sequence)
        ).scalar_one()
    data = orjson.loads(text)
    assert isinstance(data, dict)
    return data


def set_json(engine: Engine, sequence: int, data: dict[str, object]) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(audit_records)
            .where(audit_records.c.sequence == sequence)
            .values(record=orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode())
        )


def test_fifty_concurrent_appends_form_one_valid_chain(store: SqlStore) -> None:
    log = AuditLog(store.engine, KEY, checkpoint_interval=10)
    with ThreadPoolExecutor(max_workers=50) as pool:
        appended = list(pool.map(lambda number: log.append(entry(number)), range(1, 51)))
    records = log.records()
    assert [record.sequence for record in records] == list(range(1, 51))
    assert sorted(record.sequence for record in appended) == list(range(1, 51))
    assert {record.request_id for record in records} == {f"req-{n}" for n in range(1, 51)}
    assert [checkpoint.sequence for checkpoint in log.checkpoints()] == [10, 20, 30, 40, 50]
    report = log.verify(KEY.public_key(), interval=10)
    assert report.ok, report.problems
    assert report.records_checked == 50
    assert report.unsigned_tail == 0


def test_append_returns_the_stored_record_and_continues_the_chain(store: SqlStore) -> None:
    log = AuditLog(store.engine, KEY, checkpoint_interval=3)
    one = log.append(entry(1))
    two, three = log.append_many([entry(2), entry(3)])
    assert (one.sequence, two.sequence, three.sequence) == (1, 2, 3)
    assert two.prev_hash == one.hash and three.prev_hash == two.hash
    assert log.records() == [one, two, three]
    assert [checkpoint.sequence for checkpoint in log.checkpoints()] == [3]
    assert log.count() == 3


def test_failed_batch_writes_nothing_and_raises_without_patient_data(store: SqlStore) -> None:
    log = filled(store, 4)
    naive = replace(entry(6, patient="pat-secret"), timestamp=datetime(2025, 6, 2, 9, 0))
    with pytest.raises(AuditWriteError) as raised:
        log.append_many([entry(5, patient="pat-secret"), naive])
    assert "pat-secret" not in str(raised.value)
    assert raised.value.__cause__ is None
    assert log.count() == 4
    assert log.append(entry(5)).sequence == 5
    assert log.verify(KEY.public_key()).ok


def test_read_only_log_refuses_to_append(store: SqlStore) -> None:
    filled(store, 2)
    reader = AuditLog(store.engine, None)
    with pytest.raises(AuditWriteError):
        reader.append(entry(3))
    assert reader.verify(KEY.public_key()).ok


def test_edited_record_json_is_named(store: SqlStore) -> None:
    log = filled(store, 25)
    data = stored_json(store.engine, 7)
    data["subject"] = "SE2120002122-P999"
    set_json(store.engine, 7, data)
    assert first(log) == ("edited", 7)


def test_deleted_record_is_named(store: SqlStore) -> None:
    log = filled(store, 25)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_records).where(audit_records.c.sequence == 7))
    assert first(log) == ("deleted", 7)


def test_swapped_sequence_numbers_are_named(store: SqlStore) -> None:
    log = filled(store, 25)
    column = audit_records.c.sequence
    with store.engine.begin() as conn:
        conn.execute(update(audit_records).where(column == 5).values(sequence=-5))
        conn.execute(update(audit_records).where(column == 6).values(sequence=5))
        conn.execute(update(audit_records).where(column == -5).values(sequence=6))
    assert first(log) == ("reordered", 5)


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "in-the-tail"])
def test_edited_index_column_is_named_and_never_leaks_into_an_extract(
    store: SqlStore, indexed: bool
) -> None:
    """Record 4's patient column is changed to another patient's, before or after the
    patient index reached it. The other patient's extract never shows it (the signed
    content decides), verify names it; once indexed, the record stays in its own
    patient's extract whatever the column says."""
    log = AuditLog(store.engine, KEY, checkpoint_interval=10)
    log.append_many(entry(number) for number in range(1, 3))  # the first batch catches up
    log.append_many(entry(number) for number in range(3, 13))
    if indexed:
        log.index_patients()
    victim = stored_json(store.engine, 4)["patient_id"]
    with store.engine.begin() as conn:
        conn.execute(
            update(audit_records).where(audit_records.c.sequence == 4).values(patient_id="pat-x")
        )
    assert first(log) == ("edited", 4)
    assert log.records(patient_id="pat-x") == []
    in_extract = 4 in [record.sequence for record in log.records(patient_id=str(victim))]
    assert in_extract is indexed


def test_rewrite_with_recomputed_hashes_is_caught_by_the_next_checkpoint(
    store: SqlStore,
) -> None:
    log = filled(store, 25)
    records = log.records()
    previous: AuditRecord | None = records[13]
    forged = replace(records[14], subject="SE2120002122-P999")  # sequence 15
    rewritten: list[AuditRecord] = []
    for record in [forged, *records[15:]]:
        assert previous is not None
        relinked = replace(record, prev_hash=previous.hash, hash="")
        relinked = replace(relinked, hash=record_hash(relinked))
        rewritten.append(relinked)
        previous = relinked
    for record in rewritten:
        set_json(store.engine, record.sequence, record.to_dict())
    with store.engine.begin() as conn:
        conn.execute(update(audit_head).values(hash=rewritten[-1].hash))
    report = log.verify(KEY.public_key())
    problem = report.first_problem
    assert problem is not None
    assert (problem.kind, problem.sequence) == ("rewritten", 11)
    assert "11..20" in problem.detail


def test_forged_checkpoint_is_named(store: SqlStore) -> None:
    log = filled(store, 25)
    intruder = Ed25519PrivateKey.generate()
    record = log.records()[19]
    forged = sign_checkpoint(record, intruder)
    with store.engine.begin() as conn:
        conn.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.sequence == 20)
            .values(key_id=forged.key_id, signature=forged.signature)
        )
    assert first(log) == ("unknown-key", 20)
    genuine = sign_checkpoint(record, KEY)
    with store.engine.begin() as conn:
        conn.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.sequence == 20)
            .values(key_id=genuine.key_id, signature=forged.signature)
        )
    assert first(log) == ("bad-signature", 20)


def test_deleted_checkpoint_is_named_when_the_interval_is_checked(store: SqlStore) -> None:
    log = filled(store, 25)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_checkpoints).where(audit_checkpoints.c.sequence == 10))
    assert log.verify(KEY.public_key()).ok
    problem = log.verify(KEY.public_key(), interval=10).first_problem
    assert problem is not None
    assert (problem.kind, problem.sequence) == ("missing-checkpoint", 10)


def test_deleted_tail_is_detected_while_the_head_is_intact(store: SqlStore) -> None:
    log = filled(store, 25)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_records).where(audit_records.c.sequence > 20))
    assert first(log) == ("deleted", 21)


def _delete_tail_and_reset_head(engine: Engine, after: int) -> None:
    with engine.begin() as conn:
        conn.execute(delete(audit_records).where(audit_records.c.sequence > after))
    newest = stored_json(engine, after)
    with engine.begin() as conn:
        conn.execute(update(audit_head).values(sequence=after, hash=newest["hash"]))


def test_deleted_unsigned_tail_with_reset_head_is_not_detected(store: SqlStore) -> None:
    log = filled(store, 25)
    _delete_tail_and_reset_head(store.engine, 20)
    report = log.verify(KEY.public_key(), interval=10)
    assert report.ok  # the documented limit: only the chain protects unsigned records
    assert report.records_checked == 20


def test_shutdown_checkpoint_protects_the_tail(store: SqlStore) -> None:
    log = filled(store, 25)
    checkpoint = log.write_checkpoint_now()
    assert checkpoint is not None and checkpoint.sequence == 25
    assert log.write_checkpoint_now() is None
    _delete_tail_and_reset_head(store.engine, 20)
    assert first(log) == ("deleted", 25)


def test_checkpoint_is_refused_when_the_newest_record_was_edited(store: SqlStore) -> None:
    log = filled(store, 5)
    data = stored_json(store.engine, 5)
    data["action"] = "delete"
    set_json(store.engine, 5, data)
    with pytest.raises(AuditWriteError):
        log.write_checkpoint_now()


def test_empty_log_verifies_and_needs_no_checkpoint(store: SqlStore) -> None:
    log = AuditLog(store.engine, KEY)
    assert log.write_checkpoint_now() is None
    report = log.verify(KEY.public_key(), interval=100)
    assert report.ok and report.records_checked == 0


def test_patient_extract_returns_only_that_patients_accesses(store: SqlStore) -> None:
    log = AuditLog(store.engine, KEY, checkpoint_interval=10)
    log.append_many(
        entry(number, patient="pat-a" if number % 4 == 0 else "pat-b", emergency=number == 8)
        for number in range(1, 21)
    )
    extract = log.records(patient_id="pat-a")
    assert [record.sequence for record in extract] == [4, 8, 12, 16, 20]
    assert {record.patient_id for record in extract} == {"pat-a"}
    assert [record.emergency for record in extract] == [False, True, False, False, False]
    assert log.records(patient_id="pat-none") == []
    window = log.records(
        patient_id="pat-a", since=START + timedelta(minutes=8), until=START + timedelta(minutes=16)
    )
    assert [record.sequence for record in window] == [8, 12]


def test_audit_key_is_created_private_and_loaded_again(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-ed25519.pem"
    created = load_or_create_audit_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_or_create_audit_key(path)
    raw = created.public_key().public_bytes_raw()
    assert again.public_key().public_bytes_raw() == raw
    assert load_audit_public_key(path).public_bytes_raw() == raw
    assert [p.name for p in path.parent.iterdir()] == ["audit-ed25519.pem"]


def _engine(database_url: str) -> Engine:
    if database_url.startswith("sqlite"):
        from hub.store.sqlite import create_sqlite_engine

        return create_sqlite_engine(database_url)
    from hub.store.postgres import create_postgres_engine

    return create_postgres_engine(database_url)


def test_later_migrations_add_the_audit_tables_to_a_version_1_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(database_url)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
            assert migrations.migrate(engine) == [1]
        tables = set(inspect(engine).get_table_names())
        assert "resources" in tables and "audit_records" not in tables
        assert migrations.migrate(engine) == [m.version for m in migrations.MIGRATIONS[1:]]
        assert {"audit_records", "audit_checkpoints", "audit_head"} <= set(
            inspect(engine).get_table_names()
        )
        assert migrations.migrate(engine) == []
        log = AuditLog(engine, KEY)
        assert log.append(entry(1)).sequence == 1
        assert log.verify().ok
    finally:
        engine.dispose()


def test_migration_10_drops_the_audit_indexes_no_query_reads(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database made before migration 10 has the (subject, time) and (emergency, time)
    indexes; migrating drops them and keeps the extract's and the follow-up's."""
    engine = _engine(database_url)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:9])
            migrations.migrate(engine)
        with engine.begin() as conn:  # as migration 2 made them before migration 10
            conn.exec_driver_sql(
                "CREATE INDEX ix_audit_subject_time ON audit_records (subject, timestamp_us)"
            )
            conn.exec_driver_sql(
                "CREATE INDEX ix_audit_emergency_time ON audit_records (emergency, timestamp_us)"
            )
        before = {ix["name"] for ix in inspect(engine).get_indexes("audit_records")}
        assert set(migrations.UNREAD_AUDIT_INDEXES) <= before
        assert migrations.migrate(engine)[0] == 10  # and any later ones
        after = {ix["name"] for ix in inspect(engine).get_indexes("audit_records")}
        assert after & set(migrations.UNREAD_AUDIT_INDEXES) == set()
        assert "ix_audit_time" in after and "ix_audit_patient" not in after  # migration 12
        log = AuditLog(engine, KEY, checkpoint_interval=10)
        log.append_many(entry(number) for number in range(1, 13))
        assert log.verify(KEY.public_key()).ok
        assert [r.sequence for r in log.extract("pat-1")] == [1, 4, 7, 10]
    finally:
        engine.dispose()
