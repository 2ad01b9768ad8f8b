"""The audit records' patient index, kept behind the appends (hub.audit.patient_index).

On SQLite and PostgreSQL: a patient's extract is the same whether its records are in the
index, in the tail after the index head, or both; the group commit's leader lets the
index catch up once it is far enough behind; tampering with the index (a row deleted to
hide an access from the patient, a row moved to another patient, a head moved back or
forward) is named by verify; migration 12 fills the index from an existing log.
"""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import delete, inspect, select, update

from consent.audit import AccessEntry
from hub.audit import patient_index
from hub.audit.log import AuditLog
from hub.store import migrations
from hub.store.schema import audit_index_head, audit_patient_index, audit_records
from hub.store.sql_store import SqlStore
from tests.audit.test_audit_log import KEY, START, _engine
from tests.audit.test_audit_log import entry as log_entry

PATIENTS = [f"pat-{n}" for n in range(7)]


def entry(number: int, patient: str) -> AccessEntry:
    """test_audit_log's entry (a minute apart from number to number) of `patient`."""
    return log_entry(number, patient=patient)


def index_head(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return patient_index.indexed_upto(conn)


def expected(log: AuditLog, patient: str) -> list[int]:
    """The patient's sequences by a scan of every record's signed content."""
    return [r.sequence for r in log.records() if r.patient_id == patient]


def test_an_extract_is_the_same_from_the_index_the_tail_or_both(store: SqlStore) -> None:
    log = AuditLog(store.engine, KEY)
    chooser = random.Random(18)
    log.append_many(entry(n, chooser.choice(PATIENTS)) for n in range(1, 41))
    assert index_head(store) == 40  # a log's first batch catches up
    log.append_many(entry(n, chooser.choice(PATIENTS)) for n in range(41, 61))
    assert index_head(store) == 40  # 20 behind: left in the tail
    for patient in PATIENTS:
        sequences = [r.sequence for r in log.extract(patient)]
        assert sequences == expected(log, patient)
        assert any(s <= 40 for s in sequences) and any(s > 40 for s in sequences)
    window = [
        r.sequence
        for r in log.extract(
            PATIENTS[0], since=START + timedelta(minutes=30), until=START + timedelta(minutes=50)
        )
    ]
    assert window == [s for s in expected(log, PATIENTS[0]) if 30 <= s < 50]
    assert log.index_patients() == 60
    for patient in PATIENTS:
        assert [r.sequence for r in log.extract(patient)] == expected(log, patient)
    assert log.verify(KEY.public_key()).ok


def test_the_group_commits_leader_catches_up_once_the_index_is_far_behind(
    store: SqlStore,
) -> None:
    every = 25
    log = AuditLog(store.engine, KEY, index_every=every)
    log.append(entry(1, PATIENTS[0]))
    assert index_head(store) == 1
    for number in range(2, every + 1):
        log.append(entry(number, PATIENTS[number % 7]))
    assert index_head(store) == 1  # every - 1 behind
    log.append(entry(every + 1, PATIENTS[1]))
    assert index_head(store) == every + 1
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_patient_index.c.sequence)).scalars().all()
    assert sorted(rows) == list(range(1, every + 2))


def test_concurrent_appenders_and_catch_ups_index_every_record_once(store: SqlStore) -> None:
    """Two logs over one database (two workers) append from eight threads while both let
    the index catch up; each record ends up in the index exactly once."""
    logs = [AuditLog(store.engine, KEY), AuditLog(store.engine, KEY)]

    def work(thread: int) -> None:
        log = logs[thread % 2]
        for n in range(60):
            log.append_many([entry(n, PATIENTS[(thread + n) % 7]) for _ in range(3)])
            if n % 20 == 0:
                log.index_patients()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert logs[0].index_patients() == 8 * 60 * 3
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_patient_index.c.sequence)).scalars().all()
    assert sorted(rows) == list(range(1, 8 * 60 * 3 + 1))
    assert logs[1].verify(KEY.public_key()).ok


def filled(store: SqlStore) -> AuditLog:
    log = AuditLog(store.engine, KEY)
    log.append_many(entry(n, PATIENTS[n % 7]) for n in range(1, 31))
    log.index_patients()
    log.append_many(entry(n, PATIENTS[n % 7]) for n in range(31, 36))
    return log


def first_problem(log: AuditLog) -> tuple[str, int, str]:
    problem = log.verify(KEY.public_key()).first_problem
    assert problem is not None, "the tampering was not detected"
    return problem.kind, problem.sequence, problem.detail


def test_an_index_row_deleted_to_hide_an_access_is_named(store: SqlStore) -> None:
    log = filled(store)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_patient_index).where(audit_patient_index.c.sequence == 12))
    assert 12 not in [r.sequence for r in log.extract(PATIENTS[12 % 7])]
    assert first_problem(log) == ("edited", 12, "record missing from the patient index")


def test_an_index_row_moved_to_another_patient_is_named(store: SqlStore) -> None:
    log = filled(store)
    with store.engine.begin() as conn:
        conn.execute(
            update(audit_patient_index)
            .where(audit_patient_index.c.sequence == 9)
            .values(patient_id=PATIENTS[0])
        )
    # the signed content decides: the other patient's extract never shows it
    assert 9 not in [r.sequence for r in log.extract(PATIENTS[0])]
    assert first_problem(log) == ("edited", 9, "patient index names another patient")


def test_an_index_head_moved_is_named(store: SqlStore) -> None:
    log = filled(store)
    with store.engine.begin() as conn:  # forward: records 31..35 seem indexed, are not
        conn.execute(update(audit_index_head).values(sequence=35))
    assert first_problem(log) == ("edited", 31, "record missing from the patient index")
    with store.engine.begin() as conn:  # back: indexed rows past the head
        conn.execute(update(audit_index_head).values(sequence=20))
    assert first_problem(log) == ("edited", 21, "patient index reaches past its head")


def test_migration_12_indexes_an_existing_log_and_drops_the_old_index(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(database_url)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:11])
            migrations.migrate(engine)
            with engine.begin() as conn:  # the log as hubs before migration 12 wrote it
                conn.exec_driver_sql(
                    "CREATE INDEX ix_audit_patient ON audit_records (patient_id, sequence)"
                )
            old = AuditLog(engine, KEY)
            old.append_many(entry(n, PATIENTS[n % 7]) for n in range(1, 26))
        assert "audit_patient_index" not in inspect(engine).get_table_names()
        assert migrations.migrate(engine) == [12]
        names = {ix["name"] for ix in inspect(engine).get_indexes("audit_records")}
        assert "ix_audit_patient" not in names
        log = AuditLog(engine, KEY)
        with engine.connect() as conn:
            assert patient_index.indexed_upto(conn) == 25
            indexed = conn.execute(select(audit_patient_index.c.sequence)).scalars().all()
            stored = conn.execute(select(audit_records.c.sequence)).scalars().all()
        assert sorted(indexed) == sorted(stored) == list(range(1, 26))
        assert [r.sequence for r in log.extract(PATIENTS[3])] == [3, 10, 17, 24]
        assert log.verify(KEY.public_key()).ok
    finally:
        engine.dispose()


def test_batches_written_on_the_event_loop_leave_the_catch_up_to_a_thread(
    sqlite_store: SqlStore,
) -> None:
    """The in-line path (`append_on_loop` on SQLite) never catches up on the loop; a thread
    does, once the index is `index_every` behind, and every record gets its row."""
    log = AuditLog(sqlite_store.engine, KEY, index_every=5)

    async def append_one_by_one() -> None:
        for number in range(1, 13):
            await log.append_on_loop([entry(number, PATIENTS[number % 7])])

    asyncio.run(append_one_by_one())
    assert log.batches_written == 12
    assert log.batches_in_line > 0  # those that met a catch-up's lock went to the writer
    assert log.index_settled()
    assert index_head(sqlite_store) >= 12 - 4  # never index_every (5) or more behind
    for patient in PATIENTS:
        assert [r.sequence for r in log.extract(patient)] == expected(log, patient)
    assert log.verify(KEY.public_key()).ok
    log.close()


def test_a_deleted_index_head_is_named_and_the_extract_stays_complete(store: SqlStore) -> None:
    """The head row and every index row deleted: verify names it, the extract reads every
    record instead (nothing hidden), and appends go on (the catch-up fails and waits)."""
    log = AuditLog(store.engine, KEY, index_every=5)
    log.append_many(entry(n, PATIENTS[n % 7]) for n in range(1, 31))
    with store.engine.begin() as conn:
        conn.execute(delete(audit_patient_index))
        conn.execute(delete(audit_index_head))
    assert first_problem(log) == ("edited", 0, "patient index head missing")
    for number in range(31, 43):  # past index_every: catch-ups are tried and fail
        log.append(entry(number, PATIENTS[number % 7]))
    for patient in PATIENTS:
        assert [r.sequence for r in log.extract(patient)] == expected(log, patient)
    assert expected(log, PATIENTS[3])[-1] == 38


def test_an_index_head_moved_back_lists_no_record_twice(store: SqlStore) -> None:
    log = filled(store)
    with store.engine.begin() as conn:
        conn.execute(update(audit_index_head).values(sequence=10))
    for patient in PATIENTS:
        assert [r.sequence for r in log.extract(patient)] == expected(log, patient)
