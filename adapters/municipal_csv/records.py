"""Source records of a municipal home-care CSV export, one frozen dataclass per file row.

Field names follow the export's column names (see docs/formats/municipal-csv.md). Values
are checked for form by `parse` (dates, HSA-ids, person identifiers); codes are kept as the
export wrote them and mapped by `translate`. Dates are compact `YYYYMMDD`, timestamps
compact `YYYYMMDDhhmmss`, both Swedish local time. Names and free text are patient data
and are left out of repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapters.identity import PersonIdentity

__all__ = [
    "ActivityRow",
    "CareUnitRow",
    "GoalRow",
    "Manifest",
    "MunicipalExport",
    "PatientRow",
    "SipRow",
    "StaffRow",
    "TeamMemberRow",
    "VisitRow",
]


@dataclass(frozen=True)
class Manifest:
    """manifest.csv: format version, the municipality (care provider) and the export date."""

    location: str
    formatversion: str
    vardgivare_hsaid: str
    vardgivare_namn: str
    exportdatum: str


@dataclass(frozen=True)
class CareUnitRow:
    """enheter.csv: one care unit (vårdenhet) of the municipality."""

    location: str
    enhet_hsaid: str
    namn: str


@dataclass(frozen=True)
class PatientRow:
    """patienter.csv: one person, identified by personnummer or samordningsnummer."""

    location: str
    identity: PersonIdentity
    fornamn: str | None = field(repr=False)
    efternamn: str | None = field(repr=False)
    kon: str | None


@dataclass(frozen=True)
class StaffRow:
    """personal.csv: one staff member and the care unit they work for."""

    location: str
    personal_hsaid: str
    fornamn: str | None
    efternamn: str | None
    befattning: str | None
    enhet_hsaid: str


@dataclass(frozen=True)
class SipRow:
    """sip.csv: one SIP (samordnad individuell plan) with its overall responsible huvudman."""

    location: str
    sip_id: str
    identity: PersonIdentity
    status: str
    titel: str | None = field(repr=False)
    upprattad: str
    startdatum: str | None
    slutdatum: str | None
    uppfoljning: str
    ansvarig_huvudman_hsaid: str
    ansvarig_huvudman_namn: str | None
    enhet_hsaid: str
    vardteam_id: str | None


@dataclass(frozen=True)
class GoalRow:
    """sip_mal.csv: one goal of a SIP."""

    location: str
    mal_id: str
    sip_id: str
    beskrivning: str = field(repr=False)
    maldatum: str | None
    status: str


@dataclass(frozen=True)
class ActivityRow:
    """sip_insatser.csv: one insats of a SIP: who does what and when, under which huvudman."""

    location: str
    insats_id: str
    sip_id: str
    beskrivning: str = field(repr=False)
    huvudman_hsaid: str
    utforare_hsaid: str
    tidpunkt: str | None = field(repr=False)
    startdatum: str | None
    slutdatum: str | None
    status: str
    mal_id: str | None


@dataclass(frozen=True)
class TeamMemberRow:
    """vardteam.csv: one member of a person's care team with role and coordinating flag."""

    location: str
    vardteam_id: str
    identity: PersonIdentity
    namn: str | None
    enhet_hsaid: str
    medlem_hsaid: str
    roll: str
    samordnande: bool


@dataclass(frozen=True)
class VisitRow:
    """besok.csv: one visit (home visit, clinic visit, ...) by a care unit."""

    location: str
    besok_id: str
    identity: PersonIdentity
    enhet_hsaid: str
    besokstyp: str
    start: str
    slut: str | None
    status: str
    utforare_hsaid: str | None


@dataclass(frozen=True)
class MunicipalExport:
    """A whole export: the manifest and the rows of every file (absent file = no rows)."""

    manifest: Manifest
    units: tuple[CareUnitRow, ...]
    patients: tuple[PatientRow, ...]
    staff: tuple[StaffRow, ...]
    plans: tuple[SipRow, ...]
    goals: tuple[GoalRow, ...]
    activities: tuple[ActivityRow, ...]
    team_members: tuple[TeamMemberRow, ...]
    visits: tuple[VisitRow, ...]
