"""HL7 v2.5 ADT (A01, A02, A03, A04, A08, A11, A13) from a regional EHR -> Encounter, EpisodeOfCare.

See docs/adapters/hl7v2-adt.md for the field mapping and the decisions behind it.
"""

from adapters.hl7v2_adt.parse import parse
from adapters.hl7v2_adt.records import AdtMessage
from adapters.hl7v2_adt.translate import translate

__all__ = ["AdtMessage", "parse", "translate"]
