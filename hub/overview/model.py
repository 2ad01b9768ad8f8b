"""The overview as plain data, computed from a PatientRecord at a moment.

`build_overview(record, now)` is pure: the FHIR document (document.py) and the clinician
page (hub/web) both render what it returns, so the API and the page always agree. Every
item keeps its Origin (source system, care provider, last update); conflicts are listed,
never merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from hub.fhir_dates import STOCKHOLM
from hub.overview import definitions as d
from hub.overview.indicators import IndicatorValue, enrolment_windows, indicators_for
from hub.overview.record import Held, PatientRecord, hsa_of
from mappings import load_table

__all__ = [
    "Activity",
    "ClinicalItem",
    "Conflict",
    "ContactRoute",
    "DischargeNotice",
    "Event",
    "Hidden",
    "Listing",
    "Origin",
    "Overview",
    "PlanView",
    "TeamMember",
    "build_overview",
    "build_plans",
    "parse_moment",
]

DUE_WITHIN_DAYS = 7
"""A follow-up counts as due when it falls within this many days (hub decision)."""
RECENT_DAYS = 90
TIMELINE_LIMIT = 30
CURRENT_PLAN_STATUSES = frozenset({"active", "on-hold", "draft", "unknown"})
ACTIVITY_STATUS = {
    "not-started": "ej påbörjad",
    "scheduled": "planerad",
    "in-progress": "pågående",
    "on-hold": "pausad",
    "completed": "utförd",
    "cancelled": "avbruten",
    "stopped": "avslutad",
    "unknown": "okänd",
    "entered-in-error": "felregistrerad",
}
PLAN_STATUS = {
    "active": "aktiv",
    "on-hold": "pausad",
    "draft": "utkast",
    "unknown": "status okänd",
    "completed": "avslutad",
    "revoked": "återkallad",
}
ENCOUNTER_STATUS = {
    "planned": "planerad",
    "arrived": "anländ",
    "triaged": "triagerad",
    "in-progress": "pågående",
    "onleave": "permission",
    "finished": "genomförd",
    "cancelled": "inställd",
    "unknown": "status okänd",
}
CRITICALITY = {"high": "hög allvarlighet", "low": "låg allvarlighet"}
ENCOUNTER_CLASS = {
    "HH": "Hembesök",
    "AMB": "Besök",
    "VR": "Telefon/video",
    "IMP": "Vårdtillfälle",
    "EMER": "Akutbesök",
    "SS": "Dagsjukvård",
}


@dataclass(frozen=True)
class Origin:
    """Where an item comes from: shown beside every item."""

    reference: str
    source_system: str | None
    care_provider: str | None
    care_provider_name: str | None
    last_updated: str | None


@dataclass(frozen=True)
class Activity:
    what: str
    who: str | None
    when: str | None
    status: str | None
    huvudman: str | None
    declined: bool = False


@dataclass(frozen=True)
class PlanView:
    origin: Origin
    title: str
    kind: str
    kind_code: str | None
    status: str
    is_sip: bool
    is_medical: bool
    huvudman: str | None
    overall_responsibility: str | None
    follow_up: date | None
    follow_up_state: str | None
    goals: tuple[str, ...]
    activities: tuple[Activity, ...]
    limitations: tuple[str, ...]
    description: str | None


@dataclass(frozen=True)
class TeamMember:
    origin: Origin
    name: str
    roles: tuple[str, ...]
    role_codes: tuple[str, ...]
    unit: str | None
    team: str | None


@dataclass(frozen=True)
class ContactRoute:
    label: str
    value: str
    availability: str | None
    origin: Origin | None

    @property
    def out_of_hours(self) -> bool:
        """Answers outside office hours (on-call, around the clock), as its hours say."""
        text = (self.availability or "").lower()
        return any(word in text for word in ("jour", "dygnet runt", "natt", "kväll", "helg"))


@dataclass(frozen=True)
class Listing:
    vardcentral: str | None
    home_care: str | None
    rehab: str | None


@dataclass(frozen=True)
class Event:
    origin: Origin
    start: datetime
    end: datetime | None
    kind: str
    status: str
    unit: str | None
    reason: str | None
    upcoming: bool


@dataclass(frozen=True)
class DischargeNotice:
    """A hospital's notice under lag 2017:612 (DOMAIN scenario 5) with the SIP planning it
    calls for: due `DISCHARGE_SIP_DAYS` after the discharge, `held` once a SIP was drawn
    up after the notice, `pending` while the patient is still admitted."""

    origin: Origin
    kind: str
    kind_code: str
    sent: datetime | None
    sender: str | None
    text: str | None
    admitted: date | None
    discharged: date | None
    sip_due: date | None
    sip_state: str
    coordinators: tuple[str, ...]


@dataclass(frozen=True)
class ClinicalItem:
    origin: Origin
    text: str
    detail: str | None
    status: str | None


@dataclass(frozen=True)
class Conflict:
    kind: str
    label: str
    references: tuple[str, ...]


@dataclass(frozen=True)
class Hidden:
    """What the reader may be told about data it cannot see (ReaderNotice, with names)."""

    providers_without_consent: tuple[tuple[str, str], ...]
    blocked_providers: tuple[tuple[str, str], ...]
    emergency: bool
    no_relationship: bool = False


@dataclass
class Overview:
    patient_id: str
    name: str
    identifier: str | None
    identifier_system: str | None
    birth_date: str | None
    gender: str | None
    generated: datetime
    plans: list[PlanView] = field(default_factory=list)
    medical_plan_missing: str | None = None
    enrolment: str | None = None
    team: list[TeamMember] = field(default_factory=list)
    contact_routes: list[ContactRoute] = field(default_factory=list)
    listing: Listing = field(default_factory=lambda: Listing(None, None, None))
    timeline: list[Event] = field(default_factory=list)
    indicators: list[IndicatorValue] = field(default_factory=list)
    medications: list[ClinicalItem] = field(default_factory=list)
    problems: list[ClinicalItem] = field(default_factory=list)
    allergies: list[ClinicalItem] = field(default_factory=list)
    alerts: list[ClinicalItem] = field(default_factory=list)
    hidden: Hidden = field(default_factory=lambda: Hidden((), (), False))
    conflicts: list[Conflict] = field(default_factory=list)
    discharges: list[DischargeNotice] = field(default_factory=list)
    truncated: bool = False

    @property
    def declined(self) -> list[tuple[PlanView, Activity]]:
        """Insatser the person declined (DOMAIN scenario 8), with their plan."""
        return [(plan, a) for plan in self.plans for a in plan.activities if a.declined]

    @property
    def limitations(self) -> list[tuple[PlanView, str]]:
        return [(plan, text) for plan in self.plans for text in plan.limitations]

    @property
    def coordinators(self) -> list[TeamMember]:
        return [m for m in self.team if "samordnande-vardkontakt" in m.role_codes]

    @property
    def follow_ups_flagged(self) -> list[PlanView]:
        return [p for p in self.plans if p.follow_up_state in ("due", "overdue", "missing")]


# -- small readers of FHIR JSON -----------------------------------------------------------


def parse_moment(text: str | None) -> datetime | None:
    """A FHIR date or dateTime as an aware datetime (dates at 00:00 Europe/Stockholm)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=STOCKHOLM)
        if len(text) in (4, 7):
            return None
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=STOCKHOLM)


def _date(text: str | None) -> date | None:
    moment = parse_moment(text)
    return moment.astimezone(STOCKHOLM).date() if moment else None


def codes(concepts: list[dict[str, Any]] | dict[str, Any] | None, system: str) -> list[str]:
    if concepts is None:
        return []
    items = concepts if isinstance(concepts, list) else [concepts]
    return [
        str(c["code"])
        for concept in items
        for c in concept.get("coding") or []
        if c.get("system") == system and c.get("code")
    ]


def concept_text(concept: dict[str, Any] | None) -> str | None:
    if not concept:
        return None
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    for coding in concept.get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return None


def person_name(resource: dict[str, Any] | None) -> str | None:
    if not resource:
        return None
    if resource.get("name") and isinstance(resource["name"], str):
        return str(resource["name"])
    for name in resource.get("name") or []:
        if name.get("text"):
            return str(name["text"])
        parts = [*(name.get("given") or []), name.get("family") or ""]
        text = " ".join(p for p in parts if p).strip()
        if text:
            return text
    return None


def _extension(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension") or [] if e.get("url") == url]


class _Names:
    """Display names of references, resolved against the record's directory."""

    def __init__(self, record: PatientRecord) -> None:
        self.record = record

    def of(self, reference: dict[str, Any] | None) -> str | None:
        if not reference:
            return None
        resource = self.record.resolve(reference)
        name = person_name(resource)
        if resource is not None and resource["resourceType"] == "PractitionerRole":
            practitioner = self.record.resolve(resource.get("practitioner"))
            name = person_name(practitioner)
            organization = self.record.resolve(resource.get("organization"))
            if name and organization and organization.get("name"):
                name = f"{name} ({organization['name']})"
        if name:
            return name
        display = reference.get("display")
        if display:
            return str(display)
        identifier = reference.get("identifier") or {}
        return str(identifier["value"]) if identifier.get("value") else None

    def provider(self, hsa: str | None) -> str | None:
        organization = self.record.organization_by_hsa(hsa)
        if organization and organization.get("name"):
            return str(organization["name"])
        return hsa

    def origin(self, held: Held) -> Origin:
        return Origin(
            reference=held.reference,
            source_system=held.source_system,
            care_provider=held.care_provider,
            care_provider_name=self.provider(held.care_provider),
            last_updated=held.last_updated,
        )


# -- sections -----------------------------------------------------------------------------


def _when(detail: dict[str, Any]) -> str | None:
    if detail.get("scheduledString"):
        return str(detail["scheduledString"])
    timing = detail.get("scheduledTiming") or {}
    text = concept_text(timing.get("code"))
    bounds = (timing.get("repeat") or {}).get("boundsPeriod") or {}
    period = detail.get("scheduledPeriod") or bounds
    start = period.get("start")
    if text and start:
        return f"{text} (från {start[:10]})"
    if text:
        return text
    return f"från {start[:10]}" if start else None


def _follow_up_state(plan_date: date | None, is_sip: bool, today: date) -> str | None:
    if plan_date is None:
        return "missing" if is_sip else None
    if plan_date < today:
        return "overdue"
    if plan_date <= today + timedelta(days=DUE_WITHIN_DAYS):
        return "due"
    return "ok"


def _declined(detail: dict[str, Any]) -> str | None:
    """The display of a declined activity's reason (the source code kept in statusReason,
    DOMAIN scenario 8), None when the activity was not declined."""
    table = load_table(d.ACTIVITY_STATUS_TABLE)
    row = table.lookup(d.DECLINED_ACTIVITY_CODE)
    if detail.get("status") != "stopped":
        return None
    for coding in (detail.get("statusReason") or {}).get("coding") or []:
        if coding.get("system") == table.source_system and coding.get("code") == row.code:
            return str(row.display or row.code)
    return None


def _plan(held: Held, names: _Names, record: PatientRecord, today: date) -> PlanView:
    plan = held.resource
    kinds = codes(plan.get("category"), d.CARE_PLAN_TYPE)
    is_medical = d.MEDICAL_CARE_PLAN in codes(plan.get("category"), d.CARE_PLAN_KIND)
    is_sip = "SIP" in kinds
    kind = "Medicinsk vårdplan" if is_medical else None
    for category in plan.get("category") or []:
        kind = kind or concept_text(category)
    follow_extension = _extension(
        plan, "https://hub.example.se/fhir/StructureDefinition/sip-follow-up-date"
    )
    follow_up = _date(follow_extension[0].get("valueDate")) if follow_extension else None
    overall = _extension(
        plan, "https://hub.example.se/fhir/StructureDefinition/sip-overall-responsibility"
    )
    goals: list[str] = []
    goal_index = {g.reference: g.resource for g in record.of("Goal")}
    for goal_ref in plan.get("goal") or []:
        goal = goal_index.get(str(goal_ref.get("reference")))
        if goal is not None:
            text = concept_text(goal.get("description")) or "Mål"
            due = next(
                (t.get("dueDate") for t in goal.get("target") or [] if t.get("dueDate")), None
            )
            goals.append(f"{text} (måldatum {due})" if due else text)
    activities = []
    for activity in plan.get("activity") or []:
        detail = activity.get("detail") or {}
        huvudman = _extension(
            detail,
            "https://hub.example.se/fhir/StructureDefinition/sip-activity-responsible-huvudman",
        )
        who = ", ".join(filter(None, (names.of(p) for p in detail.get("performer") or [])))
        declined = _declined(detail)
        activities.append(
            Activity(
                what=str(detail.get("description") or concept_text(detail.get("code")) or "Insats"),
                who=who or None,
                when=_when(detail),
                status=declined.lower()
                if declined
                else ACTIVITY_STATUS.get(str(detail.get("status")), detail.get("status")),
                huvudman=names.of(huvudman[0].get("valueReference")) if huvudman else None,
                declined=declined is not None,
            )
        )
    limitations = tuple(
        str(e["valueString"])
        for e in _extension(plan, d.TREATMENT_LIMITATION)
        if e.get("valueString")
    )
    status = str(plan.get("status") or "unknown")
    return PlanView(
        origin=names.origin(held),
        title=str(plan.get("title") or kind or "Plan"),
        kind=kind or "Plan",
        kind_code="medicinsk-vardplan" if is_medical else (kinds[0] if kinds else None),
        status=PLAN_STATUS.get(status, status),
        is_sip=is_sip,
        is_medical=is_medical,
        huvudman=names.provider(held.care_provider),
        overall_responsibility=names.of(overall[0].get("valueReference")) if overall else None,
        follow_up=follow_up,
        follow_up_state=_follow_up_state(follow_up, is_sip, today),
        goals=tuple(goals),
        activities=tuple(activities),
        limitations=limitations,
        description=str(plan["description"]) if plan.get("description") else None,
    )


def _enrolments(record: PatientRecord) -> list[Held]:
    """Enrolment episodes (hemsjukvård, mobile team, home rehab), newest first."""
    found = [
        held
        for held in record.of("EpisodeOfCare")
        if set(codes(held.resource.get("type"), d.EPISODE_TYPE)) & set(d.ENROLMENT_TYPES)
        and held.resource.get("status") not in ("entered-in-error", "cancelled")
    ]
    return sorted(
        found, key=lambda h: str((h.resource.get("period") or {}).get("start") or ""), reverse=True
    )


def _active(held: Held, now: datetime) -> bool:
    episode = held.resource
    if episode.get("status") not in ("active", "onhold"):
        return False
    end = parse_moment((episode.get("period") or {}).get("end"))
    return end is None or end > now


def _plans(overview: Overview, record: PatientRecord, names: _Names, now: datetime) -> None:
    today = now.astimezone(STOCKHOLM).date()
    current = [
        h for h in record.of("CarePlan") if h.resource.get("status") in CURRENT_PLAN_STATUSES
    ]
    plans = [_plan(h, names, record, today) for h in current]
    plans.sort(key=lambda p: (not p.is_medical, not p.is_sip, p.title))
    overview.plans = plans
    active_sips = [p for p in plans if p.is_sip and p.status == "aktiv"]
    if len(active_sips) > 1:
        overview.conflicts.append(
            Conflict(
                "two-active-sips",
                f"{len(active_sips)} aktiva SIP från olika källor: kontrollera vilken som gäller",
                tuple(p.origin.reference for p in active_sips),
            )
        )
    enrolments = [h for h in _enrolments(record) if _active(h, now)]
    described = []
    for held in enrolments:
        episode = held.resource
        kind = sorted(set(codes(episode.get("type"), d.EPISODE_TYPE)) & set(d.ENROLMENT_TYPES))[0]
        unit = names.of(episode.get("managingOrganization"))
        began = _date((episode.get("period") or {}).get("start"))
        described.append(f"{d.ENROLMENT_TYPES[kind]} sedan {began}" + (f", {unit}" if unit else ""))
    overview.enrolment = "; ".join(described) or None
    if enrolments:
        episode = next(
            (
                h.resource
                for h in enrolments
                if not set(codes(h.resource.get("type"), d.EPISODE_TYPE)) & d.REHAB_TYPES
            ),
            enrolments[0].resource,
        )
        start = _date((episode.get("period") or {}).get("start"))
        has_medical = any(p.is_medical for p in plans)
        if start is not None and not has_medical:
            deadline = start + timedelta(days=d.MEDICAL_CARE_PLAN_DEADLINE_DAYS)
            if deadline < today:
                overview.medical_plan_missing = (
                    f"Medicinsk vårdplan saknas: den skulle ha upprättats senast {deadline} "
                    f"({d.MEDICAL_CARE_PLAN_DEADLINE_DAYS} dagar efter inskrivningen {start})."
                )
                if record.notice is not None and record.notice.providers_without_consent:
                    overview.medical_plan_missing += (
                        " Den kan finnas hos en vårdgivare vars information inte visas "
                        "utan samtycke."
                    )


_ROLE_ORDER = ("samordnande-vardkontakt", "fast-vardkontakt", "fast-lakarkontakt")


def _team(overview: Overview, record: PatientRecord, names: _Names) -> None:
    members: list[TeamMember] = []
    for held in record.of("CareTeam"):
        team = held.resource
        if team.get("status") not in ("active", None):
            continue
        units = [names.of(o) for o in team.get("managingOrganization") or []]
        for participant in team.get("participant") or []:
            roles = participant.get("role") or []
            member = participant.get("member") or participant.get("onBehalfOf")
            members.append(
                TeamMember(
                    origin=names.origin(held),
                    name=names.of(member) or "Okänd",
                    roles=tuple(filter(None, (concept_text(r) for r in roles))),
                    role_codes=tuple(codes(roles, d.CARE_TEAM_ROLE)),
                    unit=next((u for u in units if u), None),
                    team=str(team["name"]) if team.get("name") else None,
                )
            )
        for telecom in team.get("telecom") or []:
            if telecom.get("value"):
                availability = _extension(telecom, d.CONTACT_AVAILABILITY)
                overview.contact_routes.append(
                    ContactRoute(
                        label=str(team.get("name") or "Vårdteam"),
                        value=str(telecom["value"]),
                        availability=str(availability[0].get("valueString"))
                        if availability
                        else None,
                        origin=names.origin(held),
                    )
                )

    def rank(member: TeamMember) -> int:
        return min((_ROLE_ORDER.index(c) for c in member.role_codes if c in _ROLE_ORDER), default=9)

    members.sort(key=lambda m: (rank(m), m.name))
    overview.team = members
    coordinators = overview.coordinators
    if len({m.name for m in coordinators}) > 1:
        overview.conflicts.append(
            Conflict(
                "two-coordinating-contacts",
                "Flera samordnande vårdkontakter är registrerade: bara en ska vara samordnande",
                tuple(dict.fromkeys(m.origin.reference for m in coordinators)),
            )
        )


def _unit_routes(overview: Overview, record: PatientRecord, units: list[dict[str, Any]]) -> None:
    seen = {route.value for route in overview.contact_routes}
    for unit in units:
        for telecom in unit.get("telecom") or []:
            value = telecom.get("value")
            if value and value not in seen:
                seen.add(value)
                availability = _extension(telecom, d.CONTACT_AVAILABILITY)
                overview.contact_routes.append(
                    ContactRoute(
                        label=str(unit.get("name") or hsa_of(unit) or "Enhet"),
                        value=str(value),
                        availability=str(availability[0].get("valueString"))
                        if availability
                        else "kontorstid",
                        origin=None,
                    )
                )


def _listing(overview: Overview, record: PatientRecord, names: _Names, now: datetime) -> None:
    gp = [record.resolve(ref) for ref in record.patient.get("generalPractitioner") or []]
    vardcentral = next((o for o in gp if o and o["resourceType"] == "Organization"), None)
    home_care = rehab = None
    for held in _enrolments(record):
        if not _active(held, now):
            continue
        kinds = set(codes(held.resource.get("type"), d.EPISODE_TYPE))
        unit = record.resolve(held.resource.get("managingOrganization"))
        if kinds & d.REHAB_TYPES:
            rehab = rehab or unit
        elif "hemsjukvard" in kinds:
            home_care = home_care or unit
    overview.listing = Listing(
        vardcentral=str(vardcentral.get("name")) if vardcentral else None,
        home_care=str(home_care.get("name")) if home_care else None,
        rehab=str(rehab.get("name")) if rehab else None,
    )
    _unit_routes(overview, record, [u for u in (vardcentral, home_care, rehab) if u])


def _timeline(overview: Overview, record: PatientRecord, names: _Names, now: datetime) -> None:
    events = []
    since = now - timedelta(days=RECENT_DAYS)
    for held in record.of("Encounter"):
        encounter = held.resource
        status = str(encounter.get("status") or "unknown")
        if status == "entered-in-error":
            continue  # stored, never shown as a visit (DOMAIN section 4)
        period = encounter.get("period") or {}
        start = parse_moment(period.get("start"))
        if start is None:
            continue
        upcoming = start > now or status == "planned"
        if not upcoming and start < since:
            continue
        klass = str((encounter.get("class") or {}).get("code") or "")
        kind = ENCOUNTER_CLASS.get(klass, "Vårdkontakt")
        type_text = next((concept_text(t) for t in encounter.get("type") or []), None)
        if type_text and klass not in ("HH", "IMP"):
            kind = type_text
        events.append(
            Event(
                origin=names.origin(held),
                start=start,
                end=parse_moment(period.get("end")),
                kind=kind,
                status=ENCOUNTER_STATUS.get(status, status),
                unit=names.of(encounter.get("serviceProvider")),
                reason=next((concept_text(r) for r in encounter.get("reasonCode") or []), None),
                upcoming=upcoming,
            )
        )
    overview.timeline = events


def _order_timeline(overview: Overview) -> None:
    """Upcoming first (soonest first), then the most recent, at most TIMELINE_LIMIT."""
    events = sorted(overview.timeline, key=lambda e: e.start, reverse=True)
    coming = sorted((e for e in events if e.upcoming), key=lambda e: e.start)
    recent = [e for e in events if not e.upcoming]
    overview.timeline = (coming + recent)[:TIMELINE_LIMIT]


def _notice_kind(resource: dict[str, Any]) -> tuple[str, str] | None:
    """(code, display) of a Communication's discharge-message category, if it has one."""
    for concept in resource.get("category") or []:
        for coding in concept.get("coding") or []:
            if coding.get("system") == d.DISCHARGE_MESSAGE and coding.get("code"):
                display = coding.get("display") or concept_text(concept) or coding["code"]
                return str(coding["code"]), str(display)
    return None


def _sip_since(plans: list[PlanView], record: PatientRecord, moment: datetime) -> bool:
    """Whether a SIP was drawn up (created, or started) on or after `moment`."""
    index = {h.reference: h.resource for h in record.of("CarePlan")}
    for plan in plans:
        if not plan.is_sip:
            continue
        resource = index.get(plan.origin.reference) or {}
        drawn_up = parse_moment(resource.get("created")) or parse_moment(
            (resource.get("period") or {}).get("start")
        )
        if (
            drawn_up is not None
            and drawn_up.astimezone(STOCKHOLM).date() >= moment.astimezone(STOCKHOLM).date()
        ):
            return True
    return False


def _discharges(overview: Overview, record: PatientRecord, names: _Names, now: datetime) -> None:
    """Discharge notices (Communication with a discharge-message category) of stays that
    are ongoing or ended recently, each with its SIP planning due date and state, and an
    entry in the timeline (DOMAIN scenario 5)."""
    today = now.astimezone(STOCKHOLM).date()
    encounters = {h.reference: h.resource for h in record.of("Encounter")}
    coordinators = tuple(dict.fromkeys(m.name for m in overview.coordinators)) or tuple(
        dict.fromkeys(m.name for m in overview.team if "fast-vardkontakt" in m.role_codes)
    )
    for held in record.of("Communication"):
        notice = held.resource
        kind = _notice_kind(notice)
        if kind is None or notice.get("status") in ("entered-in-error", "not-done"):
            continue
        stay = encounters.get(str((notice.get("encounter") or {}).get("reference")))
        if stay is not None and stay.get("status") == "entered-in-error":
            continue
        period = (stay or {}).get("period") or {}
        admitted = _date(period.get("start"))
        discharged = _date(period.get("end"))
        if discharged and (today - discharged).days > d.DISCHARGE_RECENT_DAYS:
            continue
        sent = parse_moment(notice.get("sent"))
        if sent is not None and stay is None and (now - sent).days > d.DISCHARGE_RECENT_DAYS:
            continue
        sip_due = discharged + timedelta(days=d.DISCHARGE_SIP_DAYS) if discharged else None
        if sent is not None and _sip_since(overview.plans, record, sent):
            state = "held"
        elif sip_due is None:
            state = "pending"
        else:
            state = str(_follow_up_state(sip_due, True, today))
        text = next(
            (
                str(p["contentString"]).rstrip(".")
                for p in notice.get("payload") or []
                if p.get("contentString")
            ),
            None,
        )
        sender = names.of(notice.get("sender"))
        origin = names.origin(held)
        overview.discharges.append(
            DischargeNotice(
                origin=origin,
                kind=kind[1],
                kind_code=kind[0],
                sent=sent,
                sender=sender,
                text=text,
                admitted=admitted,
                discharged=discharged,
                sip_due=sip_due,
                sip_state=state,
                coordinators=coordinators,
            )
        )
        if sent is not None:
            overview.timeline.append(
                Event(
                    origin=origin,
                    start=sent,
                    end=None,
                    kind=kind[1],
                    status="skickat",
                    unit=sender,
                    reason=text,
                    upcoming=False,
                )
            )
    overview.discharges.sort(key=lambda n: n.sent or now, reverse=True)


def _clinical(overview: Overview, record: PatientRecord, names: _Names) -> None:
    for kind in ("MedicationStatement", "MedicationRequest"):
        for held in record.of(kind):
            item = held.resource
            if item.get("status") in ("entered-in-error", "stopped", "completed", "cancelled"):
                continue
            dosage = "; ".join(
                str(x["text"])
                for x in (item.get("dosage") or item.get("dosageInstruction") or [])
                if x.get("text")
            )
            overview.medications.append(
                ClinicalItem(
                    names.origin(held),
                    concept_text(item.get("medicationCodeableConcept")) or "Läkemedel",
                    dosage or None,
                    str(item.get("status") or "") or None,
                )
            )
    for held in record.of("Condition"):
        item = held.resource
        if "entered-in-error" in codes(
            item.get("verificationStatus"),
            "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        ):
            continue
        icd = next(
            (
                c.get("code")
                for c in (item.get("code") or {}).get("coding") or []
                if "icd" in str(c.get("system")).lower()
                or c.get("system") == "urn:oid:1.2.752.116.1.1.1"
            ),
            None,
        )
        overview.problems.append(
            ClinicalItem(
                names.origin(held),
                concept_text(item.get("code")) or "Diagnos",
                str(icd) if icd else None,
                next(
                    iter(
                        codes(
                            item.get("clinicalStatus"),
                            "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        )
                    ),
                    None,
                ),
            )
        )
    for held in record.of("AllergyIntolerance"):
        item = held.resource
        if "entered-in-error" in codes(
            item.get("verificationStatus"),
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
        ):
            continue
        reaction = "; ".join(
            filter(
                None,
                (
                    concept_text(m)
                    for r in item.get("reaction") or []
                    for m in r.get("manifestation") or []
                ),
            )
        )
        overview.allergies.append(
            ClinicalItem(
                names.origin(held),
                concept_text(item.get("code")) or "Allergi",
                reaction or None,
                CRITICALITY.get(str(item.get("criticality"))),
            )
        )
    for held in record.of("Flag"):
        item = held.resource
        if item.get("status") != "active":
            continue
        overview.alerts.append(
            ClinicalItem(
                names.origin(held), concept_text(item.get("code")) or "Varning", None, "aktiv"
            )
        )
    overview.medications.sort(key=lambda i: i.text)
    overview.problems.sort(key=lambda i: i.text)


def _hidden(overview: Overview, record: PatientRecord, names: _Names) -> None:
    notice = record.notice
    if notice is None:
        overview.hidden = Hidden((), (), record.emergency, record.no_relationship)
        return
    overview.hidden = Hidden(
        tuple((p, names.provider(p) or p) for p in notice.providers_without_consent),
        tuple((p, names.provider(p) or p) for p in notice.blocked_providers),
        record.emergency,
        record.no_relationship,
    )


def build_plans(record: PatientRecord, now: datetime) -> Overview:
    """Only the plans of the overview (follow-up states, a missing medical care plan) from
    a record holding the patient's CarePlans and EpisodesOfCare: the work list's part."""
    overview = _new_overview(record, now)
    _plans(overview, record, _Names(record), now)
    return overview


def _new_overview(record: PatientRecord, now: datetime) -> Overview:
    patient = record.patient
    identifier = next(
        (
            i
            for i in patient.get("identifier") or []
            if "electronichealth.se/identifier" in str(i.get("system"))
        ),
        None,
    )
    overview = Overview(
        patient_id=str(patient["id"]),
        name=person_name(patient) or "Namn saknas",
        identifier=str(identifier["value"]) if identifier else None,
        identifier_system=str(identifier["system"]) if identifier else None,
        birth_date=patient.get("birthDate"),
        gender=patient.get("gender"),
        generated=now,
        truncated=record.truncated,
    )
    return overview


def build_overview(record: PatientRecord, now: datetime) -> Overview:
    """The overview of one patient at `now` (aware)."""
    names = _Names(record)
    overview = _new_overview(record, now)
    _plans(overview, record, names, now)
    _team(overview, record, names)
    _listing(overview, record, names, now)
    _timeline(overview, record, names, now)
    _discharges(overview, record, names, now)
    _order_timeline(overview)
    encounters = record.of("Encounter")
    enrolments = _enrolments(record)
    preferred = [
        h
        for h in enrolments
        if not set(codes(h.resource.get("type"), d.EPISODE_TYPE)) & d.REHAB_TYPES
    ]
    windows = enrolment_windows([h.resource for h in preferred or enrolments], now)
    overview.indicators = indicators_for(encounters, windows)
    _clinical(overview, record, names)
    _hidden(overview, record, names)
    return overview
