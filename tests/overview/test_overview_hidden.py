"""The hidden-information section and what each reader sees: no consent, a block by unit, a
block by provider, emergency access, a relative with a representation record."""

from __future__ import annotations

from typing import Any

from hub.access.scope import ReadScope
from hub.demo.clinical import DEMO_RELATIVE
from hub.overview import definitions as d
from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.store.model import WriteContext
from tests.overview.conftest import RV, DemoHub, R, entries, ext, parts, pid, section

HSA = "urn:oid:1.2.752.129.2.1.4.1"
MEDICATION = "10160-0"


def _hidden(bundle: dict[str, Any]) -> dict[str, Any]:
    return parts(ext(section(bundle, "hidden-information"), d.HIDDEN_DATA)[0])


def _org_id(demo: DemoHub, hsa: str) -> str:
    query = parse_search("Organization", [("identifier", f"{HSA}|{hsa}")], default_registry())
    return str(demo.store.search(query, ReadScope.everything()).matches[0].id)


def _block(demo: DemoHub, k: int, hsa: str) -> None:
    """The patient blocks (spärr) the data of a unit or a provider, registered at the region."""
    consent = {
        "resourceType": "Consent",
        "id": f"block-{k}",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{pid(k)}"},
        "policyRule": {  # R4 ppc-1: a policy or a policyRule
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTOUT"}
            ]
        },
        "provision": {
            "type": "deny",
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                "code": "CST",
                            }
                        ]
                    },
                    "reference": {"reference": f"Organization/{_org_id(demo, hsa)}"},
                }
            ],
        },
    }
    with demo.store.unit_of_work() as work:
        work.update(consent, consent["id"], WriteContext(R, RV))


def _medications(bundle: dict[str, Any]) -> list[str]:
    return sorted(m["medicationCodeableConcept"]["text"] for m in entries(bundle, MEDICATION))


def _emergency(demo: DemoHub, k: int) -> None:
    response = demo.client.post(
        f"/fhir/Patient/{pid(k)}/$emergency-access",
        json={
            "resourceType": "Parameters",
            "parameter": [{"name": "reason", "valueString": "Medvetslös"}],
        },
        headers={**demo.nurse, "Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 200, response.text


def test_with_consent_nothing_is_hidden(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0)
    assert _hidden(bundle) == {
        "providersWithoutConsent": [0],
        "emergency": [False],
        "noCareRelationship": [False],
    }
    assert section(bundle, "hidden-information")["text"]["div"].endswith(
        "<p>All information du har rätt att se visas.</p></div>"
    )


def test_without_consent_the_reader_learns_how_many_providers_hold_data(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 2)
    assert _hidden(bundle)["providersWithoutConsent"] == [1]
    text = section(bundle, "hidden-information")["text"]["div"]
    assert "1 vårdgivare har information som inte visas eftersom samtycke saknas" in text
    assert "(Region Örebro län)" in text
    assert _medications(bundle) == []
    assert section(bundle, MEDICATION)["emptyReason"]["coding"][0]["code"] == "withheld"
    municipal = {e["resourceType"] for e in entries(bundle, "104605-1")}
    assert municipal == {"Flag"}  # the municipality's own data is shown


def test_a_block_by_unit_hides_that_units_data_and_says_nothing_of_it(demo: DemoHub) -> None:
    _block(demo, 0, RV)
    bundle = demo.overview(demo.nurse, 0)
    assert _medications(bundle) == []
    stays = [e for e in entries(bundle, "timeline") if e["class"]["code"] == "IMP"]
    assert stays  # the ward's data (another unit of the region) is still shown
    assert _hidden(bundle) == {
        "providersWithoutConsent": [0],
        "emergency": [False],
        "noCareRelationship": [False],
    }
    assert "spärr" not in str(bundle).lower()


def test_a_block_by_provider_hides_all_its_data_and_says_nothing_of_it(demo: DemoHub) -> None:
    _block(demo, 0, R)
    bundle = demo.overview(demo.nurse, 0)
    assert _medications(bundle) == []
    providers = {
        parts(ext(e, d.ENTRY_ORIGIN)[0])["careProvider"][0]["value"] for e in bundle["entry"][2:]
    }
    assert providers == {"SE2120002122-0000"}
    assert _hidden(bundle)["providersWithoutConsent"] == [0]
    assert "blockedProvider" not in _hidden(bundle)


def test_emergency_access_opens_unblocked_data_and_is_shown(demo: DemoHub) -> None:
    _emergency(demo, 2)
    bundle = demo.overview(demo.nurse, 2)
    assert _medications(bundle) == [
        "Apixaban 2,5 mg tablett",
        "Furosemid 40 mg tablett",
        "Morfin 5 mg/ml injektion vid behov",
    ]
    hidden = _hidden(bundle)
    assert hidden["emergency"] == [True]
    assert hidden["providersWithoutConsent"] == [0]
    assert "Nödåtkomst är öppen" in section(bundle, "hidden-information")["text"]["div"]


def test_under_emergency_access_blocked_data_stays_hidden_and_its_provider_is_named(
    demo: DemoHub,
) -> None:
    _block(demo, 2, R)
    _emergency(demo, 2)
    bundle = demo.overview(demo.nurse, 2)
    assert _medications(bundle) == []
    hidden = _hidden(bundle)
    assert hidden["blockedProvider"] == [{"system": HSA, "value": R}]
    assert hidden["providersWithoutConsent"] == [0]
    assert (
        "Region Örebro län har spärrad information"
        in section(bundle, "hidden-information")["text"]["div"]
    )


def test_a_relative_sees_the_municipal_data_named_in_the_representation_only(
    demo: DemoHub,
) -> None:
    headers = demo.headers(DEMO_RELATIVE, "patient/*.read", None, None)
    bundle = demo.overview(headers, 0)
    assert _medications(bundle) == []
    providers = {
        parts(ext(e, d.ENTRY_ORIGIN)[0])["careProvider"][0]["value"] for e in bundle["entry"][2:]
    }
    assert providers == {"SE2120002122-0000"}
    visits = [e for e in entries(bundle, "timeline")]
    assert visits and all(e["class"]["code"] == "HH" for e in visits)
    assert "SIP hemsjukvård och hemtjänst" in section(bundle, "18776-5")["text"]["div"]


def test_another_relative_sees_nothing(demo: DemoHub) -> None:
    headers = demo.headers("194005052388", "patient/*.read", None, None)
    bundle = demo.overview(headers, 0)
    assert len(bundle["entry"]) == 2  # the Composition and the Patient (directory data)


def test_a_reader_without_care_relationship_is_told_so(demo: DemoHub) -> None:
    bundle = demo.overview(demo.hospital, 0)
    assert _hidden(bundle)["noCareRelationship"] == [True]
    assert len(bundle["entry"]) == 2
