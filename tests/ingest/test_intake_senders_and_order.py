"""Intake fidelity: many senders in one answer, empty answers, late and repeated messages.

An aggregating service's GetCarePlans / GetCareContacts answer holds records of several
source systems and care givers; each record keeps its own sender everywhere (id, meta.source,
security columns, summary). A late message never sets a record back: it is counted as
superseded and the file is kept in the quarantine with the reason.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.ids import resource_id, source_uri
from hub.app import create_app
from hub.auth import SigningKey, generate_signing_key
from hub.ingest import IngestRejected, QuarantineStore, ingest_file
from hub.ingest.intake import SOURCE_TIME_EXTENSION
from hub.settings import Settings
from hub.store.schema import resources
from hub.store.sql_store import SqlStore
from tests.auth_support import MH, RV, RW, M, R, authenticating_settings, bearer
from tests.ingest.conftest import GOLDEN, SECRET, RowCounts
from tests.ingest.rivta_answers import PlanRecord, Sender, care_contacts_answer, care_plans_answer

SYSTEM_A = Sender("SE2321000164-S0A1", R, RV)
SYSTEM_B = Sender("SE2321000164-S0B1", R, RW)
SYSTEM_C = Sender("SE2120002122-S0C1", M, MH)
AGGREGATOR = "SE5565594230-AGG1"

AGGREGATED = [
    PlanRecord("PLAN-1", SYSTEM_A, plan_type="VP"),
    PlanRecord("PLAN-2", SYSTEM_B, plan_type="RP"),
    PlanRecord("PLAN-3", SYSTEM_C, plan_type="GP"),
    # The same documentId in another system is another record.
    PlanRecord("PLAN-1", SYSTEM_C, plan_type="SIP"),
]


def _columns(store: SqlStore, resource_type: str) -> dict[str, tuple[str | None, str | None]]:
    table = resources
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(table.c.res_id, table.c.care_provider, table.c.care_unit).where(
                table.c.res_type == resource_type
            )
        )
        return {row.res_id: (row.care_provider, row.care_unit) for row in rows}


def _content(store: SqlStore, resource_type: str, resource_id_: str) -> dict:
    stored = store.read(resource_type, resource_id_)
    assert stored.content is not None
    return orjson.loads(stored.content)


def test_each_record_of_an_aggregated_answer_keeps_its_own_sender(store: SqlStore):
    summary = ingest_file(
        store, "rivta_careplans", care_plans_answer(AGGREGATED), "agg.xml", secret=SECRET
    )
    assert summary.source_system is None  # three systems sent it
    assert summary.created == summary.resources
    expected = {
        ("PLAN-1", SYSTEM_A),
        ("PLAN-2", SYSTEM_B),
        ("PLAN-3", SYSTEM_C),
        ("PLAN-1", SYSTEM_C),
    }
    columns = _columns(store, "CarePlan")
    assert len(columns) == 4
    for document_id, sender in expected:
        plan_id = resource_id(sender.system, "CarePlan", document_id)
        assert columns[plan_id] == (sender.care_giver, sender.care_unit)
        plan = _content(store, "CarePlan", plan_id)
        assert plan["meta"]["source"] == source_uri(sender.system)
        assert plan["identifier"][0]["system"].endswith(sender.system)
    by_sender = {(s.source_system, s.care_provider, s.care_unit): s for s in summary.sources}
    assert set(by_sender) == {
        (s.system, s.care_giver, s.care_unit) for s in (SYSTEM_A, SYSTEM_B, SYSTEM_C)
    }
    assert by_sender[(SYSTEM_C.system, M, MH)].created == 2
    assert by_sender[(SYSTEM_A.system, R, RV)].created == 1
    assert summary.provenance is not None
    provenance = _content(store, "Provenance", summary.provenance.split("/")[1])
    agents = {agent["who"]["identifier"]["value"] for agent in provenance["agent"]}
    assert agents == {SYSTEM_A.system, SYSTEM_B.system, SYSTEM_C.system}
    # The Patient is named first by system A's record.
    patient_ids = _columns(store, "Patient")
    assert len(patient_ids) == 1
    patient = _content(store, "Patient", next(iter(patient_ids)))
    assert patient["meta"]["source"] == source_uri(SYSTEM_A.system)

    again = ingest_file(
        store, "rivta_careplans", care_plans_answer(AGGREGATED), "agg.xml", secret=SECRET
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, again.resources)
    assert again.provenance == summary.provenance


def test_care_contacts_from_two_systems_in_one_answer(sqlite_store: SqlStore):
    records = [PlanRecord("V-1", SYSTEM_A), PlanRecord("V-1", SYSTEM_C)]
    summary = ingest_file(
        sqlite_store, "rivta_carecontacts", care_contacts_answer(records), "c.xml", secret=SECRET
    )
    columns = _columns(sqlite_store, "Encounter")
    assert columns == {
        resource_id(SYSTEM_A.system, "Encounter", "V-1"): (R, RV),
        resource_id(SYSTEM_C.system, "Encounter", "V-1"): (M, MH),
    }
    assert {s.source_system for s in summary.sources} == {SYSTEM_A.system, SYSTEM_C.system}


def test_an_empty_answer_is_a_success_that_stores_nothing(
    store: SqlStore, row_counts: RowCounts, caplog: pytest.LogCaptureFixture
):
    before = row_counts()
    with caplog.at_level(logging.INFO, logger="hub.ingest"):
        summary = ingest_file(
            store, "rivta_careplans", care_plans_answer([]), "e.xml", secret=SECRET
        )
    assert (summary.resources, summary.created, summary.updated, summary.unchanged) == (0, 0, 0, 0)
    assert (summary.provenance, summary.source_system, summary.sources) == (None, None, [])
    assert row_counts() == before
    lines = [r for r in caplog.records if r.name == "hub.ingest"]
    assert len(lines) == 1 and "resources=0" in lines[0].getMessage()
    golden_empty = (GOLDEN / "rivta_careplans" / "03_empty" / "input.xml").read_bytes()
    contacts = ingest_file(store, "rivta_careplans", golden_empty, "empty.xml", secret=SECRET)
    assert contacts.resources == 0
    assert QuarantineStore(store.engine).count() == 0


def test_an_empty_answer_over_http_answers_200_with_zero_counts(ingest_client: TestClient):
    response = ingest_client.post(
        "/ingest/rivta_carecontacts?filename=e.xml", content=care_contacts_answer([])
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["resources"], body["created"], body["provenance"]) == (0, 0, None)


# --- who may load an aggregated answer ---------------------------------------------------


@pytest.fixture
def authenticated(
    sqlite_store: SqlStore, tmp_path: Path
) -> Iterator[tuple[TestClient, SigningKey]]:
    key = generate_signing_key(tmp_path / "signing.pem", tmp_path / "jwks.json")
    settings = authenticating_settings(
        tmp_path, patient_id_secret=SECRET.decode(), ingest_aggregator_clients=[AGGREGATOR]
    )
    with TestClient(create_app(settings, store=sqlite_store), base_url="http://testserver") as c:
        yield c, key


def test_only_an_aggregator_client_loads_other_providers_records_and_readers_see_their_own(
    authenticated: tuple[TestClient, SigningKey],
    sqlite_store: SqlStore,
    row_counts_sqlite: RowCounts,
):
    client, key = authenticated
    answer = care_plans_answer(AGGREGATED)
    municipal = bearer(key, "SE2120002122-S001", "system/*.*", M, MH)
    refused = client.post(
        "/ingest/rivta_careplans?filename=a.xml", content=answer, headers=municipal
    )
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert _columns(sqlite_store, "CarePlan") == {}

    # A municipal client still loads an answer holding only its own provider's records.
    own = care_plans_answer([PlanRecord("PLAN-9", SYSTEM_C)])
    loaded_own = client.post(
        "/ingest/rivta_careplans?filename=o.xml", content=own, headers=municipal
    )
    assert loaded_own.status_code == 200, loaded_own.text

    aggregator = bearer(key, AGGREGATOR, "system/*.*", "SE5565594230-0000", "SE5565594230-0001")
    loaded = client.post(
        "/ingest/rivta_careplans?filename=a.xml", content=answer, headers=aggregator
    )
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["created"] > 0
    assert len(loaded.json()["sources"]) == 3

    region = bearer(key, "SE2321000164-S001", "system/*.read", R, RW)
    seen = client.get("/fhir/CarePlan", headers=region).json()
    sources = {e["resource"]["meta"]["source"] for e in seen.get("entry", [])}
    assert sources == {source_uri(SYSTEM_A.system), source_uri(SYSTEM_B.system)}
    municipal_read = bearer(key, "SE2120002122-S002", "system/*.read", M, MH)
    seen = client.get("/fhir/CarePlan", headers=municipal_read).json()
    assert {e["resource"]["meta"]["source"] for e in seen.get("entry", [])} == {
        source_uri(SYSTEM_C.system)
    }
    assert len(seen["entry"]) == 3  # PLAN-3, system C's PLAN-1 and its own PLAN-9


@pytest.fixture
def row_counts_sqlite(sqlite_row_counts: RowCounts) -> RowCounts:
    return sqlite_row_counts


def test_the_aggregator_setting_reads_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HUB_INGEST_AGGREGATOR_CLIENTS", "SE1-AGG, SE2-AGG ,")
    assert Settings().ingest_aggregator_clients == ["SE1-AGG", "SE2-AGG"]
    monkeypatch.delenv("HUB_INGEST_AGGREGATOR_CLIENTS")
    assert Settings().ingest_aggregator_clients == []


# --- late and repeated messages -----------------------------------------------------------

ADT = GOLDEN / "hl7v2_adt"


def _adt(case: str) -> bytes:
    return (ADT / case / "input.hl7").read_bytes()


def _encounter(store: SqlStore) -> dict:
    ids = list(_columns(store, "Encounter"))
    assert len(ids) == 1
    return _content(store, "Encounter", ids[0])


def test_an_admission_arriving_after_its_discharge_does_not_reopen_the_visit(
    store: SqlStore, row_counts: RowCounts
):
    discharge = ingest_file(store, "hl7v2_adt", _adt("a03_discharge"), "a03.hl7", secret=SECRET)
    assert discharge.created >= 2
    before = row_counts()
    late = ingest_file(store, "hl7v2_adt", _adt("a01_admission"), "a01.hl7", secret=SECRET)
    assert late.superseded == 2  # the Encounter and its EpisodeOfCare
    assert (late.created, late.updated) == (0, 0)
    encounter = _encounter(store)
    assert encounter["status"] == "finished"
    assert "end" in encounter["period"]
    assert row_counts() == before
    quarantine = QuarantineStore(store.engine)
    entry = quarantine.get(late.superseded_entry or 0, with_raw=True)
    assert (entry.status, entry.error_code, entry.raw) == (
        "superseded",
        "superseded",
        _adt("a01_admission"),
    )
    assert "Encounter/" in entry.error_message
    # The same late message again: still superseded, the same entry, nothing new.
    again = ingest_file(store, "hl7v2_adt", _adt("a01_admission"), "a01.hl7", secret=SECRET)
    assert (again.superseded, again.superseded_entry) == (2, late.superseded_entry)
    assert quarantine.count(status="superseded") == 1
    assert row_counts() == before


def test_messages_are_ordered_by_evn_2_else_msh_7(sqlite_store: SqlStore):
    admission = _adt("a01_admission")
    discharge = _adt("a03_discharge")
    # The discharge's EVN-2 is earlier than the admission's: it is the late one, whatever
    # its MSH-7 says.
    early_discharge = discharge.replace(b"EVN|A03|20250314110500", b"EVN|A03|20250310120000")
    ingest_file(sqlite_store, "hl7v2_adt", admission, "a01.hl7", secret=SECRET)
    late = ingest_file(sqlite_store, "hl7v2_adt", early_discharge, "a03.hl7", secret=SECRET)
    assert late.superseded == 2
    assert _encounter(sqlite_store)["status"] == "in-progress"
    # Without EVN-2, MSH-7 decides: 20250314110500 is after the admission.
    no_evn = discharge.replace(b"EVN|A03|20250314110500", b"EVN|A03|")
    newer = ingest_file(sqlite_store, "hl7v2_adt", no_evn, "a03b.hl7", secret=SECRET)
    assert (newer.superseded, newer.updated) == (0, 2)
    encounter = _encounter(sqlite_store)
    assert encounter["status"] == "finished"
    times = [e for e in encounter["meta"]["extension"] if e["url"] == SOURCE_TIME_EXTENSION]
    assert times == [{"url": SOURCE_TIME_EXTENSION, "valueDateTime": "2025-03-14T11:05:00+01:00"}]


def test_an_update_after_a_later_update_is_superseded(sqlite_store: SqlStore):
    later = _adt("a08_update_with_offset")
    earlier = later.replace(b"20250311090000+0100", b"20250311080000+0100").replace(
        b"20250310140500+0100", b"20250310140000+0100"
    )
    ingest_file(sqlite_store, "hl7v2_adt", later, "late.hl7", secret=SECRET)
    result = ingest_file(sqlite_store, "hl7v2_adt", earlier, "early.hl7", secret=SECRET)
    assert result.superseded == 2
    assert _encounter(sqlite_store)["period"]["start"] == "2025-03-10T14:05:00+01:00"


def _export(date: str, title: str) -> bytes:
    source = zipfile.ZipFile(GOLDEN / "municipal_csv" / "full_export" / "input.zip")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "manifest.csv":
                data = data.replace(b"2025-04-01", date.encode())
            if name == "sip.csv":
                data = data.replace(b"SIP efter utskrivning", title.encode())
            target.writestr(name, data)
    return out.getvalue()


def test_an_older_municipal_export_never_replaces_a_newer_row(sqlite_store: SqlStore):
    first = ingest_file(
        sqlite_store,
        "municipal_csv",
        _export("2025-04-01", "SIP april"),
        "april.zip",
        secret=SECRET,
    )
    plan_id = next(
        pid
        for pid in _columns(sqlite_store, "CarePlan")
        if _content(sqlite_store, "CarePlan", pid).get("title") == "SIP april"
    )
    late = ingest_file(
        sqlite_store, "municipal_csv", _export("2025-03-20", "SIP mars"), "march.zip", secret=SECRET
    )
    assert late.superseded > 0
    assert late.superseded == late.resources - late.unchanged - late.created - late.updated
    assert late.updated == 0  # directory data merges; every record is older
    assert _content(sqlite_store, "CarePlan", plan_id)["title"] == "SIP april"
    assert late.superseded_entry is not None
    newer = ingest_file(
        sqlite_store, "municipal_csv", _export("2025-04-15", "SIP maj"), "may.zip", secret=SECRET
    )
    assert newer.superseded == 0 and newer.updated > 0
    assert _content(sqlite_store, "CarePlan", plan_id)["title"] == "SIP maj"
    # The same export again is a no-op.
    repeat = ingest_file(
        sqlite_store, "municipal_csv", _export("2025-04-15", "SIP maj"), "may.zip", secret=SECRET
    )
    assert repeat.unchanged == repeat.resources == first.resources


def test_an_older_rivta_record_is_superseded_and_a_newer_one_updates(sqlite_store: SqlStore):
    newer = PlanRecord("PLAN-7", SYSTEM_A, author_time="20260310100000", title="Mars")
    older = PlanRecord("PLAN-7", SYSTEM_A, author_time="20260301100000", title="Februari")
    ingest_file(sqlite_store, "rivta_careplans", care_plans_answer([newer]), "n.xml", secret=SECRET)
    late = ingest_file(
        sqlite_store, "rivta_careplans", care_plans_answer([older]), "o.xml", secret=SECRET
    )
    assert late.superseded == 1
    assert [s.superseded for s in late.sources] == [1]
    plan_id = resource_id(SYSTEM_A.system, "CarePlan", "PLAN-7")
    assert _content(sqlite_store, "CarePlan", plan_id)["title"] == "Mars"
    latest = PlanRecord("PLAN-7", SYSTEM_A, author_time="20260320100000", title="April")
    result = ingest_file(
        sqlite_store, "rivta_careplans", care_plans_answer([latest]), "l.xml", secret=SECRET
    )
    assert (result.updated, result.superseded) == (1, 0)
    assert _content(sqlite_store, "CarePlan", plan_id)["title"] == "April"


def test_a_file_with_another_providers_record_is_refused_whole(sqlite_store: SqlStore):
    with pytest.raises(IngestRejected) as caught:
        ingest_file(
            sqlite_store,
            "rivta_careplans",
            care_plans_answer(AGGREGATED),
            "agg.xml",
            secret=SECRET,
            owner=M,
        )
    assert caught.value.status == 403
    assert _columns(sqlite_store, "CarePlan") == {}


def test_an_unknown_role_code_is_a_quarantine_reason_naming_code_and_table(
    sqlite_store: SqlStore,
):
    answer = care_contacts_answer([PlanRecord("V-1", SYSTEM_A, role_code="999999")])
    with pytest.raises(IngestRejected) as caught:
        ingest_file(sqlite_store, "rivta_carecontacts", answer, "c.xml", secret=SECRET)
    assert caught.value.status == 422
    entry = QuarantineStore(sqlite_store.engine).get(caught.value.quarantine_id or 0)
    assert entry.error_code == "unmapped-code"
    assert "'999999'" in entry.error_message
    assert "kv-befattning-participant-role" in entry.error_message
