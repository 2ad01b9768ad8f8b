"""Search over HTTP: every required parameter, modifiers, prefixes, result parameters, paging."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from swedish_data import (
    HSA_SYSTEM,
    PNR_SYSTEM,
    TOLVAN,
    assert_outcome,
    care_plan,
    care_team,
    consent,
    create,
    encounter,
    episode_of_care,
    ids,
    link,
    match_ids,
    organization,
    patient,
    personnummer,
    practitioner,
    practitioner_role,
    search,
)

from hub.app import create_app
from hub.settings import Settings

ASA_PNR = personnummer("19800115", "002")


@dataclass
class World:
    """Ids of a small Swedish data set: two municipal/regional providers and five patients."""

    region: str
    vc: str
    kommun: str
    karin: str
    erik: str
    role_karin: str
    role_erik: str
    tolvan: str
    asa: str
    sven: str
    lisa: str
    olle: str
    team_asa: str
    team_sven: str
    plan_asa_2024: str
    plan_asa_2023: str
    plan_sven: str
    enc_asa: str
    enc_sven: str
    episode_asa: str
    episode_sven: str
    consent_asa: str
    consent_sven: str


def build_world(client: TestClient) -> World:
    def new(resource: dict) -> str:
        return create(client, resource)["id"]

    region = new(organization("SE2321000164-1000", "Region Sörmland"))
    vc = new(organization("SE2321000164-7381", "Vårdcentralen Gnesta", part_of=region))
    kommun = new(organization("SE2120001231-0001", "Gnesta kommun hemtjänst"))
    karin = new(practitioner("SE2321000164-1234", "Lindqvist", "Karin"))
    erik = new(practitioner("SE2120001231-5678", "Nyström", "Erik"))
    role_karin = new(practitioner_role(karin, vc))
    role_erik = new(practitioner_role(erik, kommun))
    tolvan = new(patient())
    asa = new(patient(ASA_PNR, "Öberg", "Åsa", "female", "1980-01-15"))
    sven = new(patient(personnummer("19800310", "017"), "Svensson", "Sven", "male", "1980-03-10"))
    lisa = new(patient(personnummer("19810601", "028"), "Lindberg", "Lisa", "female", "1981-06-01"))
    olle = new(patient(personnummer("19791231", "039"), "Ek", "Olle", "male", "1979-12-31"))
    team_asa = new(care_team(asa, members=(f"Practitioner/{karin}", f"Organization/{kommun}")))
    team_sven = new(care_team(sven, status="inactive", members=(f"PractitionerRole/{role_erik}",)))
    plan_asa_2024 = new(
        care_plan(
            asa, start="2024-01-01", end="2024-12-31", care_team=team_asa, identifier="SIP-0001"
        )
    )
    plan_asa_2023 = new(
        care_plan(
            asa, status="completed", category="734163000", start="2023-03-01", end="2023-04-30"
        )
    )
    plan_sven = new(care_plan(sven, start="2024-06-15", identifier="SIP-0002"))
    enc_asa = new(encounter(asa, service_provider=vc))
    enc_sven = new(
        encounter(
            sven,
            status="in-progress",
            class_code="HH",
            type_code="439708006",
            start="2024-06-20T13:00:00+02:00",
            end="2024-06-20T14:00:00+02:00",
            service_provider=kommun,
        )
    )
    episode_asa = new(episode_of_care(asa, organization_id=kommun))
    episode_sven = new(episode_of_care(sven, status="finished", organization_id=vc))
    consent_asa = new(consent(asa))
    consent_sven = new(consent(sven, status="inactive"))
    return World(**{k: v for k, v in locals().items() if k not in ("client", "new")})


@pytest.fixture
def world(client: TestClient) -> World:
    return build_world(client)


# -- one row per required parameter ------------------------------------------------------------

CASES = [
    ("Patient", "identifier", lambda w: f"{PNR_SYSTEM}|{ASA_PNR}", ["asa"]),
    ("Patient", "identifier", lambda w: ASA_PNR, ["asa"]),
    ("Patient", "name", lambda w: "Åsa", ["asa"]),
    ("Patient", "name", lambda w: "svens", ["sven"]),
    ("Patient", "family", lambda w: "Lind", ["lisa"]),
    ("Patient", "given", lambda w: "olle", ["olle"]),
    ("Patient", "birthdate", lambda w: "1980-03-10", ["sven"]),
    ("Patient", "gender", lambda w: "female", ["asa", "lisa"]),
    ("Patient", "gender", lambda w: "http://hl7.org/fhir/administrative-gender|female", []),
    ("CarePlan", "patient", lambda w: f"Patient/{w.asa}", ["plan_asa_2024", "plan_asa_2023"]),
    ("CarePlan", "subject", lambda w: f"Patient/{w.sven}", ["plan_sven"]),
    ("CarePlan", "category", lambda w: "http://snomed.info/sct|734163000", ["plan_asa_2023"]),
    ("CarePlan", "status", lambda w: "active", ["plan_asa_2024", "plan_sven"]),
    ("CarePlan", "date", lambda w: "2023", ["plan_asa_2023"]),
    ("CarePlan", "care-team", lambda w: f"CareTeam/{w.team_asa}", ["plan_asa_2024"]),
    ("CarePlan", "identifier", lambda w: "SIP-0002", ["plan_sven"]),
    ("CareTeam", "patient", lambda w: w.sven, ["team_sven"]),
    ("CareTeam", "status", lambda w: "active", ["team_asa"]),
    ("CareTeam", "participant", lambda w: f"Practitioner/{w.karin}", ["team_asa"]),
    ("CareTeam", "participant", lambda w: f"PractitionerRole/{w.role_erik}", ["team_sven"]),
    ("CareTeam", "participant", lambda w: f"Organization/{w.kommun}", ["team_asa"]),
    ("Encounter", "patient", lambda w: f"Patient/{w.asa}", ["enc_asa"]),
    ("Encounter", "subject", lambda w: f"Patient/{w.sven}", ["enc_sven"]),
    ("Encounter", "date", lambda w: "2024-06-20", ["enc_sven"]),
    ("Encounter", "class", lambda w: "HH", ["enc_sven"]),
    (
        "Encounter",
        "class",
        lambda w: "http://terminology.hl7.org/CodeSystem/v3-ActCode|AMB",
        ["enc_asa"],
    ),
    ("Encounter", "status", lambda w: "finished", ["enc_asa"]),
    ("Encounter", "type", lambda w: "http://snomed.info/sct|439708006", ["enc_sven"]),
    ("Encounter", "service-provider", lambda w: f"Organization/{w.vc}", ["enc_asa"]),
    ("EpisodeOfCare", "patient", lambda w: f"Patient/{w.asa}", ["episode_asa"]),
    ("EpisodeOfCare", "status", lambda w: "finished", ["episode_sven"]),
    ("EpisodeOfCare", "organization", lambda w: f"Organization/{w.kommun}", ["episode_asa"]),
    ("Organization", "identifier", lambda w: f"{HSA_SYSTEM}|SE2321000164-7381", ["vc"]),
    ("Organization", "name", lambda w: "vardcentralen", ["vc"]),
    ("Organization", "name", lambda w: "Region", ["region"]),
    ("Organization", "partof", lambda w: f"Organization/{w.region}", ["vc"]),
    ("Practitioner", "identifier", lambda w: f"{HSA_SYSTEM}|SE2120001231-5678", ["erik"]),
    ("Practitioner", "name", lambda w: "nystrom", ["erik"]),
    ("PractitionerRole", "practitioner", lambda w: f"Practitioner/{w.karin}", ["role_karin"]),
    ("PractitionerRole", "organization", lambda w: f"Organization/{w.kommun}", ["role_erik"]),
    ("Consent", "patient", lambda w: f"Patient/{w.sven}", ["consent_sven"]),
    ("Consent", "status", lambda w: "active", ["consent_asa"]),
]


@pytest.mark.parametrize(
    ("resource_type", "name", "value", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)],
)
def test_each_required_search_parameter_finds_exactly_the_matching_resources(
    client: TestClient, world: World, resource_type, name, value, expected
) -> None:
    found = ids(client, resource_type, {name: value(world)})
    assert found == {getattr(world, key) for key in expected}


def test_every_required_parameter_on_both_databases(any_client: TestClient) -> None:
    world = build_world(any_client)
    for resource_type, name, value, expected in CASES:
        found = ids(any_client, resource_type, {name: value(world)})
        assert found == {getattr(world, key) for key in expected}, (resource_type, name)


def test_parameters_combine_with_and_and_comma_values_with_or(
    client: TestClient, world: World
) -> None:
    assert ids(client, "Patient", {"gender": "male", "birthdate": "1980"}) == {world.sven}
    assert ids(client, "Patient", {"given": "Lisa,Olle"}) == {world.lisa, world.olle}
    both = [("birthdate", "ge1980"), ("birthdate", "le1980")]
    assert ids(client, "Patient", both) == {world.asa, world.sven}


def test_id_parameter_finds_by_logical_id(client: TestClient, world: World) -> None:
    assert ids(client, "Patient", {"_id": world.tolvan}) == {world.tolvan}
    assert ids(client, "Patient", {"_id": f"{world.tolvan},{world.lisa}"}) == {
        world.tolvan,
        world.lisa,
    }
    assert ids(client, "Patient", {"_id": "finns-inte"}) == set()


def test_last_updated_compares_against_the_version_instant(
    client: TestClient, world: World
) -> None:
    stamp = client.get(f"/fhir/Patient/{world.lisa}").json()["meta"]["lastUpdated"]
    assert ids(client, "Patient", {"_lastUpdated": stamp}) == {world.lisa}
    before = ids(client, "Patient", {"_lastUpdated": f"lt{stamp}"})
    after = ids(client, "Patient", {"_lastUpdated": f"gt{stamp}"})
    assert world.lisa not in before | after
    assert before | after | {world.lisa} == ids(client, "Patient", {"_count": "100"})
    assert ids(client, "Patient", {"_lastUpdated": "lt2000-01-01"}) == set()
    assert len(ids(client, "Patient", {"_lastUpdated": "ge2000"})) == 5


# -- token forms --------------------------------------------------------------------------------


def test_token_forms_system_and_code_no_system_and_code_only(client: TestClient) -> None:
    with_system = create(client, organization("SE2321000164-9001", "Hemsjukvården Nord"))
    without = create(
        client,
        {
            "resourceType": "Organization",
            "identifier": [{"value": "SE2321000164-9001"}],
            "name": "Hemsjukvården Syd",
        },
    )
    other_system = create(
        client,
        {
            "resourceType": "Organization",
            "identifier": [{"system": "urn:oid:2.5.4.97", "value": "SE2321000164-9001"}],
            "name": "Hemsjukvården Väst",
        },
    )
    code = "SE2321000164-9001"
    assert ids(client, "Organization", {"identifier": f"{HSA_SYSTEM}|{code}"}) == {
        with_system["id"]
    }
    assert ids(client, "Organization", {"identifier": f"|{code}"}) == {without["id"]}
    assert ids(client, "Organization", {"identifier": code}) == {
        with_system["id"],
        without["id"],
        other_system["id"],
    }
    assert ids(client, "Organization", {"identifier": f"{HSA_SYSTEM}|"}) == {with_system["id"]}


def test_token_not_modifier_excludes_the_code(client: TestClient, world: World) -> None:
    assert ids(client, "Patient", {"gender:not": "male"}) == {world.asa, world.lisa}


def test_token_codes_are_case_sensitive(client: TestClient, world: World) -> None:
    assert ids(client, "CarePlan", {"status": "ACTIVE"}) == set()


# -- string forms ---------------------------------------------------------------------------------


def test_string_search_is_a_case_and_accent_insensitive_prefix_match(
    client: TestClient, world: World
) -> None:
    assert ids(client, "Patient", {"family": "oberg"}) == {world.asa}
    assert ids(client, "Patient", {"family": "ÖBE"}) == {world.asa}
    assert ids(client, "Patient", {"given": "asa"}) == {world.asa}
    assert ids(client, "Patient", {"family": "berg"}) == set()


def test_string_contains_matches_inside_the_value(client: TestClient, world: World) -> None:
    assert ids(client, "Patient", {"family:contains": "berg"}) == {world.asa, world.lisa}
    assert ids(client, "Patient", {"family:contains": "BERG"}) == {world.asa, world.lisa}


def test_string_exact_matches_the_whole_value_with_case_and_accents(
    client: TestClient, world: World
) -> None:
    assert ids(client, "Patient", {"family:exact": "Öberg"}) == {world.asa}
    assert ids(client, "Patient", {"family:exact": "oberg"}) == set()
    assert ids(client, "Patient", {"family:exact": "Öber"}) == set()


def test_string_search_treats_like_wildcards_literally(client: TestClient, world: World) -> None:
    assert ids(client, "Patient", {"family": "%"}) == set()
    assert ids(client, "Patient", {"family:contains": "_"}) == set()


# -- reference forms ------------------------------------------------------------------------------


def test_reference_accepts_type_and_id_a_bare_id_and_an_absolute_url(
    client: TestClient, world: World
) -> None:
    expected = {world.plan_asa_2024, world.plan_asa_2023}
    assert ids(client, "CarePlan", {"patient": f"Patient/{world.asa}"}) == expected
    assert ids(client, "CarePlan", {"patient": world.asa}) == expected
    absolute = f"http://testserver/fhir/Patient/{world.asa}"
    assert ids(client, "CarePlan", {"patient": absolute}) == expected
    assert ids(client, "CarePlan", {"subject:Patient": world.asa}) == expected


def test_reference_to_a_type_the_parameter_cannot_point_at_is_400(
    client: TestClient, world: World
) -> None:
    assert_outcome(client.get("/fhir/CarePlan", params={"patient": "Organization/x"}), 400)


# -- :missing -------------------------------------------------------------------------------------


def test_missing_true_and_false_split_the_resources(client: TestClient, world: World) -> None:
    assert ids(client, "CarePlan", {"care-team:missing": "true"}) == {
        world.plan_asa_2023,
        world.plan_sven,
    }
    assert ids(client, "CarePlan", {"care-team:missing": "false"}) == {world.plan_asa_2024}
    assert ids(client, "CarePlan", {"identifier:missing": "false"}) == {
        world.plan_asa_2024,
        world.plan_sven,
    }


def test_missing_with_another_value_is_400(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/CarePlan", params={"care-team:missing": "ja"}), 400)


# -- dates: prefixes and partial dates (FHIR R4 search 3.1.1.4.3 range semantics) --------------

# Birth dates: Olle 1979-12-31, Åsa 1980-01-15, Sven 1980-03-10, Lisa 1981-06-01, Tolvan 1912.
BIRTHDATE_CASES = [
    ("1980", {"asa", "sven"}),
    ("eq1980", {"asa", "sven"}),
    ("1980-03", {"sven"}),
    ("1980-01-15", {"asa"}),
    ("ne1980", {"olle", "lisa", "tolvan"}),
    ("gt1980", {"lisa"}),
    ("lt1980", {"olle", "tolvan"}),
    ("ge1980", {"asa", "sven", "lisa"}),
    ("le1980-01", {"olle", "tolvan", "asa"}),
    ("sa1980-01-15", {"sven", "lisa"}),
    ("eb1980-03-10", {"olle", "tolvan", "asa"}),
    ("gt1980-01-15", {"sven", "lisa"}),
    ("lt1980-01-15", {"olle", "tolvan"}),
    ("ge1980-01-15", {"asa", "sven", "lisa"}),
    ("le1980-01-15", {"olle", "tolvan", "asa"}),
    ("1912-12", {"tolvan"}),
]


@pytest.mark.parametrize(("value", "expected"), BIRTHDATE_CASES)
def test_birthdate_prefixes_follow_fhir_range_semantics(
    client: TestClient, world: World, value: str, expected: set[str]
) -> None:
    assert ids(client, "Patient", {"birthdate": value}) == {getattr(world, k) for k in expected}


# CarePlan periods: Åsa 2024 = [2024-01-01, 2024-12-31]; Åsa 2023 = [2023-03-01, 2023-04-30];
# Sven = [2024-06-15, open end).
PERIOD_CASES = [
    ("2024", {"plan_asa_2024"}),  # Sven's open period is not contained in 2024
    ("2023-03", set()),  # a March-April period is not inside March
    ("ne2024", {"plan_asa_2023", "plan_sven"}),
    ("gt2024-06", {"plan_asa_2024", "plan_sven"}),  # ends after June
    ("sa2024-06", set()),  # nothing starts after June
    ("sa2024-06-14", {"plan_sven"}),
    ("lt2024-06", {"plan_asa_2024", "plan_asa_2023"}),  # starts before June
    ("eb2024-06", {"plan_asa_2023"}),  # ends before June
    ("eb2024", {"plan_asa_2023"}),
    ("ge2024", {"plan_asa_2024", "plan_sven"}),
    ("le2023-12-31", {"plan_asa_2023"}),
    ("gt2030", {"plan_sven"}),  # open end reaches past any date
]


@pytest.mark.parametrize(("value", "expected"), PERIOD_CASES)
def test_care_plan_date_prefixes_compare_periods_as_ranges(
    client: TestClient, world: World, value: str, expected: set[str]
) -> None:
    assert ids(client, "CarePlan", {"date": value}) == {getattr(world, k) for k in expected}


def test_a_date_time_with_a_zone_is_compared_as_an_instant(
    client: TestClient, world: World
) -> None:
    # Sven's visit is 13:00-14:00 CEST = 11:00-12:00 UTC
    assert ids(client, "Encounter", {"date": "ge2024-06-20T11:00:00Z"}) == {world.enc_sven}
    assert ids(client, "Encounter", {"date": "sa2024-06-20T12:00:00Z"}) == set()
    assert ids(client, "Encounter", {"date": "eb2024-06-20T11:00:00Z"}) == {world.enc_asa}


def test_an_unknown_date_prefix_is_400(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/Patient", params={"birthdate": "ap1980"}), 400, "birthdate")


# -- GET and POST _search -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"gender": "female"},
        {"family:contains": "berg", "_sort": "birthdate"},
        {"birthdate": "ge1980", "_count": "2"},
    ],
)
def test_post_search_with_a_form_body_gives_the_same_results_as_get(
    client: TestClient, world: World, params: dict[str, str]
) -> None:
    got = search(client, "Patient", params)
    posted = client.post(
        "/fhir/Patient/_search",
        data=params,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 200
    assert [e["resource"]["id"] for e in posted.json().get("entry", [])] == [
        e["resource"]["id"] for e in got.get("entry", [])
    ]
    assert posted.json().get("total") == got.get("total")


def test_post_search_with_a_json_body_is_415(client: TestClient) -> None:
    response = client.post("/fhir/Patient/_search", json={"gender": "male"})
    assert_outcome(response, 415)


def test_post_search_combines_url_and_form_parameters(client: TestClient, world: World) -> None:
    response = client.post(
        "/fhir/Patient/_search?gender=male",
        data={"birthdate": "1980"},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert match_ids(response.json()) == {world.sven}


# -- result parameters --------------------------------------------------------------------------


def test_sort_ascending_and_descending(client: TestClient, world: World) -> None:
    ascending = search(client, "Patient", {"_sort": "birthdate"})
    order = [e["resource"]["id"] for e in ascending["entry"]]
    assert order == [world.tolvan, world.olle, world.asa, world.sven, world.lisa]
    descending = search(client, "Patient", {"_sort": "-birthdate"})
    assert [e["resource"]["id"] for e in descending["entry"]] == order[::-1]


def test_sort_by_family_name_ignores_accents_and_case(client: TestClient, world: World) -> None:
    bundle = search(client, "Patient", {"_sort": "family"})
    families = [e["resource"]["name"][0]["family"] for e in bundle["entry"]]
    assert families == ["Ek", "Lindberg", "Öberg", "Svensson", "Tolvansson"]


def test_sort_by_an_unknown_parameter_is_400(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/Patient", params={"_sort": "skostorlek"}), 400, "_sort")


def test_total_accurate_counts_all_matches_even_on_a_short_page(
    client: TestClient, world: World
) -> None:
    bundle = search(client, "Patient", {"_total": "accurate", "_count": "2"})
    assert bundle["total"] == 5
    assert len(bundle["entry"]) == 2


def test_summary_count_gives_the_total_and_no_entries(client: TestClient, world: World) -> None:
    bundle = search(client, "CarePlan", {"_summary": "count", "status": "active"})
    assert bundle["total"] == 2
    assert "entry" not in bundle


def test_include_adds_the_referenced_resources_marked_include(
    client: TestClient, world: World
) -> None:
    bundle = search(
        client,
        "CarePlan",
        {"_id": world.plan_asa_2024, "_include": "CarePlan:subject"},
    )
    modes = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]}
    assert modes == {("CarePlan", "match"), ("Patient", "include")}
    assert bundle["total"] == 1
    included = [e for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert included[0]["resource"]["id"] == world.asa
    assert included[0]["fullUrl"] == f"http://testserver/fhir/Patient/{world.asa}"


def test_include_of_a_care_team_and_its_participants_chain(
    client: TestClient, world: World
) -> None:
    bundle = search(client, "CareTeam", {"_id": world.team_asa, "_include": "CareTeam:participant"})
    included = {
        (e["resource"]["resourceType"], e["resource"]["id"])
        for e in bundle["entry"]
        if e["search"]["mode"] == "include"
    }
    assert included == {("Practitioner", world.karin), ("Organization", world.kommun)}


def test_revinclude_adds_resources_that_point_at_the_matches(
    client: TestClient, world: World
) -> None:
    bundle = search(client, "Patient", {"_id": world.asa, "_revinclude": "CarePlan:patient"})
    included = {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert included == {world.plan_asa_2024, world.plan_asa_2023}
    assert match_ids(bundle) == {world.asa}


def test_revinclude_with_several_sources(client: TestClient, world: World) -> None:
    bundle = search(
        client,
        "Patient",
        [
            ("_id", world.sven),
            ("_revinclude", "Encounter:patient"),
            ("_revinclude", "Consent:patient"),
        ],
    )
    included = {e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"}
    assert included == {world.enc_sven, world.consent_sven}


def test_include_with_a_parameter_that_is_not_a_reference_is_400(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/CarePlan", params={"_include": "CarePlan:status"}), 400)


# -- unknown parameters ---------------------------------------------------------------------------


def test_an_unknown_parameter_is_400_naming_it(client: TestClient, world: World) -> None:
    body = assert_outcome(client.get("/fhir/Patient", params={"skonummer": "42"}), 400, "skonummer")
    assert body["issue"][0]["code"] == "not-supported"


def test_an_unknown_modifier_is_400(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/Patient", params={"family:fonetisk": "Ek"}), 400)


def test_prefer_handling_lenient_ignores_the_unknown_parameter_and_drops_it_from_self(
    client: TestClient, world: World
) -> None:
    response = client.get(
        "/fhir/Patient",
        params={"gender": "female", "skonummer": "42"},
        headers={"Prefer": "handling=lenient"},
    )
    assert response.status_code == 200
    bundle = response.json()
    assert match_ids(bundle) == {world.asa, world.lisa}
    self_link = link(bundle, "self")
    assert self_link is not None
    assert "skonummer" not in self_link
    assert "gender=female" in self_link


def test_prefer_handling_strict_still_refuses(client: TestClient) -> None:
    response = client.get(
        "/fhir/Patient", params={"skonummer": "42"}, headers={"Prefer": "handling=strict"}
    )
    assert_outcome(response, 400)


# -- paging ---------------------------------------------------------------------------------------


def _follow(client: TestClient, bundle: dict) -> tuple[list[str], list[dict]]:
    seen: list[str] = []
    pages = [bundle]
    seen.extend(e["resource"]["id"] for e in bundle.get("entry", []))
    for _ in range(50):
        next_url = link(bundle, "next")
        if next_url is None:
            return seen, pages
        assert next_url.startswith("http://testserver/fhir/")
        response = client.get(next_url)
        assert response.status_code == 200
        bundle = response.json()
        pages.append(bundle)
        seen.extend(e["resource"]["id"] for e in bundle.get("entry", []))
    raise AssertionError("next links never ended")


def _many_patients(client: TestClient, count: int, family: str = "Karlsson") -> set[str]:
    out = set()
    for n in range(count):
        number = personnummer(f"1950{(n % 12) + 1:02d}{(n % 27) + 1:02d}", f"{n:03d}")
        out.add(
            create(client, patient(number, family, f"Person{n}", birth_date="1950-01-01"))["id"]
        )
    return out


def test_following_next_visits_every_match_once_and_total_equals_the_count(
    any_client: TestClient,
) -> None:
    expected = _many_patients(any_client, 23)
    first = search(
        any_client, "Patient", {"family": "Karlsson", "_count": "5", "_total": "accurate"}
    )
    assert first["total"] == 23
    seen, pages = _follow(any_client, first)
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == expected
    assert len(pages) == 5
    assert all(len(p["entry"]) == 5 for p in pages[:4]) and len(pages[-1]["entry"]) == 3


def test_paging_with_a_sort_is_stable_when_sort_keys_tie(client: TestClient) -> None:
    expected = _many_patients(client, 12)  # same birth date for everyone
    first = search(client, "Patient", {"_sort": "-birthdate", "_count": "4"})
    seen, _ = _follow(client, first)
    assert len(seen) == len(set(seen)) == 12
    assert set(seen) == expected


def test_page_links_are_absolute_and_previous_goes_back(client: TestClient) -> None:
    _many_patients(client, 7)
    first = search(client, "Patient", {"_count": "3", "gender": "male"})
    assert link(first, "previous") is None
    for relation in ("self", "first", "next"):
        url = link(first, relation)
        assert url is not None and url.startswith("http://testserver/fhir/Patient")
    second = client.get(link(first, "next")).json()
    previous = link(second, "previous")
    assert previous is not None and previous.startswith("http://testserver/fhir/Patient")
    back = client.get(previous).json()
    assert [e["resource"]["id"] for e in back["entry"]] == [
        e["resource"]["id"] for e in first["entry"]
    ]
    query = dict(parse_qsl(urlsplit(link(second, "next")).query))
    assert query["gender"] == "male" and query["_count"] == "3"


def test_page_links_use_hub_base_url_when_configured(make_client) -> None:
    client = make_client(base_url="https://hub.example.se/fhir")
    _many_patients(client, 4)
    bundle = search(client, "Patient", {"_count": "2"})
    assert link(bundle, "next").startswith("https://hub.example.se/fhir/Patient?")
    assert bundle["entry"][0]["fullUrl"].startswith("https://hub.example.se/fhir/Patient/")


def test_count_zero_gives_only_the_total(client: TestClient, world: World) -> None:
    bundle = search(client, "Patient", {"_count": "0"})
    assert bundle["total"] == 5
    assert "entry" not in bundle


def test_count_above_the_maximum_is_capped(make_client) -> None:
    client = make_client(max_page_size=3)
    _many_patients(client, 5)
    bundle = search(client, "Patient", {"_count": "1000"})
    assert len(bundle["entry"]) == 3
    assert link(bundle, "next") is not None


def test_default_page_size_comes_from_settings(make_client) -> None:
    client = make_client(default_page_size=2)
    _many_patients(client, 3)
    assert len(search(client, "Patient")["entry"]) == 2


def test_search_excludes_deleted_resources(client: TestClient, world: World) -> None:
    client.delete(f"/fhir/Patient/{world.lisa}")
    assert ids(client, "Patient", {"gender": "female"}) == {world.asa}


def test_search_sees_the_current_version_only(client: TestClient, world: World) -> None:
    current = client.get(f"/fhir/Patient/{world.olle}").json()
    client.put(
        f"/fhir/Patient/{world.olle}",
        json={**current, "name": [{"family": "Ekström", "given": ["Olle"]}]},
    )
    assert ids(client, "Patient", {"family:exact": "Ek"}) == set()
    assert ids(client, "Patient", {"family:exact": "Ekström"}) == {world.olle}


def test_searchset_entries_have_full_urls_and_match_mode(client: TestClient, world: World) -> None:
    bundle = search(client, "Patient", {"identifier": f"{PNR_SYSTEM}|{TOLVAN}"})
    assert bundle["type"] == "searchset"
    (entry,) = bundle["entry"]
    assert entry["fullUrl"] == f"http://testserver/fhir/Patient/{world.tolvan}"
    assert entry["search"]["mode"] == "match"


def test_absolute_references_to_hub_base_url_are_searchable_and_in_the_compartment(
    tmp_path,
) -> None:
    base = "https://hub.example.se/fhir"
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'abs.db'}", base_url=base, auth="off")
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        client.headers["Content-Type"] = "application/fhir+json"
        person = create(client, patient())["id"]
        plan = care_plan(person)
        plan["subject"] = {"reference": f"{base}/Patient/{person}"}
        plan_id = create(client, plan)["id"]
        assert ids(client, "CarePlan", {"patient": person}) == {plan_id}
        assert ids(client, "CarePlan", {"patient": f"{base}/Patient/{person}"}) == {plan_id}
        everything = search(client, f"Patient/{person}/$everything")
        assert plan_id in match_ids(everything)


def test_an_empty_parameter_value_is_400_naming_the_parameter(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/Patient", params={"identifier": ""}), 400, "identifier")


def test_sort_by_last_updated_descending_puts_the_newest_first(
    client: TestClient, world: World
) -> None:
    bundle = search(client, "Consent", {"_sort": "-_lastUpdated"})
    assert [e["resource"]["id"] for e in bundle["entry"]] == [world.consent_sven, world.consent_asa]
