"""Intake: idempotent loads, new versions, atomic rejection with quarantine, replay, Provenance."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from hub.demo.exports import write_demo_exports
from hub.errors import NotFound
from hub.ingest import IngestRejected, QuarantineStore, ingest_file, replay
from hub.ingest.intake import FILE_HASH_SYSTEM
from hub.store.sql_store import SqlStore
from tests.ingest.conftest import GOLDEN, SECRET, RowCounts

CAREPLAN = GOLDEN / "rivta_careplans" / "01_sip_region_kommun" / "input.xml"
XXE = (
    b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
    b'<GetCarePlansResponse xmlns="urn:riv:clinicalprocess:logistics:logistics:'
    b'GetCarePlansResponder:2">&x;</GetCarePlansResponse>'
)
LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">'.encode() for i in range(1, 10)
    ).replace(b"&lol0;", b"&lol;")
    + b"]>\n<lolz>&lol9;</lolz>"
)


def _json(content: bytes | None) -> dict:
    assert content is not None
    return orjson.loads(content)


def test_loading_the_same_file_twice_changes_nothing(store: SqlStore, row_counts: RowCounts):
    data = CAREPLAN.read_bytes()
    first = ingest_file(store, "rivta_careplans", data, "plans.xml", secret=SECRET)
    assert first.created == first.resources > 0
    assert (first.updated, first.unchanged, first.rejected) == (0, 0, 0)
    before = row_counts()
    second = ingest_file(store, "rivta_careplans", data, "plans.xml", secret=SECRET)
    assert second.unchanged == second.resources == first.resources
    assert (second.created, second.updated) == (0, 0)
    assert second.provenance == first.provenance
    assert row_counts() == before


def test_a_changed_record_becomes_a_new_version(store: SqlStore):
    data = CAREPLAN.read_bytes()
    first = ingest_file(store, "rivta_careplans", data, "plans.xml", secret=SECRET)
    changed = data.replace(b"Samordnad individuell plan (SIP)", b"SIP efter uppfoljning")
    second = ingest_file(store, "rivta_careplans", changed, "plans.xml", secret=SECRET)
    # The title is CarePlan.title and DocumentReference.description; nothing else changes.
    assert (second.created, second.updated) == (0, 2)
    assert second.unchanged == first.resources - 2
    assert second.provenance != first.provenance
    plan_ref = next(
        ref["reference"]
        for ref in _json(store.read("Provenance", second.provenance.split("/")[1]).content)[
            "target"
        ]
        if ref["reference"].startswith("CarePlan/")
    )
    _, plan_id, _, version = plan_ref.split("/")
    assert version == "2"
    plan = _json(store.read("CarePlan", plan_id).content)
    assert plan["title"] == "SIP efter uppfoljning"
    assert _json(store.vread("CarePlan", plan_id, 1).content)["title"].startswith("Samordnad")


def test_provenance_names_source_file_and_every_target(store: SqlStore):
    data = CAREPLAN.read_bytes()
    summary = ingest_file(store, "rivta_careplans", data, "plans.xml", secret=SECRET)
    assert summary.provenance is not None
    provenance = _json(store.read("Provenance", summary.provenance.split("/")[1]).content)
    assert len(provenance["target"]) == summary.resources
    assert all("/_history/" in target["reference"] for target in provenance["target"])
    entity = provenance["entity"][0]["what"]
    assert entity["identifier"] == {"system": FILE_HASH_SYSTEM, "value": summary.sha256}
    assert entity["display"] == "plans.xml"
    assert provenance["agent"][0]["who"]["identifier"]["value"] == "SE2321000016-S001"
    assert provenance["meta"]["source"].endswith("SE2321000016-S001")


def _adt(big: bool = False) -> bytes:
    path = GOLDEN / "hl7v2_adt" / "a01_admission" / "input.hl7"
    data = path.read_bytes()
    return data + (b"\rNTE|1||" + b"x" * 300_000 if big else b"")


def _municipal(case: str) -> bytes:
    return (GOLDEN / "municipal_csv" / case / "input.zip").read_bytes()


REJECTIONS = [
    ("rivta_careplans", XXE, 400, "xml-forbidden-entity", "bad.xml"),
    ("rivta_careplans", LAUGHS, 400, "xml-forbidden-entity", "bad.xml"),
    ("municipal_csv", _municipal("bad_check_digit"), 422, "invalid-identifier", "patienter.csv:3"),
    (
        "rivta_carecontacts",
        (
            GOLDEN / "rivta_carecontacts" / "invalid_unmapped_contact_type" / "input.xml"
        ).read_bytes(),
        422,
        "unmapped-code",
        "/GetCareContactsResponse/careContact/careContactBody/careContactCode/code",
    ),
    ("hl7v2_adt", _adt(big=True), 413, "too-large", "bad.xml"),
]


@pytest.mark.parametrize(
    ("adapter", "data", "status", "code", "location"),
    REJECTIONS,
    ids=["xxe", "billion-laughs", "bad-check-digit", "unmapped-code", "huge-file"],
)
def test_a_rejected_file_stores_nothing_and_is_quarantined(
    sqlite_store: SqlStore,
    sqlite_row_counts: RowCounts,
    adapter: str,
    data: bytes,
    status: int,
    code: str,
    location: str,
):
    ingest_file(sqlite_store, "rivta_careplans", CAREPLAN.read_bytes(), "ok.xml", secret=SECRET)
    before = sqlite_row_counts()
    with pytest.raises(IngestRejected) as caught:
        ingest_file(sqlite_store, adapter, data, "bad.xml", secret=SECRET)
    rejected = caught.value
    assert (rejected.status, rejected.error.code, rejected.error.location) == (
        status,
        code,
        location,
    )
    assert rejected.issues[0].expression == location
    assert "bad.xml" in rejected.issues[0].message
    assert sqlite_row_counts() == before
    entries = QuarantineStore(sqlite_store.engine).entries()
    assert [(e.id, e.adapter, e.error_code, e.error_location) for e in entries] == [
        (rejected.quarantine_id, adapter, code, location)
    ]
    kept = QuarantineStore(sqlite_store.engine).get(entries[0].id, with_raw=True)
    assert kept.raw == data
    assert kept.size == len(data)
    assert kept.status == "quarantined"


def test_rejection_messages_carry_no_personnummer(sqlite_store: SqlStore):
    with pytest.raises(IngestRejected) as caught:
        ingest_file(
            sqlite_store, "municipal_csv", _municipal("bad_check_digit"), "x.zip", secret=SECRET
        )
    entry = QuarantineStore(sqlite_store.engine).get(caught.value.quarantine_id or 0)
    text = " ".join(str(v) for v in entry.as_dict().values()) + caught.value.message
    numbers = _person_numbers(_municipal("bad_check_digit"))
    assert len(numbers) >= 2
    for number in numbers:
        assert number not in text
        assert number[2:] not in text


def _person_numbers(export: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(export)) as archive:
        name = next(n for n in archive.namelist() if n.lower().endswith("patienter.csv"))
        text = archive.read(name).decode("utf-8-sig", "replace")
    return {
        match.replace("-", "").replace("+", "") for match in re.findall(r"\d{6,8}[-+]?\d{4}", text)
    }


def test_the_whole_file_is_rejected_when_its_last_record_is_bad(
    sqlite_store: SqlStore, sqlite_row_counts: RowCounts
):
    data = CAREPLAN.read_bytes()
    # Two plans: the first valid, the second with an unknown identifier type.
    plan = data[data.index(b"<carePlan>") : data.index(b"</carePlan>") + len(b"</carePlan>")]
    bad_plan = plan.replace(b"SIP-EXB-2026-0042", b"SIP-2").replace(
        b"<core:type>1.2.752.129.2.1.3.1</core:type>", b"<core:type>1.2.3.4</core:type>"
    )
    second = data.replace(plan, plan + b"\n  " + bad_plan)
    before = sqlite_row_counts()
    with pytest.raises(IngestRejected) as caught:
        ingest_file(sqlite_store, "rivta_careplans", second, "two.xml", secret=SECRET)
    assert (
        caught.value.error.location
        == "/GetCarePlansResponse/carePlan[2]/carePlanHeader/patientId/type"
    )
    assert sqlite_row_counts() == before


def test_replay_after_a_mapping_fix_stores_the_file(
    tmp_path: Path, sqlite_store: SqlStore, register_ward: Callable[[], None]
):
    exports = write_demo_exports(tmp_path, 8, seed=3)
    adt = next(path for adapter, path in exports if adapter == "hl7v2_adt")
    data = adt.read_bytes()
    quarantine = QuarantineStore(sqlite_store.engine)
    with pytest.raises(IngestRejected) as caught:
        ingest_file(sqlite_store, "hl7v2_adt", data, adt.name, secret=SECRET)
    if caught.value.error.code != "unmapped-code":
        pytest.fail(f"expected unmapped-code, got {caught.value.error.code}")
    entry_id = caught.value.quarantine_id
    assert entry_id is not None
    assert caught.value.error.location == "MSH-4"

    with pytest.raises(IngestRejected):  # still unmapped: stays quarantined
        replay(sqlite_store, entry_id, secret=SECRET)
    assert quarantine.get(entry_id).status == "quarantined"
    assert quarantine.get(entry_id).attempts == 2

    register_ward()
    summary = replay(sqlite_store, entry_id, secret=SECRET)
    assert summary.created == summary.resources == 3  # Patient, Encounter, EpisodeOfCare
    entry = quarantine.get(entry_id)
    assert (entry.status, entry.attempts) == ("replayed", 3)
    assert entry.replayed_at is not None
    assert quarantine.entries(status="quarantined") == []
    assert [e.id for e in quarantine.entries(status="replayed")] == [entry_id]


def test_replay_after_a_transient_store_failure(
    sqlite_store: SqlStore, monkeypatch: pytest.MonkeyPatch, sqlite_row_counts: RowCounts
):
    from hub.errors import StoreUnavailable
    from hub.store.sql_store import UnitOfWork

    original = UnitOfWork.update

    def failing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise StoreUnavailable("The database is unavailable or busy; retry")

    monkeypatch.setattr(UnitOfWork, "update", failing)
    with pytest.raises(IngestRejected) as caught:
        ingest_file(sqlite_store, "rivta_careplans", CAREPLAN.read_bytes(), "p.xml", secret=SECRET)
    assert caught.value.status == 503
    assert sqlite_row_counts() == (0, 0)
    monkeypatch.setattr(UnitOfWork, "update", original)
    summary = replay(sqlite_store, caught.value.quarantine_id or 0, secret=SECRET)
    assert summary.created == summary.resources == 8


def test_an_empty_answer_needs_no_source_system(sqlite_store: SqlStore):
    empty = (GOLDEN / "rivta_careplans" / "03_empty" / "input.xml").read_bytes()
    summary = ingest_file(sqlite_store, "rivta_careplans", empty, "empty.xml", secret=SECRET)
    assert (summary.resources, summary.provenance, summary.source_system) == (0, None, None)
    summary = ingest_file(
        sqlite_store, "rivta_careplans", empty, "empty.xml", secret=SECRET, source_system="SE1"
    )
    assert (summary.resources, summary.provenance, summary.source_system) == (0, None, "SE1")


def test_unknown_adapter_and_unknown_entry(sqlite_store: SqlStore):
    with pytest.raises(NotFound):
        ingest_file(sqlite_store, "nope", b"x", "x", secret=SECRET)
    with pytest.raises(NotFound):
        replay(sqlite_store, 999, secret=SECRET)
