"""Identifier search with a personnummer or samordningsnummer as people write it: dashed,
ten digits with their separator, `+` past 100 years, urn:oid systems, or no system at all;
a failing check digit, or ten digits whose century is open, gets a warning. The same holds
for every token parameter under a person-number system wherever it stands: in a chain, in
`_has`, behind `:identifier`; and for $overview?identifier=."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from swedish_data import (
    PNR_SYSTEM,
    TOLVAN,
    care_plan,
    create,
    encounter,
    match_ids,
    patient,
    personnummer,
    search,
    wrong_check_digit,
)

from hub.search.person_numbers import canonical_person_number

SAM_SYSTEM = "http://electronichealth.se/identifier/samordningsnummer"
PNR_OID = "urn:oid:1.2.752.129.2.1.3.1"
SAM_OID = "urn:oid:1.2.752.129.2.1.3.3"
ASA = personnummer("19800115", "002")
SAMORDNING = "191212721219"  # DOMAIN.md section 6: born 12 Dec 1912, day + 60


def _patients(client: TestClient) -> dict[str, str]:
    tolvan = create(client, patient(TOLVAN))["id"]
    asa = create(client, patient(ASA, family="Andersson", given="Åsa", birth_date="1980-01-15"))
    sam = patient(SAMORDNING, family="Samordnad", given="Sam")
    sam["identifier"] = [{"system": SAM_SYSTEM, "value": SAMORDNING}]
    return {"tolvan": tolvan, "asa": asa["id"], "sam": create(client, sam)["id"]}


def _outcome_entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in bundle.get("entry", []) if e["search"]["mode"] == "outcome"]


def test_written_forms_find_the_patient_on_both_databases(any_client: TestClient) -> None:
    who = _patients(any_client)
    forms = {
        f"{PNR_SYSTEM}|{ASA[:8]}-{ASA[8:]}": "asa",  # YYYYMMDD-NNNC
        f"{PNR_SYSTEM}|{ASA[2:8]}-{ASA[8:]}": "asa",  # YYMMDD-NNNC
        f"{PNR_SYSTEM}|121212+1212": "tolvan",  # + : aged 100 or more
        f"{PNR_SYSTEM}|19121212+1212": "tolvan",
        f"{PNR_SYSTEM}|{TOLVAN}": "tolvan",
        f"{PNR_OID}|{ASA[2:8]}-{ASA[8:]}": "asa",
        f"{SAM_SYSTEM}|121272+1219": "sam",
        f"{SAM_OID}|19121272-1219": "sam",
        f"{SAM_OID}|{SAMORDNING}": "sam",
    }
    for value, name in forms.items():
        bundle = search(any_client, "Patient", {"identifier": value})
        assert match_ids(bundle) == {who[name]}, value
        assert _outcome_entries(bundle) == [], value


def test_century_follows_the_separator() -> None:
    today = date(2026, 12, 7)
    assert canonical_person_number(PNR_SYSTEM, "121212-1212", today=today) == "201212121212"
    assert canonical_person_number(PNR_SYSTEM, "121212+1212", today=today) == TOLVAN
    born_tomorrow_1926 = personnummer("19261208", "123")
    written = f"{born_tomorrow_1926[2:8]}-{born_tomorrow_1926[8:]}"
    assert canonical_person_number(PNR_SYSTEM, written, today=today) == born_tomorrow_1926
    # Ten digits without a separator leave the century open.
    assert canonical_person_number(PNR_SYSTEM, born_tomorrow_1926[2:], today=today) is None
    # A samordningsnummer under the personnummer system is not one of its numbers.
    assert canonical_person_number(PNR_SYSTEM, SAMORDNING, today=today) is None


def test_bad_check_digit_or_date_warns_without_echoing_the_number(any_client: TestClient) -> None:
    _patients(any_client)
    bad = wrong_check_digit(ASA)
    no_date = "19800230-0028"
    for value in (f"{bad[:8]}-{bad[8:]}", f"{bad[2:8]}-{bad[8:]}", no_date, "20121212+1212"):
        response = any_client.get("/fhir/Patient", params={"identifier": f"{PNR_SYSTEM}|{value}"})
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert match_ids(bundle) == set()
        [entry] = _outcome_entries(bundle)
        [issue] = entry["resource"]["issue"]
        assert issue["severity"] == "warning"
        assert "personnummer" in issue["diagnostics"]
        said = str(entry)  # the links repeat the client's own query; the outcome never does
        for piece in (value, value.replace("-", ""), bad, bad[2:], "0230"):
            assert piece not in said


def test_chains_has_and_identifier_references_read_person_numbers_alike(
    any_client: TestClient,
) -> None:
    who = _patients(any_client)
    plan = create(any_client, care_plan(who["asa"]))["id"]
    visit = create(any_client, encounter(who["asa"]))["id"]
    by_reference = care_plan(who["asa"])
    by_reference["subject"]["identifier"] = {"system": PNR_SYSTEM, "value": ASA}
    plan_by_identifier = create(any_client, by_reference)["id"]
    dashed, ten = f"{ASA[:8]}-{ASA[8:]}", f"{ASA[2:8]}-{ASA[8:]}"
    searches = [
        ("CarePlan", "subject:Patient.identifier", {plan, plan_by_identifier}),
        ("CarePlan", "patient.identifier", {plan, plan_by_identifier}),
        ("Encounter", "patient.identifier", {visit}),
        ("Encounter", "subject:Patient.identifier", {visit}),
        ("CarePlan", "subject:identifier", {plan_by_identifier}),
        ("Patient", "_has:Encounter:patient:patient.identifier", {who["asa"]}),
        ("Patient", "_has:CarePlan:subject:subject:identifier", {who["asa"]}),
    ]
    for system in (PNR_SYSTEM, PNR_OID):
        for form in (dashed, ten, ASA):
            for path, name, expected in searches:
                bundle = search(any_client, path, {name: f"{system}|{form}"})
                assert match_ids(bundle) == expected, (path, name, form)
                assert _outcome_entries(bundle) == [], (path, name, form)


def test_a_bad_person_number_in_a_chain_or_has_warns_naming_the_parameter(
    any_client: TestClient,
) -> None:
    who = _patients(any_client)
    create(any_client, care_plan(who["asa"]))
    bad = wrong_check_digit(ASA)
    written = f"{bad[:8]}-{bad[8:]}"
    for path, name in (
        ("CarePlan", "subject:Patient.identifier"),
        ("Encounter", "patient.identifier"),
        ("CarePlan", "subject:identifier"),
        ("Patient", "_has:CarePlan:subject:subject:Patient.identifier"),
        ("Patient", "_has:Encounter:patient:patient:identifier"),
        ("CareTeam", "subject:Patient._has:CarePlan:subject:patient.identifier"),
    ):
        for system in (PNR_SYSTEM, SAM_OID):
            bundle = search(any_client, path, {name: f"{system}|{written}"})
            assert match_ids(bundle) == set(), (path, name)
            [entry] = _outcome_entries(bundle)
            [issue] = entry["resource"]["issue"]
            assert issue["severity"] == "warning", (path, name)
            assert f"'{name}'" in issue["diagnostics"], issue["diagnostics"]
            for piece in (written, bad, bad[2:]):
                assert piece not in str(entry)
    # A valid number in the same chain says nothing.
    fine = search(any_client, "Encounter", {"patient.identifier": f"{PNR_SYSTEM}|{ASA}"})
    assert _outcome_entries(fine) == []


def test_identifier_search_without_a_system_reads_the_written_forms(
    any_client: TestClient,
) -> None:
    who = _patients(any_client)
    forms = {
        f"{ASA[:8]}-{ASA[8:]}": "asa",
        f"{ASA[2:8]}-{ASA[8:]}": "asa",
        ASA: "asa",
        "19121212-1212": "tolvan",
        "121212+1212": "tolvan",
        "19121212+1212": "tolvan",
        "121272+1219": "sam",
        f"|{ASA}": None,  # no system at all (`|value`): nothing holds it without one
    }
    for value, name in forms.items():
        bundle = search(any_client, "Patient", {"identifier": value})
        assert match_ids(bundle) == ({who[name]} if name else set()), value
        assert _outcome_entries(bundle) == [], value


def test_ten_digits_without_a_separator_warn_that_the_century_is_open(
    any_client: TestClient,
) -> None:
    _patients(any_client)
    for value in (f"{PNR_SYSTEM}|{ASA[2:]}", ASA[2:], f"{SAM_OID}|1212721219"):
        bundle = search(any_client, "Patient", {"identifier": value})
        assert match_ids(bundle) == set(), value
        [entry] = _outcome_entries(bundle)
        [issue] = entry["resource"]["issue"]
        assert issue["severity"] == "warning"
        assert "century" in issue["diagnostics"], issue["diagnostics"]
        assert ASA[2:] not in str(entry) and "1212721219" not in str(entry)


def test_a_bad_number_without_a_system_is_searched_as_written_with_a_warning(
    any_client: TestClient,
) -> None:
    _patients(any_client)
    bad = wrong_check_digit(ASA)
    for value in (f"{bad[:8]}-{bad[8:]}", f"{bad[2:8]}-{bad[8:]}"):
        bundle = search(any_client, "Patient", {"identifier": value})
        assert match_ids(bundle) == set()
        [entry] = _outcome_entries(bundle)
        [issue] = entry["resource"]["issue"]
        assert issue["severity"] == "warning"
        assert "check digit" in issue["diagnostics"]
        for piece in (value, bad, bad[2:]):
            assert piece not in str(entry)
    # Twelve bare digits may be any system's identifier: searched as written, no warning.
    assert _outcome_entries(search(any_client, "Patient", {"identifier": bad})) == []


def test_overview_by_identifier_takes_the_written_forms_with_or_without_a_system(
    any_client: TestClient,
) -> None:
    who = _patients(any_client)
    for value, name in (
        (f"{PNR_SYSTEM}|{ASA}", "asa"),
        (f"{PNR_SYSTEM}|{ASA[:8]}-{ASA[8:]}", "asa"),
        (f"{PNR_OID}|{ASA[2:8]}-{ASA[8:]}", "asa"),
        (f"{ASA[:8]}-{ASA[8:]}", "asa"),
        ("121212+1212", "tolvan"),
        ("19121272-1219", "sam"),
        (f"{SAM_SYSTEM}|{SAMORDNING}", "sam"),
    ):
        response = any_client.get("/fhir/Patient/$overview", params={"identifier": value})
        assert response.status_code == 200, (value, response.text)
        patients = [
            e["resource"]["id"]
            for e in response.json()["entry"]
            if e["resource"]["resourceType"] == "Patient"
        ]
        assert patients == [who[name]], value


def test_overview_by_identifier_refuses_bad_numbers_without_echoing_them(
    any_client: TestClient,
) -> None:
    _patients(any_client)
    bad = wrong_check_digit(ASA)
    for value, reason in (
        (f"{bad[:8]}-{bad[8:]}", "check digit"),
        (f"{PNR_SYSTEM}|{bad}", "check digit"),
        (ASA[2:], "century"),
        (f"{PNR_SYSTEM}|{SAMORDNING}", "samordningsnummer"),
        ("20121212+1212", "'+'"),
    ):
        response = any_client.get("/fhir/Patient/$overview", params={"identifier": value})
        assert response.status_code == 400, value
        [issue] = response.json()["issue"]
        assert issue["expression"] == ["identifier"]
        assert reason in issue["diagnostics"], (value, issue["diagnostics"])
        number = value.rpartition("|")[2]
        for piece in (number, number.replace("-", ""), number[-4:]):
            assert piece not in response.text, value
