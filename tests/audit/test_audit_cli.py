"""``hub audit``: verify, extract and follow-up over a real database (SQLite, PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from consent.audit import AccessEntry
from hub.audit.cli import app
from hub.audit.log import AuditLog, load_or_create_audit_key
from hub.store.schema import audit_records
from hub.store.sql_store import SqlStore

DAY = datetime(2025, 6, 2, 6, 0, tzinfo=UTC)  # 08:00 in Stockholm
runner = CliRunner()


def entry(number: int, patient: str, *, subject: str = "SE2321000164-P001") -> AccessEntry:
    return AccessEntry(
        timestamp=DAY + timedelta(minutes=number),
        request_id=f"req-{number}",
        action="search",
        subject=subject,
        principal_kind="user",
        care_unit="SE2321000164-7381",
        care_provider="SE2321000164-0000",
        role="201011",
        patient_id=patient,
        shown_providers=("SE2321000164-0000", "SE2120002122-0000"),
        hidden_providers=(),
        decision="permit",
        reason="own-provider,consent",
        emergency=number == 3,
    )


@pytest.fixture
def log(
    store: SqlStore, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AuditLog:
    key_path = tmp_path / "keys" / "audit.pem"
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_AUDIT_KEY_PATH", str(key_path))
    monkeypatch.setenv("HUB_AUDIT_CHECKPOINT_INTERVAL", "5")
    monkeypatch.setenv("HUB_BASE_URL", "https://hub.example.se/fhir")
    audit = AuditLog(store.engine, load_or_create_audit_key(key_path), checkpoint_interval=5)
    audit.append_many(entry(n, "pat-a" if n % 2 else "pat-b") for n in range(1, 13))
    return audit


def test_verify_reports_an_intact_chain(log: AuditLog) -> None:
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 0, result.output
    assert "chain intact: 12 records, 2 checkpoints" in result.output


def test_verify_names_the_first_problem_of_a_tampered_log(log: AuditLog, store: SqlStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(delete(audit_records).where(audit_records.c.sequence == 4))
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    assert "chain broken at sequence 4: deleted" in result.output


def test_verify_needs_the_key_file_and_extract_does_not(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.pem"
    monkeypatch.setenv("HUB_AUDIT_KEY_PATH", str(missing))
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 2
    assert "audit key not found" in result.output
    assert not missing.exists()
    assert runner.invoke(app, ["extract", "--patient", "pat-a"]).exit_code == 0
    assert not missing.exists()


def test_extract_as_fhir_holds_only_the_patients_audit_events(log: AuditLog) -> None:
    result = runner.invoke(app, ["extract", "--patient", "pat-a"])
    assert result.exit_code == 0, result.output
    bundle = orjson.loads(result.stdout)
    events = [item["resource"] for item in bundle["entry"]]
    assert len(events) == 6
    assert {e["entity"][0]["what"]["reference"] for e in events} == {"Patient/pat-a"}
    assert bundle["entry"][0]["fullUrl"] == "https://hub.example.se/fhir/AuditEvent/audit-1"
    purposes = [e["purposeOfEvent"][0]["coding"][0]["code"] for e in events]
    assert purposes.count("ETREAT") == 1


def test_extract_as_csv_to_a_file(log: AuditLog, tmp_path: Path) -> None:
    target = tmp_path / "out" / "extract.csv"
    result = runner.invoke(
        app, ["extract", "--patient", "pat-b", "--format", "csv", "--output", str(target)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(target.read_text("utf-8-sig"))))
    assert len(rows) == 6
    assert {row["employee"] for row in rows} == {"SE2321000164-P001"}
    assert {row["emergency"] for row in rows} == {"no"}
    assert rows[0]["time"].startswith("2025-06-02T08:02")


def test_follow_up_lists_emergency_access_and_unusual_volume(log: AuditLog) -> None:
    result = runner.invoke(app, ["follow-up", "--date", "2025-06-02", "--threshold", "1"])
    assert result.exit_code == 0, result.output
    assert "12 accesses" in result.output
    assert "Emergency accesses: 1" in result.output
    assert "#3 " in result.output
    assert "SE2321000164-P001 unit=SE2321000164-7381: 2 patients, 12 accesses" in result.output
    other_day = runner.invoke(app, ["follow-up", "--date", "2025-06-03"])
    assert "0 accesses" in other_day.output


def test_follow_up_rejects_a_malformed_date(log: AuditLog) -> None:
    result = runner.invoke(app, ["follow-up", "--date", "2 June"])
    assert result.exit_code == 2
