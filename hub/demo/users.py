"""The demo callers: four users (with the care relationship that lets each see a part of
the demo) and the two journal systems that push data.

- NURSE, municipal nurse at Hemsjukvård Väster Örebro: Örebro kommun's residents (her unit
  manages their active care teams);
- PHYSICIAN, district physician at Vårdcentral Tybble: SIP patients (an ongoing contact,
  his medical responsibility in home health care);
- HOSPITAL, hospital physician at USÖ geriatrisk avdelning 73: the patient in the ward now;
- RELATIVE, a daughter with a representation consent: her mother's records at the
  municipality;
- REGION_SYSTEM and MUNICIPAL_SYSTEM, journal systems: their own care provider's data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEMO_CLIENTS", "RELATIVE_NUMBER", "DemoClient"]

RELATIVE_NUMBER = "194508141233"
"""The relative's invented personnummer (hub.demo.clinical.DEMO_RELATIVE): her token's `sub`
and her RelatedPerson's identifier."""


def _nurse_sees(index: int, patients: int) -> bool:
    return index % 10 < 7  # residents of Örebro kommun (hub.demo.exports.demo_people)


def _physician_sees(index: int, patients: int) -> bool:
    return index % 2 == 0  # SIP patients with the ongoing contact at Vårdcentral Tybble


def _hospital_sees(index: int, patients: int) -> bool:
    return index == 1  # hub.demo.exports.CURRENTLY_ADMITTED


def _relative_sees(index: int, patients: int) -> bool:
    return index == 0  # the first Örebro kommun resident's daughter (hub.demo.clinical)


@dataclass(frozen=True, slots=True)
class DemoClient:
    """One demo caller: a user (employee), a relative, or a journal system."""

    label: str
    variable: str
    subject: str
    care_provider: str | None
    care_unit: str | None
    scopes: tuple[str, ...]
    role: str | None = None
    sees: Callable[[int, int], bool] | None = None
    """Whether this user sees clinical data of the demo person with this index (of that
    many patients); None for systems."""


DEMO_CLIENTS: tuple[DemoClient, ...] = (
    DemoClient(
        label="Municipal nurse, Hemsjukvård Väster Örebro",
        variable="NURSE",
        subject="SE2120002122-P001",
        care_provider="SE2120002122-0000",
        care_unit="SE2120002122-1001",
        scopes=("user/*.read", "user/*.write"),
        sees=_nurse_sees,
    ),
    DemoClient(
        label="District physician, Vårdcentral Tybble",
        variable="PHYSICIAN",
        subject="SE2321000164-P001",
        care_provider="SE2321000164-0000",
        care_unit="SE2321000164-7381",
        scopes=("user/*.read", "user/*.write"),
        role="201011",
        sees=_physician_sees,
    ),
    DemoClient(
        label="Regional EHR system (Region Örebro län)",
        variable="REGION_SYSTEM",
        subject="SE2321000164-S001",
        care_provider="SE2321000164-0000",
        care_unit="SE2321000164-7382",
        scopes=("system/*.*",),
    ),
    DemoClient(
        label="Municipal journal system (Örebro kommun)",
        variable="MUNICIPAL_SYSTEM",
        subject="SE2120002122-S001",
        care_provider="SE2120002122-0000",
        care_unit="SE2120002122-1001",
        scopes=("system/*.*",),
    ),
    DemoClient(
        label="Hospital physician, USÖ geriatrisk avdelning 73",
        variable="HOSPITAL",
        subject="SE2321000164-P004",
        care_provider="SE2321000164-0000",
        care_unit="SE2321000164-7382",
        scopes=("user/*.read", "user/*.write"),
        role="201011",
        sees=_hospital_sees,
    ),
    DemoClient(
        label="Relative with a representation consent (daughter)",
        variable="RELATIVE",
        subject=RELATIVE_NUMBER,
        care_provider=None,
        care_unit=None,
        scopes=("patient/*.read",),
        sees=_relative_sees,
    ),
)
