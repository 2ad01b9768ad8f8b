"""The same bytes quarantined at the same moment are one entry, its attempts counted: a
unique index over adapter, content hash and status, and an upsert, on both databases."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from hub.ingest.cli import app
from hub.ingest.quarantine import QuarantineError, QuarantineStore, quarantine_table
from hub.store.migrations import migrate
from hub.store.schema import QUARANTINE_CONTENT_INDEX, schema_migrations
from hub.store.sql_store import SqlStore
from tests.ingest.conftest import SECRET

RAW = b"MSH|^~\\&|not a known sender\r"
DIGEST = hashlib.sha256(RAW).hexdigest()
ERROR = QuarantineError(400, "unmapped-code", "MSH-4", "The sending facility is not mapped")
THREADS = 8


def _add(quarantine: QuarantineStore, status: str = "quarantined") -> int:
    return quarantine.add(
        adapter="hl7v2_adt",
        filename="same.hl7",
        source_system=None,
        sha256=DIGEST,
        raw=RAW,
        error=ERROR,
        status=status,  # type: ignore[arg-type]
    )


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "adapter": "hl7v2_adt",
        "filename": "same.hl7",
        "received_at": 1,
        "sha256": DIGEST,
        "size": len(RAW),
        "http_status": 400,
        "error_code": "unmapped-code",
        "error_message": "The sending facility is not mapped",
        "raw": RAW,
        "status": "quarantined",
        "attempts": 1,
    }
    return row | changes


def test_uploads_of_the_same_bytes_at_once_make_one_entry(store: SqlStore) -> None:
    quarantine = QuarantineStore(store.engine)
    start = threading.Barrier(THREADS)
    ids: list[int] = []
    failures: list[BaseException] = []

    def upload() -> None:
        start.wait()
        try:
            ids.append(_add(quarantine))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=upload) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert len(set(ids)) == 1
    assert quarantine.count(status="quarantined") == 1
    assert quarantine.get(ids[0]).attempts == THREADS


def test_superseded_bytes_kept_at_once_are_one_entry_not_counted(store: SqlStore) -> None:
    quarantine = QuarantineStore(store.engine)
    first = _add(quarantine, "superseded")
    assert _add(quarantine, "superseded") == first
    assert quarantine.get(first).attempts == 1
    assert _add(quarantine) != first  # a rejection of the same bytes is its own entry


def test_the_database_refuses_a_second_entry_of_the_same_bytes(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(quarantine_table).values(**_row()))
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(quarantine_table).values(**_row(filename="again.hl7")))
    with store.engine.begin() as conn:  # a replayed entry may repeat
        conn.execute(insert(quarantine_table).values(**_row(status="replayed")))
        conn.execute(insert(quarantine_table).values(**_row(status="replayed")))


def test_migration_11_merges_earlier_duplicates_into_the_oldest(store: SqlStore) -> None:
    engine = store.engine
    with engine.begin() as conn:
        conn.execute(text(f"DROP INDEX {QUARANTINE_CONTENT_INDEX.name}"))
        conn.execute(delete(schema_migrations).where(schema_migrations.c.version == 11))
        for attempts in (2, 1, 3):
            conn.execute(insert(quarantine_table).values(**_row(attempts=attempts)))
        conn.execute(insert(quarantine_table).values(**_row(status="replayed")))
        conn.execute(insert(quarantine_table).values(**_row(adapter="municipal_csv")))
    assert migrate(engine) == [11]
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                quarantine_table.c.id,
                quarantine_table.c.adapter,
                quarantine_table.c.status,
                quarantine_table.c.attempts,
            ).order_by(quarantine_table.c.id)
        ).all()
    assert [(r.adapter, r.status, r.attempts) for r in rows] == [
        ("hl7v2_adt", "quarantined", 6),
        ("hl7v2_adt", "replayed", 1),
        ("municipal_csv", "quarantined", 1),
    ]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(quarantine_table).values(**_row()))


def test_quarantine_list_shows_the_attempts(tmp_path: Path) -> None:
    env = {
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "HUB_PATIENT_ID_SECRET": SECRET.decode(),
    }
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"not,a\nmunicipal,export\n")
    runner = CliRunner()
    for _ in range(3):
        assert runner.invoke(app, ["--adapter", "municipal_csv", str(bad)], env=env).exit_code == 1
    listing = runner.invoke(app, ["quarantine", "list"], env=env)
    assert listing.exit_code == 0, listing.output
    header = next(line for line in listing.output.splitlines() if "attempts" in line)
    row = next(line for line in listing.output.splitlines() if "bad.csv" in line)
    names = [cell.strip() for cell in header.split("┃")]
    cells = [cell.strip() for cell in row.split("│")]
    assert cells[names.index("attempts")] == "3"
