"""The patient's log extract: audit records as FHIR AuditEvent (R4) and as CSV.

An AuditEvent names the employee, the care unit and the care provider as agents, the
patient as the entity, and keeps the request id, the providers whose data was shown or
hidden, the decision and the chain hash as entity details. Emergency access carries
purposeOfUse ``ETREAT`` (v3-ActReason); other access ``TREAT``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from consent.audit import AuditRecord
from consent.periods import STOCKHOLM
from consent.rules import Reason
from mappings.systems import HSA_SYSTEM

__all__ = [
    "CSV_COLUMNS",
    "audit_event_bundle",
    "csv_rows",
    "patient_extract",
    "redacted",
    "to_audit_event",
    "to_csv",
]

KV_BEFATTNING = "urn:oid:1.2.752.129.2.2.1.4"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
_RESTFUL = "http://hl7.org/fhir/restful-interaction"
_RESTFUL_CODES = frozenset(
    {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history",
        "history-instance",
        "history-type",
        "history-system",
        "create",
        "search",
        "search-type",
        "search-system",
        "capabilities",
        "transaction",
        "batch",
        "operation",
    }
)
_ACTION_CODES = {"create": "C", "update": "U", "patch": "U", "delete": "D", "operation": "E"}

CSV_COLUMNS: tuple[str, ...] = (
    "time",
    "employee",
    "employee_name",
    "role",
    "care_unit",
    "care_unit_name",
    "care_provider",
    "care_provider_name",
    "action",
    "shown_providers",
    "decision",
    "emergency",
    "request_id",
)


def patient_extract(
    records: Iterable[AuditRecord], patient_id: str, care_provider: str | None = None
) -> list[AuditRecord]:
    """The one filter of a patient's log extract: the records whose signed content names
    the patient, in chain order. With ``care_provider`` only what that provider hands out
    (PDL 4 kap. 9 §): the accesses its own staff and systems made, and the accesses that
    were shown its data. What is handed out is ``redacted`` for that provider first."""
    return sorted(
        (
            record
            for record in records
            if record.patient_id == patient_id
            and (
                care_provider is None
                or record.care_provider == care_provider
                or care_provider in record.shown_providers
            )
        ),
        key=lambda record: record.sequence,
    )


_TOLD_REASONS = frozenset(
    {
        Reason.OWN_UNIT,
        Reason.OWN_PROVIDER,
        Reason.CONSENT,
        Reason.EMERGENCY,
        Reason.SYSTEM_OWN_PROVIDER,
        Reason.REPRESENTATION,
        Reason.NO_ASSIGNMENT,
        Reason.NO_RELATIONSHIP,
        Reason.NOT_REPRESENTED,
        Reason.PROVIDER_INTEGRATION,
        Reason.DIRECTORY_DATA,
    }
)
"""Reason codes an extract keeps: why data was shown, and why a reader could see nothing
at all. Why a source was hidden (a block, no consent) is told as ``not-shown``."""
NOT_SHOWN = "not-shown"
_EARLIER_REASONS = {
    "own care provider's data": Reason.SYSTEM_OWN_PROVIDER,
    "provider integration: every row of its own care provider": Reason.PROVIDER_INTEGRATION,
    "directory data": Reason.DIRECTORY_DATA,
}
"""The words records written before these reasons were codes carry for them (the chain
keeps a record as written; its extract tells the code)."""


def redacted(record: AuditRecord, provider: str | None) -> AuditRecord:
    """A record as an extract for care provider ``provider`` tells it (None: for the
    patient, through the hub's operator): hidden providers other than ``provider`` are
    left out and every reason a source was hidden reads ``not-shown``, so an extract
    tells nobody about blocks (or consents) outside its own provider. The chain fields
    stay (the hash proves the record, not this view of it)."""
    earlier = _EARLIER_REASONS.get(record.reason)
    codes = [earlier] if earlier else [code for code in record.reason.split(",") if code]
    told = sorted({code if code in _TOLD_REASONS else NOT_SHOWN for code in codes})
    hidden = tuple(p for p in record.hidden_providers if provider is not None and p == provider)
    return replace(record, reason=",".join(told) or record.reason, hidden_providers=hidden)


def _organization_agent(hsa_id: str, label: str) -> dict[str, Any]:
    return {
        "type": {"text": label},
        "who": {"identifier": {"system": HSA_SYSTEM, "value": hsa_id}},
        "requestor": False,
    }


def _purpose(record: AuditRecord) -> list[dict[str, Any]]:
    code, display = (
        ("ETREAT", "Emergency Treatment") if record.emergency else ("TREAT", "treatment")
    )
    return [{"coding": [{"system": ACT_REASON, "code": code, "display": display}]}]


def to_audit_event(record: AuditRecord) -> dict[str, Any]:
    """One record as an R4 AuditEvent resource (a plain dict)."""
    user_identifier: dict[str, str] = {"value": record.subject}
    if record.principal_kind == "user":
        user_identifier = {"system": HSA_SYSTEM, "value": record.subject}
    user: dict[str, Any] = {
        "type": {"text": record.principal_kind},
        "who": {"identifier": user_identifier},
        "requestor": True,
        "purposeOfUse": _purpose(record),
    }
    if record.role:
        user["role"] = [{"coding": [{"system": KV_BEFATTNING, "code": record.role}]}]
    agents = [user]
    if record.care_unit:
        agents.append(_organization_agent(record.care_unit, "care unit"))
    if record.care_provider:
        agents.append(_organization_agent(record.care_provider, "care provider"))
    details = [
        {"type": "request-id", "valueString": record.request_id},
        {"type": "decision", "valueString": f"{record.decision}: {record.reason}"},
        {"type": "shown-providers", "valueString": ";".join(record.shown_providers) or "-"},
        {"type": "hidden-providers", "valueString": ";".join(record.hidden_providers) or "-"},
        {"type": "chain-hash", "valueString": record.hash},
    ]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"audit-{record.sequence}",
        "type": {
            "system": "http://dicom.nema.org/resources/ontology/DCM",
            "code": "110110",
            "display": "Patient Record",
        },
        "action": _ACTION_CODES.get(record.action, "R"),
        "recorded": record.timestamp.astimezone(STOCKHOLM).isoformat(),
        "outcome": "4" if record.decision == "deny" else "0",
        "outcomeDesc": record.reason,
        "purposeOfEvent": _purpose(record),
        "agent": agents,
        "source": {
            "observer": {"display": "care-record-hub"},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                    "display": "Application Server",
                }
            ],
        },
        "entity": [
            {
                "what": {"reference": f"Patient/{record.patient_id}"},
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                    "display": "Person",
                },
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "1",
                    "display": "Patient",
                },
                "detail": details,
            }
        ],
    }
    if record.action in _RESTFUL_CODES:
        event["subtype"] = [{"system": _RESTFUL, "code": record.action}]
    return event


def audit_event_bundle(records: Iterable[AuditRecord], base_url: str) -> dict[str, Any]:
    """A Bundle (type ``collection``) of AuditEvents; ``base_url`` is the FHIR base."""
    base = base_url.rstrip("/")
    entries = [
        {
            "fullUrl": f"{base}/AuditEvent/audit-{record.sequence}",
            "resource": to_audit_event(record),
        }
        for record in records
    ]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _cell(value: str) -> str:
    """Neutralise spreadsheet formulas in a cell."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def csv_rows(
    records: Iterable[AuditRecord], names: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """One row per record; ``names`` maps HSA-ids to display names when known."""
    known = names or {}
    rows: list[dict[str, str]] = []
    for record in records:
        row = {
            "time": record.timestamp.astimezone(STOCKHOLM).isoformat(timespec="seconds"),
            "employee": record.subject,
            "employee_name": known.get(record.subject, ""),
            "role": record.role or "",
            "care_unit": record.care_unit or "",
            "care_unit_name": known.get(record.care_unit or "", ""),
            "care_provider": record.care_provider or "",
            "care_provider_name": known.get(record.care_provider or "", ""),
            "action": record.action,
            "shown_providers": ";".join(record.shown_providers),
            "decision": record.decision,
            "emergency": "yes" if record.emergency else "no",
            "request_id": record.request_id,
        }
        rows.append({column: _cell(value) for column, value in row.items()})
    return rows


def to_csv(records: Iterable[AuditRecord], names: Mapping[str, str] | None = None) -> str:
    """The extract as CSV text with a header row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(csv_rows(records, names))
    return buffer.getvalue()
