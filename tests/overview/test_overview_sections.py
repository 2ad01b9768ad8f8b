"""$overview against the demo data: every section, with the exact items a reader sees."""

from __future__ import annotations

from datetime import timedelta

from hub.overview import definitions as d
from tests.overview.conftest import DemoHub, entries, ext, parts, pid, residents, section, today

MEDICATION = "10160-0"
PLANS = "18776-5"


def test_the_document_is_a_bundle_with_the_composition_first_and_ips_codes(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0)
    assert bundle["type"] == "document"
    composition = bundle["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["type"]["coding"][0]["code"] == "60591-5"
    assert composition["subject"] == {"reference": f"Patient/{pid(0)}"}
    assert [s["code"]["coding"][0]["code"] for s in composition["section"]] == [
        "18776-5",
        "care-team-contacts",
        "10160-0",
        "104605-1",
        "48765-2",
        "11450-4",
        "timeline",
        "indicators",
        "hidden-information",
    ]
    assert bundle["entry"][1]["resource"]["resourceType"] == "Patient"
    for s in composition["section"]:
        assert s["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
        for ref in s.get("entry", []):
            assert any(e["fullUrl"].endswith("/" + ref["reference"]) for e in bundle["entry"]), ref


def test_the_night_nurse_sees_the_regions_medication_list_and_treatment_limitations(
    demo: DemoHub,
) -> None:
    bundle = demo.overview(demo.nurse, 0)
    medications = entries(bundle, MEDICATION)
    assert sorted(m["medicationCodeableConcept"]["text"] for m in medications) == [
        "Apixaban 2,5 mg tablett",
        "Furosemid 40 mg tablett",
        "Morfin 5 mg/ml injektion vid behov",
    ]
    plans = entries(bundle, PLANS)
    medical = [p for p in plans if p["title"] == "Medicinsk vårdplan, hemsjukvård"]
    assert len(medical) == 1
    narrative = section(bundle, PLANS)["text"]["div"]
    assert "Behandlingsbegränsning: Ej hjärt-lungräddning (HLR) vid hjärtstopp" in narrative
    contacts = section(bundle, "care-team-contacts")["text"]["div"]
    assert "019-21 49 99 (Kvällar, nätter och helger: jourhavande sjuksköterska)" in contacts


def test_every_entry_carries_source_system_care_provider_and_last_update(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0)
    for entry in bundle["entry"][2:]:
        origin = ext(entry, d.ENTRY_ORIGIN)
        assert len(origin) == 1, entry["fullUrl"]
        found = parts(origin[0])
        assert found["sourceSystem"][0].startswith("https://hub.example.se/fhir/sid/source/")
        assert found["careProvider"][0]["value"] in ("SE2321000164-0000", "SE2120002122-0000")
        assert found["lastUpdated"]


def test_plans_show_goals_activities_responsibility_and_follow_up_state(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0)
    narrative = section(bundle, PLANS)["text"]["div"]
    assert (
        "Samordnad individuell plan (SIP): SIP hemsjukvård och hemtjänst (aktiv); "
        "helhetsansvar: Örebro kommun; uppföljning försenad" in narrative
    )
    assert "Insats: Tillsyn nattetid" in narrative or "Insats: Hjälp med morgonrutiner" in narrative
    states = {
        parts(e)["plan"][0]["reference"]: parts(e)["state"][0]["code"]
        for e in ext(section(bundle, PLANS), d.FOLLOW_UP)
        if "plan" in parts(e)
    }
    by_title = {p["title"]: f"CarePlan/{p['id']}" for p in entries(bundle, PLANS)}
    assert states[by_title["SIP hemsjukvård och hemtjänst"]] == "overdue"
    assert states[by_title["Medicinsk vårdplan, hemsjukvård"]] == "ok"


def test_a_medical_care_plan_missing_past_its_deadline_is_flagged(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 1)
    plans = section(bundle, PLANS)
    enrolled = today() - timedelta(days=30)
    deadline = enrolled + timedelta(days=14)
    assert (
        f"Medicinsk vårdplan saknas: den skulle ha upprättats senast {deadline} "
        f"(14 dagar efter inskrivningen {enrolled})."
    ) in plans["text"]["div"]
    states = [parts(e)["state"][0]["code"] for e in ext(plans, d.FOLLOW_UP)]
    assert "medical-care-plan-missing" in states


def test_care_team_lists_roles_the_coordinating_contact_routes_and_listing(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0)
    text = section(bundle, "care-team-contacts")["text"]["div"]
    for line in (
        "Listad vårdcentral: Vårdcentral Tybble",
        "Hemsjukvårdsenhet: Hemsjukvård Väster, Örebro",
        "Rehabenhet: Rehab Väster, Örebro",
        "Fast vårdkontakt, Samordnande vårdkontakt (Hemsjukvård Väster, Örebro)",
        "Anders Berg: Fast läkarkontakt (Vårdcentral Tybble)",
        "Maria Holm: Fast vårdkontakt (Vårdcentral Tybble)",
        "019-602 70 00 (Vardagar 08–17)",
        "1177 (Efter kl. 17: jourläkare via 1177)",
    ):
        assert line in text, line
    assert "Konflikt" not in text


def test_two_coordinating_contacts_are_shown_as_a_conflict(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 3)
    team = section(bundle, "care-team-contacts")
    conflicts = ext(team, d.CONFLICT)
    assert len(conflicts) == 1
    found = parts(conflicts[0])
    assert found["kind"][0]["code"] == "two-coordinating-contacts"
    assert len(found["entry"]) == 2
    assert "Konflikt: Flera samordnande vårdkontakter" in team["text"]["div"]


def test_timeline_shows_upcoming_first_and_never_a_voided_visit(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0)
    encounters = entries(bundle, "timeline")
    reasons = [e["reasonCode"][0]["text"] for e in encounters if e.get("reasonCode")]
    assert "Felregistrerat besök" not in reasons
    assert all(e["status"] != "entered-in-error" for e in encounters)
    statuses = [e["status"] for e in encounters]
    assert statuses[:2] == ["planned", "planned"]
    assert encounters[0]["period"]["start"].startswith(str(today() + timedelta(days=1)))


def test_indicators_before_and_after_enrolment(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0)
    values = {
        (parts(e)["window"][0]["code"], parts(e)["indicator"][0]["code"]): parts(e)["value"][0]
        for e in ext(section(bundle, "indicators"), d.INDICATOR)
    }
    assert values[("before-enrolment", "ed-visits")] == 5
    assert values[("before-enrolment", "admissions")] == 3
    assert values[("before-enrolment", "bed-days")] == 19
    assert values[("before-enrolment", "readmissions-30d")] == 1
    assert values[("after-enrolment", "ed-visits")] == 0
    assert values[("after-enrolment", "admissions")] == 1
    assert values[("after-enrolment", "bed-days")] == 3
    assert values[("after-enrolment", "readmissions-30d")] == 0


def test_diagnoses_allergies_and_alerts(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0)
    assert sorted(c["code"]["text"] for c in entries(bundle, "11450-4")) == [
        "Förmaksflimmer",
        "Hjärtsvikt",
    ]
    assert [a["code"]["text"] for a in entries(bundle, "48765-2")] == ["Penicillin"]
    assert [f["code"]["text"] for f in entries(bundle, "104605-1")] == [
        "Fallrisk: går med rollator, larm på handleden"
    ]


def test_summary_is_the_ips_subset(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0, "$summary")
    composition = bundle["entry"][0]["resource"]
    assert composition["type"]["coding"][0]["code"] == "60591-5"
    assert [s["code"]["coding"][0]["code"] for s in composition["section"]] == [
        "10160-0",
        "48765-2",
        "11450-4",
        "18776-5",
        "104605-1",
    ]
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert "Encounter" not in types


def test_overview_by_personnummer_and_bad_identifiers(demo: DemoHub) -> None:
    number = residents()[0].number
    good = demo.client.get(
        "/fhir/Patient/$overview", params={"identifier": f"{PNR}|{number}"}, headers=demo.nurse
    )
    assert good.status_code == 200
    assert good.json()["entry"][1]["resource"]["id"] == pid(0)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    bad = demo.client.get(
        "/fhir/Patient/$overview", params={"identifier": f"{PNR}|{wrong}"}, headers=demo.nurse
    )
    assert bad.status_code == 400
    assert wrong not in bad.text
    assert bad.json()["issue"][0]["expression"] == ["identifier"]
    unknown = demo.client.get(
        "/fhir/Patient/$overview",
        params={"identifier": f"{PNR}|191212121212"},
        headers=demo.nurse,
    )
    assert unknown.status_code == 404
    kind = demo.client.get(
        "/fhir/Patient/$overview",
        params={"identifier": f"http://electronichealth.se/identifier/samordningsnummer|{number}"},
        headers=demo.nurse,
    )
    assert kind.status_code == 400


def test_overview_needs_a_token_and_refuses_unknown_parameters(demo: DemoHub) -> None:
    assert demo.client.get(f"/fhir/Patient/{pid(0)}/$overview").status_code == 401
    response = demo.client.get(f"/fhir/Patient/{pid(0)}/$overview?foo=1", headers=demo.nurse)
    assert response.status_code == 400
    as_xml = demo.client.get(f"/fhir/Patient/{pid(0)}/$overview?_format=xml", headers=demo.nurse)
    assert as_xml.status_code == 200
    assert as_xml.headers["content-type"].startswith("application/fhir+xml")
    assert as_xml.content.startswith(b"<Bundle")
    assert (
        demo.client.get(
            f"/fhir/Patient/{pid(0)}/$overview?_format=turtle", headers=demo.nurse
        ).status_code
        == 415
    )


def test_every_overview_is_in_the_audit_log(demo: DemoHub) -> None:
    before = len(list(demo.app.state.audit.records(patient_id=pid(0))))
    demo.overview(demo.nurse, 0)
    records = list(demo.app.state.audit.records(patient_id=pid(0)))[before:]
    assert [r.action for r in records] == ["everything"]
    assert records[0].subject == "SE2120002122-P001"
    assert set(records[0].shown_providers) == {"SE2120002122-0000", "SE2321000164-0000"}


def test_capability_statement_lists_the_operations(demo: DemoHub) -> None:
    statement = demo.client.get("/fhir/metadata").json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    operations = {o["name"]: o["definition"] for o in patient["operation"]}
    assert operations["overview"] == d.OVERVIEW_OPERATION
    assert operations["summary"] == d.IPS_SUMMARY_OPERATION
    assert statement["rest"][0]["operation"][0]["definition"] == d.FOLLOW_UP_OPERATION


PNR = "http://electronichealth.se/identifier/personnummer"
