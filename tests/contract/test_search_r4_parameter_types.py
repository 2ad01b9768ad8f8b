"""Store contract: the R4 parameter types and modifiers beyond token/string/date/reference
(number, quantity with units, uri with :above/:below, composite, :text, :of-type,
reference :identifier, _include:iterate), against expected results on both databases."""

from __future__ import annotations

import re
from typing import Any

import pytest

from hub.errors import InvalidRequest, UnknownSearchParameter
from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

CTX = WriteContext()
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def put(store: SqlStore, resource: dict[str, Any]) -> None:
    with store.unit_of_work() as work:
        work.update(resource, resource["id"], CTX)


def ids(store: SqlStore, resource_type: str, *params: tuple[str, str]) -> list[str]:
    query = parse_search(resource_type, list(params), default_registry())
    page = store.search(query)
    return sorted(m.id for m in (*page.matches, *page.included))


def _observation(oid: str, code: str, value: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code, "display": "Body weight"}]},
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": value,
        **more,
    }


@pytest.fixture
def data(store: SqlStore) -> SqlStore:
    put(store, {"resourceType": "Patient", "id": "p1", "deceasedBoolean": False})
    put(store, {"resourceType": "Patient", "id": "p2", "deceasedDateTime": "2024-01-02"})
    put(store, {"resourceType": "Patient", "id": "p3"})
    kg = {"value": 72.5, "unit": "kg", "system": UCUM, "code": "kg"}
    put(store, _observation("w72", "29463-7", kg, encounter={"reference": "Encounter/e1"}))
    put(
        store,
        _observation("w100", "29463-7", {"value": 100, "unit": "kg", "system": UCUM, "code": "kg"}),
    )
    put(
        store,
        _observation("h180", "8302-2", {"value": 180, "unit": "cm", "system": UCUM, "code": "cm"}),
    )
    put(store, _observation("lb", "29463-7", {"value": 160, "unit": "lb"}))
    put(
        store,
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"code": "AMB"},
            "serviceProvider": {"reference": "Organization/o1"},
            "subject": {"reference": "Patient/p1"},
        },
    )
    put(store, {"resourceType": "Organization", "id": "o1", "name": "Vårdcentral"})
    put(
        store,
        {
            "resourceType": "RiskAssessment",
            "id": "r1",
            "status": "final",
            "subject": {"reference": "Patient/p1"},
            "prediction": [{"probabilityDecimal": 0.25}],
        },
    )
    put(
        store,
        {
            "resourceType": "RiskAssessment",
            "id": "r2",
            "status": "final",
            "subject": {"reference": "Patient/p1"},
            "prediction": [{"probabilityRange": {"low": {"value": 0.4}, "high": {"value": 0.6}}}],
        },
    )
    for vid, url in (
        ("vs1", "http://example.org/fhir/ValueSet/a"),
        ("vs2", "http://example.org/fhir/ValueSet/a/b"),
        ("vs3", "http://other.org/ValueSet/c"),
    ):
        put(store, {"resourceType": "ValueSet", "id": vid, "status": "active", "url": url})
    put(
        store,
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
            "code": {"text": "Diabetes typ 2", "coding": [{"system": "urn:x", "code": "E11"}]},
            "identifier": [
                {
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                "code": "MR",
                            }
                        ]
                    },
                    "system": "urn:journal",
                    "value": "J-1",
                }
            ],
            "asserter": {"identifier": {"system": "urn:hsa", "value": "SE123-1"}},
        },
    )
    return store


def test_number_eq_uses_the_precision_of_the_value(data: SqlStore) -> None:
    assert ids(data, "RiskAssessment", ("probability", "0.25")) == ["r1"]
    assert ids(data, "RiskAssessment", ("probability", "0.35")) == []
    assert ids(data, "RiskAssessment", ("probability", "gt0.3")) == ["r2"]
    assert ids(data, "RiskAssessment", ("probability", "le0.25")) == ["r1"]
    assert ids(data, "RiskAssessment", ("probability", "ne0.25")) == ["r2"]


def test_number_search_matches_a_range_by_its_ends(data: SqlStore) -> None:
    assert ids(data, "RiskAssessment", ("probability", "ge0.6")) == ["r2"]
    assert ids(data, "RiskAssessment", ("probability", "sa0.3")) == ["r2"]
    assert ids(data, "RiskAssessment", ("probability", "eb0.3")) == ["r1"]


def test_quantity_matches_value_and_unit(data: SqlStore) -> None:
    assert ids(data, "Observation", ("value-quantity", f"72.5|{UCUM}|kg")) == ["w72"]
    assert ids(data, "Observation", ("value-quantity", "gt70||kg")) == ["w100", "w72"]
    assert ids(data, "Observation", ("value-quantity", "gt70")) == ["h180", "lb", "w100", "w72"]
    assert ids(data, "Observation", ("value-quantity", "gt70||lb")) == ["lb"]
    assert ids(data, "Observation", ("value-quantity", f"lt150|{UCUM}|cm")) == []
    assert ids(data, "Observation", ("value-quantity", "ap100||kg")) == ["w100"]


def test_quantity_with_a_malformed_value_is_refused(data: SqlStore) -> None:
    with pytest.raises(InvalidRequest):
        ids(data, "Observation", ("value-quantity", "heavy"))
    with pytest.raises(InvalidRequest):
        ids(data, "Observation", ("value-quantity", "5|kg"))


def test_composite_code_and_quantity(data: SqlStore) -> None:
    both = ("code-value-quantity", f"{LOINC}|29463-7$gt80")
    assert ids(data, "Observation", both) == ["lb", "w100"]
    assert ids(data, "Observation", ("code-value-quantity", "8302-2$gt80||cm")) == ["h180"]
    assert ids(data, "Observation", ("code-value-quantity", "8302-2$lt80")) == []
    with pytest.raises(InvalidRequest):
        ids(data, "Observation", ("code-value-quantity", "8302-2"))


def test_uri_exact_below_and_above(data: SqlStore) -> None:
    assert ids(data, "ValueSet", ("url", "http://example.org/fhir/ValueSet/a")) == ["vs1"]
    assert ids(data, "ValueSet", ("url:below", "http://example.org/fhir")) == ["vs1", "vs2"]
    above = ("url:above", "http://example.org/fhir/ValueSet/a/b/c")
    assert ids(data, "ValueSet", above) == ["vs1", "vs2"]
    assert ids(data, "ValueSet", ("url:not", "http://other.org/ValueSet/c")) == ["vs1", "vs2"]


def test_uri_below_and_above_are_case_sensitive_on_both_databases(data: SqlStore) -> None:
    """URIs compare as written (RFC 3986 paths are case-sensitive): SQLite's LIKE folded
    ASCII case by default, so the same search answered differently from PostgreSQL."""
    assert ids(data, "ValueSet", ("url:below", "http://Example.org/fhir")) == []
    assert ids(data, "ValueSet", ("url:above", "http://example.org/FHIR/ValueSet/a/b")) == []


def test_token_text_of_type_not_and_missing(data: SqlStore) -> None:
    assert ids(data, "Condition", ("code:text", "diabetes")) == ["c1"]
    assert ids(data, "Observation", ("code:text", "body")) == ["h180", "lb", "w100", "w72"]
    of_type = ("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|J-1")
    assert ids(data, "Condition", of_type) == ["c1"]
    wrong = ("identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|PI|J-1")
    assert ids(data, "Condition", wrong) == []
    assert ids(data, "Observation", ("code:not", "29463-7")) == ["h180"]
    assert ids(data, "Observation", ("encounter:missing", "false")) == ["w72"]
    assert ids(data, "Patient", ("deceased", "true")) == ["p2"]
    assert ids(data, "Patient", ("deceased", "false")) == ["p1", "p3"]


def test_reference_identifier_modifier(data: SqlStore) -> None:
    assert ids(data, "Condition", ("asserter:identifier", "urn:hsa|SE123-1")) == ["c1"]
    assert ids(data, "Condition", ("asserter:identifier", "urn:hsa|SE999-9")) == []


def test_include_iterate_follows_what_the_round_before_added(data: SqlStore) -> None:
    plain = ids(data, "Observation", ("_id", "w72"), ("_include", "Observation:encounter"))
    assert plain == ["e1", "w72"]
    with pytest.raises(InvalidRequest):  # without :iterate it would only apply to matches
        ids(data, "Observation", ("_id", "w72"), ("_include", "Encounter:service-provider"))
    iterated = ids(
        data,
        "Observation",
        ("_id", "w72"),
        ("_include", "Observation:encounter"),
        ("_include:iterate", "Encounter:service-provider"),
    )
    assert iterated == ["e1", "o1", "w72"]
    reverse = ids(
        data,
        "Organization",
        ("_id", "o1"),
        ("_revinclude", "Encounter:service-provider"),
        ("_revinclude:iterate", "Observation:encounter"),
    )
    assert reverse == ["e1", "o1", "w72"]


def test_unsupported_modifier_and_special_parameter_are_refused(data: SqlStore) -> None:
    with pytest.raises(UnknownSearchParameter):
        ids(data, "Observation", ("value-quantity:exact", "5"))
    with pytest.raises(UnknownSearchParameter):
        ids(data, "Location", ("near", "59.3|18.0|10|km"))


def test_quantity_in_comparable_ucum_units(data: SqlStore) -> None:
    """fhir/ucum-conversions.json: 72.5 kg is 72500 g; 180 cm is 1.8 m; a unit without the
    UCUM system (lb) is compared as written."""
    assert ids(data, "Observation", ("value-quantity", f"72500|{UCUM}|g")) == ["w72"]
    assert ids(data, "Observation", ("value-quantity", f"gt80000|{UCUM}|g")) == ["w100"]
    assert ids(data, "Observation", ("value-quantity", f"1.8|{UCUM}|m")) == ["h180"]
    assert ids(data, "Observation", ("value-quantity", f"1800|{UCUM}|mm")) == ["h180"]
    assert ids(data, "Observation", ("value-quantity", f"72.5|{UCUM}|kg")) == ["w72"]
    assert ids(data, "Observation", ("value-quantity", f"72500|{UCUM}|mg")) == []
    assert ids(data, "Observation", ("value-quantity", "160||lb")) == ["lb"]
    either = ("value-quantity", f"100|{UCUM}|kg,160||lb")
    assert ids(data, "Observation", either) == ["lb", "w100"]


def test_one_gram_matches_a_thousand_milligrams(store: SqlStore) -> None:
    for oid, value, code in (("one-g", 1, "g"), ("thousand-mg", 1000, "mg"), ("two-g", 2, "g")):
        put(store, _observation(oid, "2345-7", {"value": value, "system": UCUM, "code": code}))
    assert ids(store, "Observation", ("value-quantity", f"1|{UCUM}|g")) == ["one-g", "thousand-mg"]
    assert ids(store, "Observation", ("value-quantity", f"1000|{UCUM}|mg")) == [
        "one-g",
        "thousand-mg",
    ]
    assert ids(store, "Observation", ("value-quantity", f"gt1500|{UCUM}|mg")) == ["two-g"]


ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ENCOUNTER_CODES = "http://terminology.hl7.org/ValueSet/v3-ActEncounterCode"


def test_token_in_not_in_below_above_from_the_official_definitions(store: SqlStore) -> None:
    for eid, system, code in (
        ("amb", ACT_CODE, "AMB"),
        ("imp", ACT_CODE, "IMP"),
        ("group", ACT_CODE, "_ActEncounterCode"),
        ("other", "http://example.org/classes", "AMB"),
    ):
        put(
            store,
            {
                "resourceType": "Encounter",
                "id": eid,
                "status": "finished",
                "class": {"system": system, "code": code},
            },
        )
    put(store, {"resourceType": "Encounter", "id": "planned", "status": "planned", "class": {}})
    assert ids(store, "Encounter", ("class:in", ENCOUNTER_CODES)) == ["amb", "imp"]
    assert ids(store, "Encounter", ("class:not-in", ENCOUNTER_CODES)) == [
        "group",
        "other",
        "planned",
    ]
    below = ("class:below", f"{ACT_CODE}|_ActEncounterCode")
    assert ids(store, "Encounter", below) == ["amb", "group", "imp"]
    assert ids(store, "Encounter", ("class:above", f"{ACT_CODE}|AMB")) == ["amb", "group"]
    # a `code` element: its rows keep no system, the ValueSet's system is implied
    assert ids(
        store, "Encounter", ("status:in", "http://hl7.org/fhir/ValueSet/encounter-status")
    ) == [
        "amb",
        "group",
        "imp",
        "other",
        "planned",
    ]


def test_token_terminology_modifiers_refuse_what_is_not_held(store: SqlStore) -> None:
    with pytest.raises(InvalidRequest, match="observation-codes"):  # LOINC is not held
        ids(store, "Observation", ("code:in", "http://hl7.org/fhir/ValueSet/observation-codes"))
    with pytest.raises(InvalidRequest, match=re.escape("example.org/ValueSet/none")):
        ids(store, "Observation", ("code:not-in", "http://example.org/ValueSet/none"))
    with pytest.raises(InvalidRequest, match=re.escape("http://loinc.org")):
        ids(store, "Observation", ("code:below", "http://loinc.org|29463-7"))
    with pytest.raises(InvalidRequest, match=re.escape("system|code")):
        ids(store, "Observation", ("code:above", "29463-7"))
