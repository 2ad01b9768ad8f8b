"""RIVTA GetCareContacts 3.0 responses -> Encounter (+ Patient, Organization).

`parse(data, filename=...)` reads and validates a response (bare or in a SOAP envelope);
`translate(records, context)` turns it into FHIR R4 resources, purely and deterministically.
"""

from adapters.rivta_carecontacts.parse import parse
from adapters.rivta_carecontacts.records import (
    AdditionalPatientInformation,
    CareContact,
    CareContactBody,
    CareContactsResponse,
)
from adapters.rivta_carecontacts.translate import translate

__all__ = [
    "AdditionalPatientInformation",
    "CareContact",
    "CareContactBody",
    "CareContactsResponse",
    "parse",
    "translate",
]
