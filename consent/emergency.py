"""Emergency access (nödöppning): reading the ``$emergency-access`` request and granting it.

``POST /fhir/Patient/{id}/$emergency-access`` carries a Parameters resource with one
``reason`` (valueString). The grant applies to that employee at that care unit only, ends
after the configured duration (default four hours) and is always flagged for follow-up.
It opens other providers' unblocked data without consent; it never opens blocked data and
never replaces the care relationship.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from consent.facts import EmergencyGrant
from consent.rules import Reader

__all__ = [
    "DEFAULT_EMERGENCY_DURATION",
    "MAX_REASON_LENGTH",
    "EmergencyRequestError",
    "grant_emergency_access",
    "grant_from_dict",
    "grant_to_dict",
    "reason_from_parameters",
]

DEFAULT_EMERGENCY_DURATION = timedelta(hours=4)
MAX_REASON_LENGTH = 1000
_GRANT_NAMESPACE = uuid.UUID("4f0c5d52-6a55-4f43-9d0c-8a3f4e0b7e21")


class EmergencyRequestError(ValueError):
    """Raised when an emergency access request is malformed or not allowed."""


def reason_from_parameters(parameters: Any) -> str:
    """The ``reason`` of a Parameters resource; exactly one non-blank valueString."""
    if not isinstance(parameters, Mapping) or parameters.get("resourceType") != "Parameters":
        raise EmergencyRequestError("The body must be a Parameters resource")
    entries = parameters.get("parameter")
    reasons = [
        entry
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, Mapping) and entry.get("name") == "reason"
    ]
    if len(reasons) != 1:
        raise EmergencyRequestError("Exactly one parameter 'reason' is required")
    value = reasons[0].get("valueString")
    if not isinstance(value, str) or not value.strip():
        raise EmergencyRequestError("Parameter 'reason' needs a non-blank valueString")
    if len(value) > MAX_REASON_LENGTH:
        raise EmergencyRequestError("Parameter 'reason' is too long")
    return value.strip()


def grant_emergency_access(
    reader: Reader,
    patient_id: str,
    reason: str,
    now: datetime,
    duration: timedelta = DEFAULT_EMERGENCY_DURATION,
) -> EmergencyGrant:
    """A grant for this employee at this care unit, from ``now`` for ``duration``.

    Only users (employees with an assignment) may open emergency access. The grant id is
    derived from employee, unit, patient and start time, so a retried request with the
    same clock value gives the same id.
    """
    if reader.kind != "user" or reader.care_unit is None or reader.care_provider is None:
        raise EmergencyRequestError("Emergency access needs a user with a care unit")
    if now.tzinfo is None:
        raise EmergencyRequestError("Emergency access needs an aware time")
    if duration <= timedelta(0):
        raise EmergencyRequestError("Emergency access needs a positive duration")
    if not reason.strip():
        raise EmergencyRequestError("Emergency access needs a reason")
    start = now.astimezone(UTC)
    name = "|".join((reader.subject, reader.care_unit, patient_id, start.isoformat()))
    return EmergencyGrant(
        grant_id=str(uuid.uuid5(_GRANT_NAMESPACE, name)),
        employee=reader.subject,
        care_unit=reader.care_unit,
        care_provider=reader.care_provider,
        start=start,
        end=start + duration,
        reason=reason.strip(),
    )


def grant_to_dict(grant: EmergencyGrant) -> dict[str, str]:
    """A JSON-ready form of a grant for storage."""
    return {
        "grant_id": grant.grant_id,
        "employee": grant.employee,
        "care_unit": grant.care_unit,
        "care_provider": grant.care_provider,
        "start": grant.start.astimezone(UTC).isoformat(),
        "end": grant.end.astimezone(UTC).isoformat(),
        "reason": grant.reason,
    }


def grant_from_dict(data: Mapping[str, Any]) -> EmergencyGrant:
    """Inverse of ``grant_to_dict``."""
    return EmergencyGrant(
        grant_id=str(data["grant_id"]),
        employee=str(data["employee"]),
        care_unit=str(data["care_unit"]),
        care_provider=str(data["care_provider"]),
        start=datetime.fromisoformat(str(data["start"])),
        end=datetime.fromisoformat(str(data["end"])),
        reason=str(data["reason"]),
    )
