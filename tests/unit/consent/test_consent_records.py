"""The hub's own Consent builder writes what the access rules read: a permit for a unit is
a consent of that unit (F9), a deny naming a unit is an inre spärr (F10), a permit naming a
RelatedPerson and a provider is a representation (F13); and every one carries the
policyRule R4 requires (ppc-1)."""

from __future__ import annotations

from consent import Block, ConsentGrant
from consent.extract import facts_from_consent
from consent.records import consent_actor, privacy_consent
from tests.unit.consent.test_consent_extract import DIRECTORY, NOW, PATIENT, ref

PERIOD = {"start": "2025-05-01T00:00:00+02:00", "end": "2025-07-01T00:00:00+02:00"}


def _built(provision: str, *actors: tuple[str, dict[str, str]]) -> dict[str, object]:
    return privacy_consent(
        PATIENT,
        "permit" if provision == "permit" else "deny",
        [consent_actor(role, reference) for role, reference in actors],
        period=PERIOD,
        date_time=PERIOD["start"],
        organization=ref("Organization", "vc"),
    )


def test_a_built_permit_for_a_unit_is_that_units_consent_in_force() -> None:
    consent = _built("permit", ("IRCP", ref("Organization", "hsv")))
    (fact,) = facts_from_consent(consent, DIRECTORY, PATIENT)
    assert isinstance(fact, ConsentGrant)
    assert fact.grantee.care_unit == "SE2120000001-HSV"
    assert fact.active_at(NOW)
    assert consent["policyRule"] == {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]
    }


def test_a_built_deny_on_a_unit_is_an_inre_sparr_with_an_optout_rule() -> None:
    consent = _built("deny", ("CST", ref("Organization", "vc")))
    (fact,) = facts_from_consent(consent, DIRECTORY, PATIENT)
    assert isinstance(fact, Block)
    assert (fact.level, fact.care_unit) == ("unit", "SE2321000016-VC")
    assert consent["policyRule"]["coding"][0]["code"] == "OPTOUT"  # type: ignore[index]


def test_the_builder_output_is_a_valid_r4_consent() -> None:
    from fhir.resources.R4B.consent import Consent

    consent = _built("permit", ("IRCP", ref("Organization", "hsv")))
    assert Consent.model_validate(consent).status == "active"
