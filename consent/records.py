"""FHIR Consent resources as the access rules read them (docs/access-rules.md F9-F13).

One builder for the privacy Consents the hub itself writes (a patient's consent recorded
on the clinician page, the demo's consents and representation records): scope
`patient-privacy`, the LOINC privacy-consent category, a policyRule (R4 ppc-1), and one
provision whose actors carry a v3-ParticipationType role (IRCP reader, CST blocked party).
Pure data: no I/O.
"""

from __future__ import annotations

from typing import Any, Literal

from consent.extract import CONSENT_SCOPE_SYSTEM, PARTICIPATION_TYPE_SYSTEM

ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PRIVACY_CONSENT_CATEGORY = {"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}


def consent_actor(role: str, reference: dict[str, Any]) -> dict[str, Any]:
    """A provision actor: `IRCP` (who may read) or `CST` (whose data it concerns)."""
    return {
        "role": {"coding": [{"system": PARTICIPATION_TYPE_SYSTEM, "code": role}]},
        "reference": reference,
    }


def privacy_consent(
    patient_id: str,
    provision: Literal["permit", "deny"],
    actors: list[dict[str, Any]],
    *,
    period: dict[str, str],
    date_time: str,
    organization: dict[str, Any] | None = None,
    resource_id: str | None = None,
) -> dict[str, Any]:
    """An active patient-privacy Consent: a permit (consent, lift, representation) is an
    OPTIN, a deny (block) an OPTOUT."""
    consent: dict[str, Any] = {"resourceType": "Consent"}
    if resource_id is not None:
        consent["id"] = resource_id
    consent |= {
        "status": "active",
        "scope": {"coding": [{"system": CONSENT_SCOPE_SYSTEM, "code": "patient-privacy"}]},
        "category": [PRIVACY_CONSENT_CATEGORY],
        "patient": {"reference": f"Patient/{patient_id}"},
        "dateTime": date_time,
    }
    if organization is not None:
        consent["organization"] = [organization]
    code = "OPTIN" if provision == "permit" else "OPTOUT"
    consent["policyRule"] = {"coding": [{"system": ACT_CODE_SYSTEM, "code": code}]}
    consent["provision"] = {"type": provision, "period": period, "actor": actors}
    return consent
