"""RIVTA GetCarePlans 2.0 responses -> CarePlan (+ DocumentReference, Patient, Organization).

`parse(data, filename=...)` reads and validates a response (bare or in a SOAP envelope);
`translate(records, context)` turns it into FHIR R4 resources, purely and deterministically.
"""

from adapters.rivta_careplans.parse import parse
from adapters.rivta_careplans.records import CarePlan, CarePlanBody, CarePlansResponse, Multimedia
from adapters.rivta_careplans.translate import translate

__all__ = ["CarePlan", "CarePlanBody", "CarePlansResponse", "Multimedia", "parse", "translate"]
