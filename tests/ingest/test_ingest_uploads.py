"""Uploads that explain: multipart files, the wrong adapter named, quarantine repeats,
purge and the forced replay of a file an access rule refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from hub.ingest import IngestRejected, QuarantineStore, ingest_file, replay
from hub.ingest.cli import app
from hub.ingest.detect import fitting_adapter
from hub.ingest.quarantine import ReplayNeedsForce, quarantine_table
from hub.store import open_store
from hub.store.sql_store import SqlStore
from tests.ingest.conftest import GOLDEN, SECRET, RowCounts

CAREPLAN = GOLDEN / "rivta_careplans" / "01_sip_region_kommun" / "input.xml"
SOAP_CAREPLAN = GOLDEN / "rivta_careplans" / "soap_envelope_jaxb_prefixes" / "input.xml"
CARECONTACT = GOLDEN / "rivta_carecontacts" / "01_hembesok_hemsjukvard" / "input.xml"
ADT = GOLDEN / "hl7v2_adt" / "a01_admission" / "input.hl7"
MUNICIPAL = GOLDEN / "municipal_csv" / "full_export" / "input.zip"
BAD_MUNICIPAL = GOLDEN / "municipal_csv" / "bad_check_digit" / "input.zip"
PERSON_NUMBER = re.compile(r"(19|20)\d{10}")


# --- multipart -------------------------------------------------------------------------


def test_a_multipart_upload_loads_each_file_on_its_own(
    any_ingest_client: TestClient, store: SqlStore
):
    response = any_ingest_client.post(
        "/ingest/municipal_csv",
        files=[
            ("file", ("good.zip", MUNICIPAL.read_bytes(), "application/zip")),
            ("file", ("bad.zip", BAD_MUNICIPAL.read_bytes(), "application/zip")),
        ],
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["stored"], body["rejected"]) == (1, 1)
    good, bad = body["files"]
    assert (good["file"], good["status"]) == ("good.zip", 200)
    assert good["created"] > 0
    assert (bad["file"], bad["status"]) == ("bad.zip", 422)
    assert bad["outcome"]["resourceType"] == "OperationOutcome"
    assert "bad.zip" in bad["outcome"]["issue"][0]["diagnostics"]
    entries = QuarantineStore(store.engine).entries()
    assert [(e.filename, e.status) for e in entries] == [("bad.zip", "quarantined")]
    # the good file alone again: nothing new, the same summary shape as a raw upload
    again = any_ingest_client.post(
        "/ingest/municipal_csv", files={"file": ("good.zip", MUNICIPAL.read_bytes())}
    ).json()
    assert (again["stored"], again["files"][0]["created"]) == (1, 0)


def test_a_multipart_body_without_a_file_part_answers_400(
    ingest_client: TestClient, sqlite_row_counts: RowCounts
):
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="source_system"\r\n\r\n'
        b"SE2120002122-S001\r\n"
        b"--b0undary--\r\n"
    )
    response = ingest_client.post(
        "/ingest/municipal_csv",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "no file part" in outcome["issue"][0]["diagnostics"]
    assert sqlite_row_counts() == (0, 0)


def test_a_raw_upload_still_answers_the_plain_summary(ingest_client: TestClient):
    response = ingest_client.post(
        "/ingest/hl7v2_adt?filename=a01.hl7",
        content=ADT.read_bytes(),
        headers={"Content-Type": "application/hl7-v2"},
    )
    assert response.status_code == 200
    assert response.json()["file"] == "a01.hl7"


# --- the wrong adapter -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fits"),
    [
        (CAREPLAN, "rivta_careplans"),
        (SOAP_CAREPLAN, "rivta_careplans"),
        (CARECONTACT, "rivta_carecontacts"),
        (ADT, "hl7v2_adt"),
        (MUNICIPAL, "municipal_csv"),
    ],
)
def test_each_format_is_recognised(path: Path, fits: str):
    assert fitting_adapter(path.read_bytes()) == fits


def test_a_single_municipal_csv_file_is_recognised_and_other_text_is_not():
    assert fitting_adapter(b"personnummer;fornamn;efternamn;kon\n191212121212;T;T;M\n") == (
        "municipal_csv"
    )
    assert fitting_adapter(b"personnummer;shoe_size\n") is None
    assert fitting_adapter(b"<html><body>GetCarePlansResponse</body></html>") is None
    assert fitting_adapter(b"PK\x03\x04 not a zip") is None
    assert fitting_adapter(b"") is None


@pytest.mark.parametrize(
    ("adapter", "path", "fits"),
    [
        ("rivta_careplans", ADT, "hl7v2_adt"),
        ("rivta_careplans", CARECONTACT, "rivta_carecontacts"),
        ("hl7v2_adt", MUNICIPAL, "municipal_csv"),
        ("municipal_csv", CAREPLAN, "rivta_careplans"),
    ],
)
def test_a_file_sent_to_the_wrong_adapter_names_the_one_that_fits(
    ingest_client: TestClient,
    sqlite_store: SqlStore,
    sqlite_row_counts: RowCounts,
    adapter: str,
    path: Path,
    fits: str,
):
    response = ingest_client.post(f"/ingest/{adapter}?filename=x", content=path.read_bytes())
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["code"] == "not-supported"
    assert f"adapter {fits}" in issue["diagnostics"]
    assert f"/ingest/{fits}" in issue["diagnostics"]
    assert not PERSON_NUMBER.search(response.text)
    assert "Tolvan" not in response.text
    assert sqlite_row_counts() == (0, 0)
    assert QuarantineStore(sqlite_store.engine).count() == 0  # nothing of it kept


def test_the_cli_names_the_fitting_adapter_and_counts_the_file_rejected(tmp_path: Path):
    env = {
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "HUB_PATIENT_ID_SECRET": SECRET.decode(),
    }
    result = CliRunner().invoke(app, ["--adapter", "rivta_careplans", str(ADT)], env=env)
    assert result.exit_code == 1
    assert "adapter hl7v2_adt" in result.output
    assert "rejected=1" in result.output


# --- the quarantine: repeats, purge ------------------------------------------------------


def test_the_same_rejected_bytes_are_one_entry_counting_repeats(store: SqlStore):
    data = BAD_MUNICIPAL.read_bytes()
    ids = []
    for name in ("first.zip", "second.zip", "third.zip"):
        with pytest.raises(IngestRejected) as rejected:
            ingest_file(store, "municipal_csv", data, name, secret=SECRET)
        ids.append(rejected.value.quarantine_id)
    assert len(set(ids)) == 1
    quarantine = QuarantineStore(store.engine)
    assert quarantine.count() == 1
    entry = quarantine.get(ids[0])
    assert (entry.attempts, entry.filename) == (3, "first.zip")
    # other bytes are another entry
    with pytest.raises(IngestRejected) as other:
        ingest_file(store, "municipal_csv", data + b"\0", "other.zip", secret=SECRET)
    assert other.value.quarantine_id != ids[0]
    assert quarantine.count() == 2


def _received(store: SqlStore, entry_id: int, moment: datetime) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            update(quarantine_table)
            .where(quarantine_table.c.id == entry_id)
            .values(received_at=int(moment.timestamp() * 1_000_000))
        )


def _cli_env(url: str) -> dict[str, str]:
    return {"HUB_DATABASE_URL": url, "HUB_PATIENT_ID_SECRET": SECRET.decode()}


def test_purge_deletes_the_entries_received_before_the_date(
    database_url: str, caplog: pytest.LogCaptureFixture
):
    store = open_store(database_url)
    try:
        ids = []
        for suffix in (b"\0", b"\0\0", b"\0\0\0"):
            with pytest.raises(IngestRejected) as rejected:
                ingest_file(
                    store,
                    "municipal_csv",
                    BAD_MUNICIPAL.read_bytes() + suffix,
                    "k.zip",
                    secret=SECRET,
                )
            ids.append(rejected.value.quarantine_id or 0)
        _received(store, ids[0], datetime(2024, 12, 31, 12, tzinfo=UTC))
        _received(store, ids[1], datetime(2025, 1, 1, 0, 30, tzinfo=UTC))  # 01:30 in Sweden
        runner = CliRunner()
        with caplog.at_level("WARNING", logger="hub.ingest"):
            result = runner.invoke(
                app,
                ["quarantine", "purge", "--before", "2025-01-01"],
                env=_cli_env(database_url),
            )
        assert result.exit_code == 0, result.output
        assert "purged 1 quarantine entry received before 2025-01-01T00:00:00+01:00" in (
            result.output
        )
        remaining = [entry.id for entry in QuarantineStore(store.engine).entries()]
        assert sorted(remaining) == sorted(ids[1:])
        logged = [r.getMessage() for r in caplog.records if "purge" in r.getMessage()]
        assert logged == [
            "quarantine purge: 1 entry received before 2025-01-01T00:00:00+01:00 deleted"
        ]
        bad = runner.invoke(
            app, ["quarantine", "purge", "--before", "yesterday"], env=_cli_env(database_url)
        )
        assert bad.exit_code != 0
        assert "YYYY-MM-DD" in bad.output
        assert QuarantineStore(store.engine).count() == 2
    finally:
        store.close()


# --- replaying what an access rule refused ---------------------------------------------------


def test_replaying_a_forbidden_entry_needs_force_and_says_why(database_url: str):
    store = open_store(database_url)
    try:
        data = CAREPLAN.read_bytes()
        with pytest.raises(IngestRejected) as refused:
            ingest_file(
                store,
                "rivta_careplans",
                data,
                "plans.xml",
                secret=SECRET,
                owner="SE2120009999-0000",
            )
        entry_id = refused.value.quarantine_id or 0
        assert refused.value.status == 403
        with pytest.raises(ReplayNeedsForce) as asked:
            replay(store, entry_id, secret=SECRET)
        assert "forbidden" in asked.value.message
        runner = CliRunner()
        env = _cli_env(database_url)
        unforced = runner.invoke(app, ["quarantine", "replay", str(entry_id)], env=env)
        assert unforced.exit_code == 1
        assert "error code forbidden" in unforced.output
        assert "--force" in unforced.output
        assert QuarantineStore(store.engine).get(entry_id).status == "quarantined"
        forced = runner.invoke(app, ["quarantine", "replay", str(entry_id), "--force"], env=env)
        assert forced.exit_code == 0, forced.output
        assert "created=8" in forced.output
        assert QuarantineStore(store.engine).get(entry_id).status == "replayed"
    finally:
        store.close()


def test_a_replay_of_an_entry_refused_for_other_reasons_needs_no_force(sqlite_store: SqlStore):
    with pytest.raises(IngestRejected) as rejected:
        ingest_file(
            sqlite_store, "municipal_csv", BAD_MUNICIPAL.read_bytes(), "k.zip", secret=SECRET
        )
    with pytest.raises(IngestRejected):  # the same error again, not ReplayNeedsForce
        replay(sqlite_store, rejected.value.quarantine_id or 0, secret=SECRET)
