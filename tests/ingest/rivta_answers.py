"""Synthetic GetCarePlans 2.0 and GetCareContacts 3.0 answers for intake tests.

`care_plans_answer(records)` writes an answer whose records each name their own sender,
as the national aggregating services send them; `Sender` says who sent one record.
"""

from __future__ import annotations

from dataclasses import dataclass

PLANS_NS = "urn:riv:clinicalprocess:logistics:logistics:GetCarePlansResponder:2"
CONTACTS_NS = "urn:riv:clinicalprocess:logistics:logistics:GetCareContactsResponder:3"
CORE_NS = "urn:riv:clinicalprocess:logistics:logistics:3"
PERSONNUMMER_OID = "1.2.752.129.2.1.3.1"
KV_BEFATTNING_OID = "1.2.752.129.2.2.1.4"


@dataclass(frozen=True)
class Sender:
    """One record's sender: source system, care giver, care unit."""

    system: str
    care_giver: str
    care_unit: str


@dataclass(frozen=True)
class PlanRecord:
    document_id: str
    sender: Sender
    personnummer: str = "191212121212"
    author_time: str = "20260301100000"
    plan_type: str | None = "SIP"
    title: str = "Plan"
    participating_units: tuple[tuple[str, str], ...] = ()
    nullified: bool | None = None
    nullified_reason: str | None = None
    role_code: str | None = None
    """A KV Befattning code for healthcareProfessionalRoleCode."""
    content: bool = False
    """Whether the plan carries a (text) document, which becomes a DocumentReference."""


def _header(tag: str, record: PlanRecord, *, title: bool) -> str:
    sender = record.sender
    nullified = ""
    if record.nullified is not None:
        nullified += f"<core:nullified>{str(record.nullified).lower()}</core:nullified>"
    if record.nullified_reason is not None:
        nullified += f"<core:nullifiedReason>{record.nullified_reason}</core:nullifiedReason>"
    return f"""<core:{tag}>
      <core:documentId>{record.document_id}</core:documentId>
      <core:sourceSystemHSAId>{sender.system}</core:sourceSystemHSAId>
      {f"<core:documentTitle>{record.title}</core:documentTitle>" if title else ""}
      <core:patientId><core:id>{record.personnummer}</core:id>
        <core:type>{PERSONNUMMER_OID}</core:type></core:patientId>
      <core:accountableHealthcareProfessional>
        <core:authorTime>{record.author_time}</core:authorTime>
        {_role(record.role_code)}
        <core:healthcareProfessionalCareUnitHSAId>{sender.care_unit}</core:healthcareProfessionalCareUnitHSAId>
        <core:healthcareProfessionalCareGiverHSAId>{sender.care_giver}</core:healthcareProfessionalCareGiverHSAId>
      </core:accountableHealthcareProfessional>
      <core:approvedForPatient>true</core:approvedForPatient>
      {nullified}
    </core:{tag}>"""


def _role(code: str | None) -> str:
    if code is None:
        return ""
    return (
        f"<core:healthcareProfessionalRoleCode><core:code>{code}</core:code>"
        f"<core:codeSystem>{KV_BEFATTNING_OID}</core:codeSystem>"
        "</core:healthcareProfessionalRoleCode>"
    )


def _plan(record: PlanRecord) -> str:
    units = "".join(
        f"<core:participatingCareUnitHSAId><core:root>{root}</core:root>"
        f"<core:extension>{extension}</core:extension></core:participatingCareUnitHSAId>"
        for root, extension in record.participating_units
    )
    plan_type = (
        f"<core:typeOfCarePlanEnum>{record.plan_type}</core:typeOfCarePlanEnum>"
        if record.plan_type
        else ""
    )
    content = (
        "<core:content><core:mediaType>text/plain</core:mediaType>"
        "<core:value>UGxhbg==</core:value></core:content>"
        if record.content
        else ""
    )
    return f"""<carePlan>
    {_header("carePlanHeader", record, title=True)}
    <core:carePlanBody>{content}{units}{plan_type}</core:carePlanBody>
  </carePlan>"""


def _result() -> str:
    return (
        "<result><core:resultCode>OK</core:resultCode>"
        "<core:logId>0f0e0d0c-0b0a-4909-8807-060504030201</core:logId></result>"
    )


def care_plans_answer(records: list[PlanRecord]) -> bytes:
    """A GetCarePlansResponse holding these records (none: an empty answer, result OK)."""
    body = "".join(_plan(record) for record in records)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<GetCarePlansResponse xmlns="{PLANS_NS}" '
        f'xmlns:core="{CORE_NS}">{body}{_result()}</GetCarePlansResponse>'
    ).encode()


def care_contacts_answer(records: list[PlanRecord]) -> bytes:
    """A GetCareContactsResponse: one home visit per record (documentId, sender, time)."""
    body = "".join(
        f"""<careContact>
    {_header("careContactHeader", record, title=False)}
    <core:careContactBody>
      <core:careContactTimePeriod><core:start>{record.author_time}</core:start>
        <core:end>{record.author_time}</core:end></core:careContactTimePeriod>
    </core:careContactBody>
  </careContact>"""
        for record in records
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<GetCareContactsResponse '
        f'xmlns="{CONTACTS_NS}" xmlns:core="{CORE_NS}">{body}{_result()}'
        "</GetCareContactsResponse>"
    ).encode()
