"""What a user's search may say about what the access rules withheld (docs/access-rules.md,
"Search notices").

A notice explains the rules, never the data: it is chosen from the reader's decision
for the one patient the search names (its gate and emergency flag, which depend on the
reader's own unit and grants) and from what the answer already shows. It never depends on
whether hidden data exists, so hidden, deleted and never stored data (and a patient never
stored) give the same notice; it names no care provider and holds no count.
"""

from __future__ import annotations

from consent.decision import AccessDecision
from consent.rules import Reason

PATIENT_NEEDED = (
    "Searches of clinical data by a user are made per patient: add patient= "
    "(or subject=) to find the data this user may see"
)
PATIENT_ID_NEEDED = (
    "Searches of clinical data by a user are made per patient: add _id= to this "
    "Patient search so that its chains or _has can reach the patient's data"
)
NO_ASSIGNMENT = (
    "The token names no care unit and care provider, so no patient's clinical data is shown"
)
NO_RELATIONSHIP = (
    "You have no care relationship with this patient at your care unit, so none of the "
    "patient's clinical data is shown (patientdatalagen 4 kap. 1 §); emergency access does "
    "not open data without one. This is said for every patient without a care relationship, "
    "whether or not any data about the patient is stored"
)
CONSENT_OR_EMERGENCY = (
    "Data that other care providers hold about a patient is shown only with the patient's "
    "consent (patientdatalagen 6 kap. 3 §) or under emergency access ($emergency-access, "
    "6 kap. 4 §). This is said whenever a search shows none of the patient's clinical data, "
    "whether or not other care providers hold any"
)
UNDER_EMERGENCY_ACCESS = (
    "Emergency access is in force for you and this patient: other care providers' data is "
    "shown, except data under a block (spärr). This is said whenever a search under "
    "emergency access shows none of the patient's clinical data"
)


def decision_notice(decision: AccessDecision, shows_clinical_data: bool) -> str | None:
    """The notice for a user's search that names the decision's patient. `shows_clinical_data`
    is whether the answer itself shows any of it (matches, includes or a count): then the
    rules withheld nothing the reader needs explained."""
    if decision.gate == Reason.NO_ASSIGNMENT:
        return NO_ASSIGNMENT
    if decision.gate == Reason.NO_RELATIONSHIP:
        return NO_RELATIONSHIP
    if decision.gate is not None or shows_clinical_data:
        return None
    return UNDER_EMERGENCY_ACCESS if decision.emergency else CONSENT_OR_EMERGENCY
