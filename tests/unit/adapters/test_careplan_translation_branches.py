"""The checks of the GetCarePlans translation that golden cases do not reach: the HSA-OID
of a participating unit's root, participating units listed once, and nullifiedReason
written only onto a nullified plan."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import rivta_careplans
from adapters.errors import AdapterError, InvalidIdentifier, UnmappedCode
from adapters.model import TranslationContext
from mappings.systems import HSA_OID
from tests.ingest.rivta_answers import PlanRecord, Sender, care_plans_answer

CONTEXT = TranslationContext(patient_id_secret=b"branches", source_system="SE1-UNUSED")
SENDER = Sender("SE2321000164-S0A1", "SE2321000164-0000", "SE2321000164-7381")
UNIT_A, UNIT_B = "SE2321000164-7381", "SE2120002122-1001"


def _plan(record: PlanRecord) -> dict[str, Any]:
    records = rivta_careplans.parse(care_plans_answer([record]), filename="p.xml")
    (plan,) = [
        t.resource
        for t in rivta_careplans.translate(records, CONTEXT)
        if t.resource["resourceType"] == "CarePlan"
    ]
    return plan


def _error(record: PlanRecord) -> AdapterError:
    records = rivta_careplans.parse(care_plans_answer([record]), filename="p.xml")
    with pytest.raises(AdapterError) as caught:
        rivta_careplans.translate(records, CONTEXT)
    return caught.value


def test_a_participating_unit_under_the_hsa_oid_or_an_alias_is_a_contributor() -> None:
    for root in (HSA_OID, f"urn:oid:{HSA_OID}", "urn:oid:1.2.752.29.4.19"):
        plan = _plan(PlanRecord("P-1", SENDER, participating_units=((root, UNIT_B),)))
        assert len(plan["contributor"]) == 1
        assert plan["contributor"][0]["reference"].startswith("Organization/")


def test_a_participating_unit_under_another_known_oid_is_an_invalid_identifier() -> None:
    personnummer_oid = "1.2.752.129.2.1.3.1"
    error = _error(PlanRecord("P-1", SENDER, participating_units=((personnummer_oid, UNIT_B),)))
    assert isinstance(error, InvalidIdentifier)
    assert error.code == "invalid-identifier"
    assert "is not the HSA-id OID" in error.message
    assert error.location is not None
    assert error.location.endswith("participatingCareUnitHSAId/root")


def test_a_participating_unit_under_an_unknown_oid_is_unmapped() -> None:
    error = _error(PlanRecord("P-1", SENDER, participating_units=(("1.2.3.4", UNIT_B),)))
    assert isinstance(error, UnmappedCode)
    assert error.location is not None and error.location.endswith("/root")


def test_participating_units_are_listed_once_each_in_first_seen_order() -> None:
    units = ((HSA_OID, UNIT_B), (HSA_OID, UNIT_A), (HSA_OID, UNIT_B), (HSA_OID, UNIT_A))
    plan = _plan(PlanRecord("P-1", SENDER, participating_units=units))
    references = [c["reference"] for c in plan["contributor"]]
    assert len(references) == 2 == len(set(references))
    only_b = _plan(PlanRecord("P-1", SENDER, participating_units=((HSA_OID, UNIT_B),)))
    assert references[0] == only_b["contributor"][0]["reference"]


def test_nullified_reason_is_written_onto_a_nullified_plan_only() -> None:
    nullified = _plan(PlanRecord("P-1", SENDER, nullified=True, nullified_reason="Fel patient"))
    assert nullified["status"] == "entered-in-error"
    assert nullified["note"] == [{"text": "Fel patient"}]
    not_nullified = _plan(
        PlanRecord("P-1", SENDER, nullified=False, nullified_reason="Fel patient")
    )
    assert not_nullified["status"] == "unknown"
    assert "note" not in not_nullified
    without_reason = _plan(PlanRecord("P-1", SENDER, nullified=True))
    assert without_reason["status"] == "entered-in-error"
    assert "note" not in without_reason


def test_an_impossible_author_time_names_its_element() -> None:
    for content in (False, True):  # with content the DocumentReference reads it first
        error = _error(PlanRecord("P-1", SENDER, author_time="20250230100000", content=content))
        assert error.code == "invalid-timestamp"
        assert error.location is not None
        assert error.location.endswith("accountableHealthcareProfessional/authorTime")
    plan = _plan(PlanRecord("P-1", SENDER, content=True))
    assert plan["supportingInfo"][0]["reference"].startswith("DocumentReference/")


def test_every_plan_of_an_answer_is_translated_and_a_plan_without_document_has_none() -> None:
    records = rivta_careplans.parse(
        care_plans_answer([PlanRecord("P-1", SENDER), PlanRecord("P-2", SENDER, content=True)]),
        filename="p.xml",
    )
    types = [t.resource["resourceType"] for t in rivta_careplans.translate(records, CONTEXT)]
    assert types.count("CarePlan") == 2
    assert types.count("DocumentReference") == 1
    assert "supportingInfo" not in _plan(PlanRecord("P-1", SENDER))


def test_an_impossible_document_time_names_its_element() -> None:
    answer = care_plans_answer([PlanRecord("P-1", SENDER)]).replace(
        b"</core:documentTitle>",
        b"</core:documentTitle><core:documentTime>20250230100000</core:documentTime>",
    )
    records = rivta_careplans.parse(answer, filename="p.xml")
    with pytest.raises(AdapterError) as caught:
        rivta_careplans.translate(records, CONTEXT)
    assert caught.value.location is not None
    assert caught.value.location.endswith("carePlanHeader/documentTime")
