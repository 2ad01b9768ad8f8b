"""Follow-up of the access log: emergency accesses and unusual volumes.

Every access under emergency access is listed for review. A reader who opens more
distinct patients on one calendar day (Europe/Stockholm) than a threshold is flagged:
the systematic log check PDL asks for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from consent.audit import AuditRecord
from consent.periods import STOCKHOLM

__all__ = ["DEFAULT_DAILY_PATIENT_THRESHOLD", "FollowUpReport", "VolumeFlag", "follow_up_report"]

DEFAULT_DAILY_PATIENT_THRESHOLD = 50


@dataclass(frozen=True, slots=True)
class VolumeFlag:
    """One reader on one day above the threshold of distinct patients."""

    subject: str
    care_unit: str | None
    day: date
    distinct_patients: int
    accesses: int


@dataclass(frozen=True, slots=True)
class FollowUpReport:
    """What a log reviewer must look at."""

    emergency_accesses: tuple[AuditRecord, ...]
    unusual_volumes: tuple[VolumeFlag, ...]


def follow_up_report(
    records: Iterable[AuditRecord],
    *,
    daily_patient_threshold: int = DEFAULT_DAILY_PATIENT_THRESHOLD,
) -> FollowUpReport:
    """Emergency accesses, and readers above ``daily_patient_threshold`` patients a day."""
    emergency: list[AuditRecord] = []
    patients: dict[tuple[str, str | None, date], set[str]] = defaultdict(set)
    accesses: dict[tuple[str, str | None, date], int] = defaultdict(int)
    for record in records:
        if record.emergency:
            emergency.append(record)
        day = record.timestamp.astimezone(STOCKHOLM).date()
        key = (record.subject, record.care_unit, day)
        patients[key].add(record.patient_id)
        accesses[key] += 1
    flags = [
        VolumeFlag(subject, unit, day, len(seen), accesses[(subject, unit, day)])
        for (subject, unit, day), seen in patients.items()
        if len(seen) > daily_patient_threshold
    ]
    flags.sort(key=lambda flag: (flag.day, flag.subject, flag.care_unit or ""))
    return FollowUpReport(
        emergency_accesses=tuple(sorted(emergency, key=lambda record: record.sequence)),
        unusual_volumes=tuple(flags),
    )
