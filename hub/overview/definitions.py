"""The hub's own canonical URLs and codes for the overview's computed facts.

The definitions themselves are data in fhir/overview/ (StructureDefinitions of the
extensions, CodeSystems, OperationDefinitions); tests/overview/test_definitions.py checks
that every URL named here has its definition there. LOINC section codes are those of the
International Patient Summary (IPS) where IPS has the section.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

BASE = "https://hub.example.se/fhir"
DEFINITIONS_DIR = Path(__file__).resolve().parents[2] / "fhir" / "overview"

# extensions
ENTRY_ORIGIN = f"{BASE}/StructureDefinition/overview-entry-origin"
FOLLOW_UP = f"{BASE}/StructureDefinition/overview-follow-up"
INDICATOR = f"{BASE}/StructureDefinition/overview-indicator"
HIDDEN_DATA = f"{BASE}/StructureDefinition/overview-hidden-data"
CONFLICT = f"{BASE}/StructureDefinition/overview-conflict"
TREATMENT_LIMITATION = f"{BASE}/StructureDefinition/treatment-limitation"
CONTACT_AVAILABILITY = f"{BASE}/StructureDefinition/contact-route-availability"

# code systems
SECTION = f"{BASE}/CodeSystem/overview-section"
FOLLOW_UP_STATE = f"{BASE}/CodeSystem/follow-up-state"
INDICATOR_CODE = f"{BASE}/CodeSystem/overview-indicator"
CONFLICT_KIND = f"{BASE}/CodeSystem/overview-conflict"
CARE_PLAN_KIND = f"{BASE}/CodeSystem/care-plan-kind"
EPISODE_TYPE = f"{BASE}/CodeSystem/episode-of-care-type"
CARE_PLAN_TYPE = f"{BASE}/CodeSystem/care-plan-type"
CARE_TEAM_ROLE = f"{BASE}/CodeSystem/care-team-role"
DISCHARGE_MESSAGE = f"{BASE}/CodeSystem/discharge-message"

# operations
OVERVIEW_OPERATION = f"{BASE}/OperationDefinition/Patient-overview"
FOLLOW_UP_OPERATION = f"{BASE}/OperationDefinition/follow-up-due"
IPS_SUMMARY_OPERATION = "http://hl7.org/fhir/uv/ips/OperationDefinition/summary"

LOINC = "http://loinc.org"
IPS_DOCUMENT = ("60591-5", "Patient summary Document")
SECTIONS: dict[str, tuple[str, str, str]] = {
    # key: (system, code, display)
    "plans": (LOINC, "18776-5", "Plan of care note"),
    "care-team": (SECTION, "care-team-contacts", "Vårdteam och kontaktvägar"),
    "timeline": (SECTION, "timeline", "Tidslinje"),
    "indicators": (SECTION, "indicators", "Indikatorer"),
    "medications": (LOINC, "10160-0", "History of Medication use Narrative"),
    "problems": (LOINC, "11450-4", "Problem list - Reported"),
    "allergies": (LOINC, "48765-2", "Allergies and adverse reactions Document"),
    "alerts": (LOINC, "104605-1", "Alert"),
    "hidden": (SECTION, "hidden-information", "Dold information"),
}
IPS_SECTIONS = ("medications", "allergies", "problems", "plans", "alerts")
"""The sections of $summary: IPS's required three, then plan of care and alerts."""

MEDICAL_CARE_PLAN = "medicinsk-vardplan"
ENROLMENT_TYPES = {
    "hemsjukvard": "Inskriven i hemsjukvård",
    "mobilt-team": "Inskriven i mobilt team",
    "hemrehabilitering": "Intensiv hemrehabilitering",
}
REHAB_TYPES = frozenset({"hemrehabilitering"})
MEDICAL_CARE_PLAN_DEADLINE_DAYS = 14
"""Hub decision (DOMAIN section 2): a medical care plan is due within 2 weeks of enrolment
(the SÄBO deadline; a short-term unit's is 1 week)."""

DISCHARGE_SIP_DAYS = 3
"""Hub decision (DOMAIN scenario 5, lag 2017:612; the 3 days are **to verify**): after a
discharge notice, the SIP planning is due within this many days of the discharge."""
DISCHARGE_RECENT_DAYS = 30
"""A discharge notice shows while its stay is ongoing or ended at most this many days ago."""
ACTIVITY_STATUS_TABLE = "municipal-activity-status"
DECLINED_ACTIVITY_CODE = "avbojd"
"""The row of the municipal insats-status table (mappings/) for an insats the person
declined (DOMAIN scenario 8); the adapter keeps it as the activity's statusReason."""


@cache
def definitions() -> dict[str, dict[str, Any]]:
    """Every definition in fhir/overview/, by canonical URL."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(DEFINITIONS_DIR.glob("*.json")):
        resource = json.loads(path.read_text("utf-8"))
        found[resource["url"]] = resource
    return found
