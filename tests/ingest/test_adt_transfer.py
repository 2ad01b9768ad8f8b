"""HL7 v2 ADT A02 (transfer) through intake: the Encounter's location moves, late ones never.

On each database: an A02 after the admission moves the patient (the prior location
completed at the transfer time, the new one active from it); an A02 older than a stored
A02, or older than the stored A03, is superseded and kept in the quarantine with its
reason, and the Encounter keeps its latest state.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import select

from hub.ingest import IngestRejected, QuarantineStore, ingest_file
from hub.store.schema import resources
from hub.store.sql_store import SqlStore
from tests.ingest.conftest import GOLDEN, SECRET, RowCounts

ADT = GOLDEN / "hl7v2_adt"
LOCATION_SYSTEM = "https://hub.example.se/fhir/sid/hl7v2-location/"


def _adt(case: str) -> bytes:
    return (ADT / case / "input.hl7").read_bytes()


def _transfer(evn2: str, evn6: str, to_ward: str) -> bytes:
    """The golden A02 with other event times and another new ward (PV1-3.1)."""
    return (
        _adt("a02_transfer")
        .replace(b"EVN|A02|20250311093000||||20250311091500", f"EVN|A02|{evn2}||||{evn6}".encode())
        .replace(b"|KIR2^12^3^", f"|{to_ward}^12^3^".encode())
    )


def _encounter(store: SqlStore) -> dict:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(resources.c.res_id).where(resources.c.res_type == "Encounter")
        ).all()
    assert len(rows) == 1
    stored = store.read("Encounter", rows[0][0])
    assert stored.content is not None
    return orjson.loads(stored.content)


def _wards(encounter: dict) -> list[tuple[str, str]]:
    return [
        (item["location"]["identifier"]["value"], item["status"])
        for item in encounter.get("location", [])
    ]


def test_a_transfer_after_the_admission_moves_the_patient(store: SqlStore):
    ingest_file(store, "hl7v2_adt", _adt("a01_admission"), "a01.hl7", secret=SECRET)
    assert _wards(_encounter(store)) == [("MED1", "active")]
    moved = ingest_file(store, "hl7v2_adt", _adt("a02_transfer"), "a02.hl7", secret=SECRET)
    assert (moved.updated, moved.superseded) == (2, 0)
    encounter = _encounter(store)
    assert encounter["status"] == "in-progress"
    assert _wards(encounter) == [("MED1", "completed"), ("KIR2^12^3", "active")]
    prior, current = encounter["location"]
    assert prior["period"] == {"end": "2025-03-11T09:15:00+01:00"}  # EVN-6
    assert current["period"] == {"start": "2025-03-11T09:15:00+01:00"}
    assert prior["location"]["identifier"]["system"] == LOCATION_SYSTEM + "SE2321000001-1003"
    assert current["location"]["identifier"]["system"] == LOCATION_SYSTEM + "SE2321000001-1004"
    assert encounter["period"] == {"start": "2025-03-10T14:05:00+01:00"}


def test_an_a02_after_a_later_a02_is_superseded_and_kept(store: SqlStore, row_counts: RowCounts):
    later = _transfer("20250312100000", "20250312095500", "IVA1")
    earlier = _transfer("20250311093000", "20250311091500", "KIR2")
    ingest_file(store, "hl7v2_adt", _adt("a01_admission"), "a01.hl7", secret=SECRET)
    ingest_file(store, "hl7v2_adt", later, "a02-later.hl7", secret=SECRET)
    before = row_counts()
    late = ingest_file(store, "hl7v2_adt", earlier, "a02-earlier.hl7", secret=SECRET)
    assert (late.superseded, late.created, late.updated) == (2, 0, 0)
    assert row_counts() == before
    encounter = _encounter(store)
    assert _wards(encounter) == [("MED1", "completed"), ("IVA1^12^3", "active")]
    assert encounter["location"][1]["period"] == {"start": "2025-03-12T09:55:00+01:00"}
    entry = QuarantineStore(store.engine).get(late.superseded_entry or 0, with_raw=True)
    assert (entry.status, entry.error_code, entry.raw) == ("superseded", "superseded", earlier)
    assert "Encounter/" in entry.error_message
    assert "older than the stored state" in entry.error_message


def test_an_a02_arriving_after_the_discharge_never_reopens_the_visit(
    store: SqlStore, row_counts: RowCounts
):
    ingest_file(store, "hl7v2_adt", _adt("a03_discharge"), "a03.hl7", secret=SECRET)
    discharged = _encounter(store)
    assert _wards(discharged) == [("MED1", "completed")]
    before = row_counts()
    late = ingest_file(store, "hl7v2_adt", _adt("a02_transfer"), "a02.hl7", secret=SECRET)
    assert late.superseded == 2
    assert row_counts() == before
    encounter = _encounter(store)
    assert encounter["status"] == "finished"
    assert encounter["period"]["end"] == "2025-03-14T11:00:00+01:00"
    assert _wards(encounter) == [("MED1", "completed")]
    assert QuarantineStore(store.engine).get(late.superseded_entry or 0).status == "superseded"


def test_an_unknown_event_is_quarantined_naming_code_and_table(
    store: SqlStore, row_counts: RowCounts
):
    pre_admit = _adt("a01_admission").replace(b"ADT^A01^ADT_A01", b"ADT^A05^ADT_A05")
    try:
        ingest_file(store, "hl7v2_adt", pre_admit, "a05.hl7", secret=SECRET)
    except IngestRejected as rejected:
        assert rejected.status == 422
        assert rejected.error.code == "unmapped-code"
        assert rejected.error.location == "MSH-9.2"
        assert "'A05'" in rejected.error.message
        assert "hl7v2-adt-event" in rejected.error.message
        entry = QuarantineStore(store.engine).get(rejected.quarantine_id or 0)
        assert (entry.status, entry.error_code) == ("quarantined", "unmapped-code")
    else:
        raise AssertionError("an A05 must be rejected")
    assert row_counts() == (0, 0)


def test_transfer_time_falls_back_to_the_event_time(tmp_path: Path, sqlite_store: SqlStore):
    without_evn6 = _adt("a02_transfer").replace(b"||||20250311091500", b"")
    ingest_file(sqlite_store, "hl7v2_adt", without_evn6, "a02.hl7", secret=SECRET)
    current = _encounter(sqlite_store)["location"][1]
    assert current["period"] == {"start": "2025-03-11T09:30:00+01:00"}  # EVN-2
