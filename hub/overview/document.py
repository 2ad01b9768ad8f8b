"""The overview as a FHIR document Bundle (`$overview`) and its IPS subset (`$summary`).

Composition first (type LOINC 60591-5, the IPS document type), then the Patient and every
resource a section refers to. Each section carries a Swedish XHTML narrative; computed
facts (follow-up state, indicators, hidden data, conflicts) are coded extensions whose
definitions are in fhir/overview/. Each entry carries its origin (source system, care
provider, last update) as the overview-entry-origin extension.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from html import escape
from typing import Any

from hub.overview import definitions as d
from hub.overview.definitions import DISCHARGE_SIP_DAYS
from hub.overview.model import DischargeNotice, Origin, Overview
from hub.overview.record import PatientRecord
from mappings.systems import HSA_SYSTEM

__all__ = ["notice_text", "overview_document", "summary_document"]

HSA = HSA_SYSTEM
EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
FOLLOW_UP_LABEL = {
    "due": "uppföljning snart",
    "overdue": "uppföljning försenad",
    "missing": "uppföljningsdatum saknas",
    "ok": "uppföljning planerad",
}


def _div(items: Iterable[str], empty: str) -> dict[str, str]:
    rows = [f"<li>{escape(item)}</li>" for item in items]
    body = f"<ul>{''.join(rows)}</ul>" if rows else f"<p>{escape(empty)}</p>"
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def _ext(url: str, **parts: Any) -> dict[str, Any]:
    extension = [
        {"url": name, value_key: value}
        for name, values in parts.items()
        for value_key, value in (values if isinstance(values, list) else [values])
    ]
    return {"url": url, "extension": extension}


def _code(system: str, code: str) -> tuple[str, dict[str, str]]:
    return ("valueCoding", {"system": system, "code": code})


def _ref(reference: str) -> tuple[str, dict[str, str]]:
    return ("valueReference", {"reference": reference})


def _origin_text(origin: Origin) -> str:
    parts = [origin.care_provider_name or origin.care_provider or "okänd vårdgivare"]
    if origin.last_updated:
        parts.append(f"uppdaterad {origin.last_updated[:10]}")
    return f" [{', '.join(parts)}]"


SIP_AFTER_DISCHARGE = {
    "due": "ska hållas senast",
    "overdue": "försenad, skulle ha hållits senast",
    "ok": "ska hållas senast",
}


def notice_text(notice: DischargeNotice) -> str:
    """One line: the notice, the stay, the SIP planning due date and the coordinator."""
    sent = f" {notice.sent:%Y-%m-%d %H:%M}" if notice.sent else ""
    sender = f" från {notice.sender}" if notice.sender else ""
    parts = [f"{notice.kind}{sent}{sender}"]
    if notice.text:
        parts.append(notice.text)
    if notice.discharged:
        parts.append(f"utskriven {notice.discharged}")
    elif notice.admitted:
        parts.append(f"inlagd sedan {notice.admitted}")
    if notice.sip_state == "held":
        parts.append("samordnad individuell plan (SIP) upprättad efter meddelandet")
    elif notice.sip_state == "pending":
        parts.append(
            "samordnad individuell planering (SIP) inom "
            f"{DISCHARGE_SIP_DAYS} dagar efter utskrivningen"
        )
    elif notice.sip_due is not None:
        parts.append(
            f"samordnad individuell planering (SIP) {SIP_AFTER_DISCHARGE[notice.sip_state]} "
            f"{notice.sip_due}"
        )
    if notice.coordinators:
        parts.append(f"samordnande vårdkontakt: {', '.join(notice.coordinators)}")
    else:
        parts.append("ingen samordnande vårdkontakt utsedd")
    return "; ".join(parts)


class _Builder:
    def __init__(self, overview: Overview, record: PatientRecord, base_url: str) -> None:
        self.overview = overview
        self.record = record
        self.base_url = base_url
        self.included: dict[str, Origin | None] = {}
        self.index = {h.reference: h for held in record.clinical.values() for h in held}

    def use(self, origin: Origin) -> dict[str, str]:
        self.included[origin.reference] = origin
        return {"reference": origin.reference}

    def section(
        self,
        key: str,
        title: str,
        lines: list[str],
        references: list[dict[str, str]],
        extensions: list[dict[str, Any]] | None = None,
        empty: str = "Inga uppgifter.",
    ) -> dict[str, Any]:
        system, code, display = d.SECTIONS[key]
        section: dict[str, Any] = {
            "title": title,
            "code": {"coding": [{"system": system, "code": code, "display": display}]},
            "text": _div(lines, empty),
        }
        if extensions:
            section["extension"] = extensions
        if references:
            section["entry"] = list({r["reference"]: r for r in references}.values())
        elif key not in ("hidden", "indicators", "care-team"):
            withheld = bool(self.overview.hidden.providers_without_consent)
            section["emptyReason"] = {
                "coding": [
                    {
                        "system": EMPTY_REASON,
                        "code": "withheld" if withheld else "nilknown",
                    }
                ]
            }
        return section

    # -- sections -------------------------------------------------------------------------

    def plans(self) -> dict[str, Any]:
        o = self.overview
        lines, refs, exts = [], [], []
        if o.medical_plan_missing:
            lines.append(o.medical_plan_missing)
            exts.append(
                _ext(d.FOLLOW_UP, state=[_code(d.FOLLOW_UP_STATE, "medical-care-plan-missing")])
            )
        for plan in o.plans:
            refs.append(self.use(plan.origin))
            text = f"{plan.kind}: {plan.title} ({plan.status})"
            if plan.overall_responsibility:
                text += f"; helhetsansvar: {plan.overall_responsibility}"
            if plan.follow_up_state:
                when = f" {plan.follow_up}" if plan.follow_up else ""
                text += f"; {FOLLOW_UP_LABEL[plan.follow_up_state]}{when}"
                parts: dict[str, Any] = {
                    "plan": [_ref(plan.origin.reference)],
                    "state": [_code(d.FOLLOW_UP_STATE, plan.follow_up_state)],
                }
                if plan.follow_up:
                    parts["date"] = [("valueDate", plan.follow_up.isoformat())]
                exts.append(_ext(d.FOLLOW_UP, **parts))
            lines.append(text + _origin_text(plan.origin))
            lines += [f"Behandlingsbegränsning: {t}" for t in plan.limitations]
            lines += [f"Mål: {g}" for g in plan.goals]
            for a in plan.activities:
                who = f", {a.who}" if a.who else ""
                when = f", {a.when}" if a.when else ""
                man = f", ansvarig huvudman {a.huvudman}" if a.huvudman else ""
                lines.append(f"Insats: {a.what}{who}{when} ({a.status}){man}")
            for goal_ref in self.index[plan.origin.reference].resource.get("goal") or []:
                goal = self.index.get(str(goal_ref.get("reference")))
                if goal is not None:
                    self.included[goal.reference] = None
        for plan, activity in o.declined:
            lines.append(
                f"Avböjd insats: {activity.what} ({activity.status}), {plan.title}"
                + _origin_text(plan.origin)
            )
        for notice in o.discharges:
            refs.append(self.use(notice.origin))
            lines.append(notice_text(notice) + _origin_text(notice.origin))
            if notice.sip_due is not None and notice.sip_state in FOLLOW_UP_LABEL:
                exts.append(
                    _ext(
                        d.FOLLOW_UP,
                        notice=[_ref(notice.origin.reference)],
                        state=[_code(d.FOLLOW_UP_STATE, notice.sip_state)],
                        date=[("valueDate", notice.sip_due.isoformat())],
                    )
                )
        for conflict in o.conflicts:
            if conflict.kind == "two-active-sips":
                lines.append(f"Konflikt: {conflict.label}")
                exts.append(self.conflict(conflict.kind, conflict.references))
        return self.section("plans", "Planer", lines, refs, exts, "Inga aktuella planer.")

    def conflict(self, kind: str, references: Iterable[str]) -> dict[str, Any]:
        return _ext(
            d.CONFLICT, kind=[_code(d.CONFLICT_KIND, kind)], entry=[_ref(r) for r in references]
        )

    def care_team(self) -> dict[str, Any]:
        o = self.overview
        lines, refs, exts = [], [], []
        listing = o.listing
        lines.append(f"Listad vårdcentral: {listing.vardcentral or 'okänd'}")
        lines.append(f"Hemsjukvårdsenhet: {listing.home_care or 'okänd'}")
        lines.append(f"Rehabenhet: {listing.rehab or 'okänd'}")
        for member in o.team:
            refs.append(self.use(member.origin))
            roles = ", ".join(member.roles) or "teammedlem"
            lines.append(f"{member.name}: {roles}" + (f" ({member.unit})" if member.unit else ""))
        for route in o.contact_routes:
            if route.origin is not None:
                refs.append(self.use(route.origin))
            hours = f" ({route.availability})" if route.availability else ""
            lines.append(f"Kontaktväg {route.label}: {route.value}{hours}")
        for conflict in o.conflicts:
            if conflict.kind == "two-coordinating-contacts":
                lines.append(f"Konflikt: {conflict.label}")
                exts.append(self.conflict(conflict.kind, conflict.references))
        return self.section("care-team", "Vårdteam och kontaktvägar", lines, refs, exts)

    def timeline(self) -> dict[str, Any]:
        lines, refs = [], []
        for event in self.overview.timeline:
            refs.append(self.use(event.origin))
            when = event.start.strftime("%Y-%m-%d %H:%M")
            label = "Kommande" if event.upcoming else "Senaste"
            unit = f", {event.unit}" if event.unit else ""
            lines.append(
                f"{label}: {when} {event.kind} ({event.status}){unit}" + _origin_text(event.origin)
            )
        return self.section(
            "timeline", "Tidslinje", lines, refs, empty="Inga vårdkontakter de senaste 90 dagarna."
        )

    def indicators(self) -> dict[str, Any]:
        lines, exts = [], []
        for value in self.overview.indicators:
            lines.append(
                f"{value.window_label} ({value.start}–{value.end}): {value.label} {value.value}"
            )
            exts.append(
                _ext(
                    d.INDICATOR,
                    indicator=[_code(d.INDICATOR_CODE, value.code)],
                    window=[_code(d.INDICATOR_CODE, value.window)],
                    value=[("valueInteger", value.value)],
                    period=[
                        (
                            "valuePeriod",
                            {"start": value.start.isoformat(), "end": value.end.isoformat()},
                        )
                    ],
                )
            )
        return self.section("indicators", "Indikatorer", lines, [], exts)

    def clinical(self, key: str, title: str, items: list[Any], empty: str) -> dict[str, Any]:
        lines, refs = [], []
        for item in items:
            refs.append(self.use(item.origin))
            detail = f": {item.detail}" if item.detail else ""
            lines.append(f"{item.text}{detail}" + _origin_text(item.origin))
        return self.section(key, title, lines, refs, empty=empty)

    def hidden(self) -> dict[str, Any]:
        hidden = self.overview.hidden
        lines = []
        if hidden.no_relationship:
            lines.append(
                "Ingen vårdrelation med patienten är registrerad vid din vårdenhet, så ingen "
                "journalinformation visas. Registrera vårdkontakten (till exempel inskrivning "
                "eller besök) och läs igen."
            )
        count = len(hidden.providers_without_consent)
        if count:
            names = ", ".join(name for _, name in hidden.providers_without_consent)
            lines.append(
                f"{count} vårdgivare har information som inte visas eftersom samtycke saknas "
                f"({names}). Registrera patientens samtycke, eller öppna nödåtkomst om "
                "patienten inte kan tillfrågas."
            )
        if hidden.emergency:
            lines.append("Nödåtkomst är öppen: åtkomsten loggas och följs upp.")
            for _, name in hidden.blocked_providers:
                lines.append(
                    f"{name} har spärrad information, som inte visas. Be vårdgivaren om hävning."
                )
        parts: dict[str, Any] = {
            "providersWithoutConsent": [("valueInteger", count)],
            "emergency": [("valueBoolean", hidden.emergency)],
            "noCareRelationship": [("valueBoolean", hidden.no_relationship)],
        }
        if hidden.blocked_providers:
            parts["blockedProvider"] = [
                ("valueIdentifier", {"system": HSA, "value": hsa})
                for hsa, _ in hidden.blocked_providers
            ]
        return self.section(
            "hidden",
            "Dold information",
            lines,
            [],
            [_ext(d.HIDDEN_DATA, **parts)],
            empty="All information du har rätt att se visas.",
        )

    # -- the bundle -----------------------------------------------------------------------

    def bundle(self, sections: list[dict[str, Any]], title: str) -> dict[str, Any]:
        o = self.overview
        now = o.generated.isoformat()
        patient_ref = f"Patient/{o.patient_id}"
        composition = {
            "resourceType": "Composition",
            "id": str(uuid.uuid4()),
            "status": "final",
            "type": {
                "coding": [
                    {"system": d.LOINC, "code": d.IPS_DOCUMENT[0], "display": d.IPS_DOCUMENT[1]}
                ]
            },
            "subject": {"reference": patient_ref},
            "date": now,
            "author": [{"display": "Care-record hub (sammanställd översikt)"}],
            "title": title,
            "confidentiality": "N",
            "section": sections,
        }
        entries = [
            {"fullUrl": f"urn:uuid:{composition['id']}", "resource": composition},
            {"fullUrl": f"{self.base_url}/{patient_ref}", "resource": self.record.patient},
        ]
        for reference in self.included:
            held = self.index.get(reference)
            if held is None:
                continue
            entry: dict[str, Any] = {
                "fullUrl": f"{self.base_url}/{reference}",
                "resource": held.resource,
            }
            parts: dict[str, Any] = {}
            if held.source_system:
                parts["sourceSystem"] = [("valueUri", held.source_system)]
            if held.care_provider:
                parts["careProvider"] = [
                    ("valueIdentifier", {"system": HSA, "value": held.care_provider})
                ]
            if held.last_updated:
                parts["lastUpdated"] = [("valueInstant", held.last_updated)]
            if parts:
                entry["extension"] = [_ext(d.ENTRY_ORIGIN, **parts)]
            entries.append(entry)
        return {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": now},
            "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
            "type": "document",
            "timestamp": now,
            "entry": entries,
        }


def _all_sections(b: _Builder) -> dict[str, dict[str, Any]]:
    o = b.overview
    return {
        "plans": b.plans(),
        "care-team": b.care_team(),
        "medications": b.clinical(
            "medications", "Läkemedel", o.medications, "Ingen läkemedelslista."
        ),
        "alerts": b.clinical(
            "alerts", "Uppmärksamhetsinformation", o.alerts, "Ingen uppmärksamhetsinformation."
        ),
        "allergies": b.clinical(
            "allergies",
            "Allergier och överkänslighet",
            o.allergies,
            "Inga kända allergier registrerade.",
        ),
        "problems": b.clinical("problems", "Diagnoser", o.problems, "Inga diagnoser registrerade."),
        "timeline": b.timeline(),
        "indicators": b.indicators(),
        "hidden": b.hidden(),
    }


def overview_document(overview: Overview, record: PatientRecord, base_url: str) -> dict[str, Any]:
    """$overview: every section."""
    builder = _Builder(overview, record, base_url)
    sections = _all_sections(builder)
    order = (
        "plans",
        "care-team",
        "medications",
        "alerts",
        "allergies",
        "problems",
        "timeline",
        "indicators",
        "hidden",
    )
    return builder.bundle(
        [sections[k] for k in order], f"Patientöversikt {overview.generated:%Y-%m-%d %H:%M}"
    )


def summary_document(overview: Overview, record: PatientRecord, base_url: str) -> dict[str, Any]:
    """$summary: the IPS sections only (medications, allergies, problems, plan of care, alerts)."""
    builder = _Builder(overview, record, base_url)
    o = overview
    sections = {
        "medications": builder.clinical(
            "medications", "Läkemedel", o.medications, "Ingen läkemedelslista."
        ),
        "allergies": builder.clinical(
            "allergies",
            "Allergier och överkänslighet",
            o.allergies,
            "Inga kända allergier registrerade.",
        ),
        "problems": builder.clinical(
            "problems", "Diagnoser", o.problems, "Inga diagnoser registrerade."
        ),
        "plans": builder.plans(),
        "alerts": builder.clinical(
            "alerts", "Uppmärksamhetsinformation", o.alerts, "Ingen uppmärksamhetsinformation."
        ),
    }
    return builder.bundle([sections[k] for k in d.IPS_SECTIONS], "Patientsammanfattning (IPS)")
