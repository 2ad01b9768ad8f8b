"""Source records of a GetCareContacts 3.0 response, with the contract's element names kept."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.rivta_logistics.records import CV, OrgUnit, PatientSummaryHeader, Result

__all__ = [
    "AdditionalPatientInformation",
    "CareContact",
    "CareContactBody",
    "CareContactsResponse",
    "TimePeriod",
]


@dataclass(frozen=True)
class TimePeriod:
    """careContactTimePeriod: TimeStampType start and end (at least one)."""

    start: str | None
    end: str | None
    path: str


@dataclass(frozen=True)
class AdditionalPatientInformation:
    """Birth date (PartialDateType) and gender (KV Kön) for ids without a birth date."""

    date_of_birth_format: str | None
    date_of_birth_value: str | None
    gender: CV | None
    path: str

    def __repr__(self) -> str:
        return f"AdditionalPatientInformation(<hidden>, path={self.path!r})"


@dataclass(frozen=True)
class CareContactBody:
    """CareContactBodyType."""

    care_contact_code: CV | None
    care_contact_reason: str | None
    care_contact_org_unit: OrgUnit | None
    care_contact_time_period: TimePeriod
    care_contact_status: CV | None
    additional_patient_information: AdditionalPatientInformation | None
    path: str


@dataclass(frozen=True)
class CareContact:
    """One `careContact` element."""

    care_contact_header: PatientSummaryHeader
    care_contact_body: CareContactBody
    path: str


@dataclass(frozen=True)
class CareContactsResponse:
    """GetCareContactsResponse: zero or more care contacts and the result."""

    care_contact: tuple[CareContact, ...]
    result: Result
    filename: str
