"""PDL access policy: pure access decisions and the tamper-evident audit log.

- ``consent.facts`` / ``consent.extract``: what the store knows about one patient, and
  how it is read from FHIR resources.
- ``consent.decide``: facts in, ``AccessDecision`` out; deny by default, blocks veto.
- ``consent.emergency``: the ``$emergency-access`` request and its time-boxed grant.
- ``consent.audit``: hash-chained records, Ed25519 checkpoints, ``verify``.
- ``consent.audit_export`` / ``consent.audit_review``: the patient's log extract (FHIR
  AuditEvent, CSV) and the follow-up report.

No module here does I/O.
"""

from consent.audit import (
    AccessEntry,
    AuditRecord,
    Checkpoint,
    Problem,
    VerificationReport,
    chain,
    checkpoints_for,
    next_record,
    sign_checkpoint,
    verify,
)
from consent.audit_export import (
    audit_event_bundle,
    csv_rows,
    patient_extract,
    to_audit_event,
    to_csv,
)
from consent.audit_review import FollowUpReport, VolumeFlag, follow_up_report
from consent.decision import AccessDecision, ReaderNotice, SourceVerdict, decide
from consent.directory import Directory
from consent.emergency import (
    DEFAULT_EMERGENCY_DURATION,
    EmergencyRequestError,
    grant_emergency_access,
    reason_from_parameters,
)
from consent.extract import (
    RelationshipPolicy,
    facts_from_consent,
    patient_facts,
    relationship_from_encounter,
    relationship_from_episode,
    relationships_from_care_team,
)
from consent.facts import (
    Block,
    BlockLift,
    CareRelationship,
    ConsentGrant,
    EmergencyGrant,
    Grantee,
    PatientFacts,
    Representation,
    Source,
)
from consent.periods import Period
from consent.rules import Reader, Reason

__all__ = [
    "DEFAULT_EMERGENCY_DURATION",
    "AccessDecision",
    "AccessEntry",
    "AuditRecord",
    "Block",
    "BlockLift",
    "CareRelationship",
    "Checkpoint",
    "ConsentGrant",
    "Directory",
    "EmergencyGrant",
    "EmergencyRequestError",
    "FollowUpReport",
    "Grantee",
    "PatientFacts",
    "Period",
    "Problem",
    "Reader",
    "ReaderNotice",
    "Reason",
    "RelationshipPolicy",
    "Representation",
    "Source",
    "SourceVerdict",
    "VerificationReport",
    "VolumeFlag",
    "audit_event_bundle",
    "chain",
    "checkpoints_for",
    "csv_rows",
    "decide",
    "facts_from_consent",
    "follow_up_report",
    "grant_emergency_access",
    "next_record",
    "patient_extract",
    "patient_facts",
    "reason_from_parameters",
    "relationship_from_encounter",
    "relationship_from_episode",
    "relationships_from_care_team",
    "sign_checkpoint",
    "to_audit_event",
    "to_csv",
    "verify",
]
