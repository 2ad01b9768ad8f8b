"""Source records of the shared logistics core, with the contract's element names kept.

Every record carries `path`, the XML path it was read from, so later errors can say where.
Values are kept as the source wrote them (timestamps as YYYYMMDDhhmmss strings); checking
and converting them is the translator's job.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CV",
    "AccountableHealthcareProfessional",
    "LegalAuthenticator",
    "OrgUnit",
    "PatientSummaryHeader",
    "PersonId",
    "Result",
]


@dataclass(frozen=True)
class CV:
    """CVType: code + codeSystem (OID) + displayName, or originalText alone."""

    code: str | None
    code_system: str | None
    code_system_name: str | None
    code_system_version: str | None
    display_name: str | None
    original_text: str | None
    path: str


@dataclass(frozen=True)
class OrgUnit:
    """OrgUnitType: an organisational unit (ward, clinic) with contact details."""

    org_unit_hsa_id: str | None
    org_unit_name: str | None
    org_unit_telecom: str | None
    org_unit_email: str | None
    org_unit_address: str | None
    org_unit_location: str | None
    path: str


@dataclass(frozen=True)
class PersonId:
    """PersonIdType: id (12 digits) and type (OID of personnummer, samordningsnummer, ...)."""

    id: str
    type: str
    path: str

    def __repr__(self) -> str:
        return f"PersonId(id=<hidden>, type={self.type!r}, path={self.path!r})"


@dataclass(frozen=True)
class AccountableHealthcareProfessional:
    """HealthcareProfessionalType: who registered the information, and where (PDL units)."""

    author_time: str
    healthcare_professional_hsa_id: str | None
    healthcare_professional_name: str | None
    healthcare_professional_role_code: CV | None
    healthcare_professional_org_unit: OrgUnit | None
    healthcare_professional_care_unit_hsa_id: str | None
    healthcare_professional_care_giver_hsa_id: str | None
    path: str


@dataclass(frozen=True)
class LegalAuthenticator:
    """LegalAuthenticatorType: who signed, and when."""

    signature_time: str
    legal_authenticator_hsa_id: str | None
    legal_authenticator_name: str | None
    path: str


@dataclass(frozen=True)
class PatientSummaryHeader:
    """PatientSummaryHeaderType, shared by carePlanHeader and careContactHeader."""

    document_id: str
    source_system_hsa_id: str
    document_title: str | None
    document_time: str | None
    patient_id: PersonId
    accountable_healthcare_professional: AccountableHealthcareProfessional
    legal_authenticator: LegalAuthenticator | None
    approved_for_patient: bool
    nullified: bool
    nullified_reason: str | None
    care_contact_id: str | None
    path: str


@dataclass(frozen=True)
class Result:
    """ResultType: OK, INFO or ERROR, with the producer's log id."""

    result_code: str
    error_code: str | None
    log_id: str
    sub_code: str | None
    message: str | None
    path: str
