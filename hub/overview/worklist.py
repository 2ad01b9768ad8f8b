"""The unit work list: the reader's unit's patients whose follow-up is due or overdue.

`$follow-up-due?within=N`: for the patients the reader's own care unit has a care
relationship with (`Access.unit_patients`), the plans are checked as the overview checks
them: a plan whose follow-up date falls within N days or has passed, a SIP without a
follow-up date, and a medical care plan missing past its deadline. The data comes from a
few indexed queries over all those patients at once (`Access.patients_resources`: their
Patients, CarePlans and EpisodesOfCare, each row under the reader's decision for its
patient, audited per patient), never from reading each patient's record in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from hub.access.guard import Access
from hub.fhir_dates import STOCKHOLM
from hub.overview import definitions as d
from hub.overview.model import Overview, build_plans
from hub.overview.record import Held, PatientRecord
from hub.search.parameters import SearchParameterRegistry

__all__ = ["WorkItem", "follow_up_due", "work_list_bundle"]

MAX_WITHIN_DAYS = 365
PATIENTS_PER_SEARCH = 500
"""Patients per query (the id list and the scope's grants grow with it)."""
PLAN_TYPES = ("CarePlan", "EpisodeOfCare")


@dataclass(frozen=True)
class WorkItem:
    patient_id: str
    name: str
    identifier: str | None
    state: str
    what: str
    due: date | None
    plan: str | None
    patient: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _items(overview: Overview, patient: dict[str, Any], horizon: date) -> list[WorkItem]:
    items = []
    if overview.medical_plan_missing:
        items.append(
            WorkItem(
                overview.patient_id,
                overview.name,
                overview.identifier,
                "medical-care-plan-missing",
                overview.medical_plan_missing,
                None,
                None,
                patient,
            )
        )
    for plan in overview.plans:
        state = plan.follow_up_state
        if (
            state == "missing"
            or state == "overdue"
            or (plan.follow_up is not None and plan.follow_up <= horizon and state in ("due", "ok"))
        ):
            items.append(
                WorkItem(
                    overview.patient_id,
                    overview.name,
                    overview.identifier,
                    "due" if state == "ok" else str(state),
                    f"Uppföljning av {plan.kind}: {plan.title}",
                    plan.follow_up,
                    plan.origin.reference,
                    patient,
                )
            )
    return items


def _records(access: Access, patient_ids: list[str]) -> list[PatientRecord]:
    """The patients with their visible CarePlans and EpisodesOfCare: one indexed query per
    type and PATIENTS_PER_SEARCH patients."""
    records: dict[str, PatientRecord] = {}
    for first in range(0, len(patient_ids), PATIENTS_PER_SEARCH):
        chunk = patient_ids[first : first + PATIENTS_PER_SEARCH]
        for stored in access.patients_resources("Patient", chunk):
            records[stored.id] = PatientRecord(patient=orjson.loads(stored.content or b"{}"))
        found = [p for p in chunk if p in records]
        for resource_type in PLAN_TYPES:
            for stored in access.patients_resources(resource_type, found):
                record = records.get(stored.patient_id or "")
                if record is not None:
                    held = Held(
                        orjson.loads(stored.content or b"{}"),
                        stored.care_provider,
                        stored.care_unit,
                    )
                    record.clinical.setdefault(resource_type, []).append(held)
    return [records[p] for p in patient_ids if p in records]


def follow_up_due(
    access: Access, registry: SearchParameterRegistry, within_days: int, now: datetime
) -> list[WorkItem]:
    """Every flagged follow-up of the reader's unit, most urgent first."""
    horizon = now.astimezone(STOCKHOLM).date() + timedelta(days=within_days)
    found: list[WorkItem] = []
    for record in _records(access, access.unit_patients()):
        record.notice = access.decision(str(record.patient["id"])).notice
        found += _items(build_plans(record, now), record.patient, horizon)
    order = {"medical-care-plan-missing": 0, "overdue": 1, "missing": 2, "due": 3}
    found.sort(key=lambda i: (order.get(i.state, 9), i.due or date.min, i.name))
    return found


def work_list_bundle(items: list[WorkItem], base_url: str, now: datetime) -> dict[str, Any]:
    """A searchset: one Patient entry per patient, carrying its follow-up extensions."""
    by_patient: dict[str, list[WorkItem]] = {}
    for item in items:
        by_patient.setdefault(item.patient_id, []).append(item)
    entries = []
    for patient_id, patient_items in by_patient.items():
        extensions = []
        for item in patient_items:
            parts: list[dict[str, Any]] = [
                {"url": "state", "valueCoding": {"system": d.FOLLOW_UP_STATE, "code": item.state}}
            ]
            if item.plan:
                parts.append({"url": "plan", "valueReference": {"reference": item.plan}})
            if item.due:
                parts.append({"url": "date", "valueDate": item.due.isoformat()})
            extensions.append({"url": d.FOLLOW_UP, "extension": parts})
        first = patient_items[0]
        patient = first.patient or {"resourceType": "Patient", "id": patient_id}
        entries.append(
            {
                "fullUrl": f"{base_url}/Patient/{patient_id}",
                "extension": extensions,
                "resource": patient,
                "search": {"mode": "match"},
            }
        )
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "meta": {"lastUpdated": now.isoformat()},
        "total": len(entries),
        "entry": entries,
    }
