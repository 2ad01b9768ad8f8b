"""Turn a parsed municipal export into FHIR R4 resources (pure, deterministic).

Output, in this order: Organization (the municipality, its care units), Patient,
Practitioner, PractitionerRole, CareTeam, Goal, CarePlan (category SIP), Encounter.
Codes come from the `municipal_*` tables in mappings/. A record that names another record
which is not in the export gets a logical reference (an identifier), never a stub resource.

Ids: Organization and Practitioner are directory data keyed by HSA-id, so their ids are
uuid5 over the HSA-id system (the same unit from two sources is one resource); Patient ids
are the HMAC of the person identifier; everything else is uuid5 over the source system and
the export's own id.

Clinical resources carry the municipality (manifest.csv) as source care provider and the
row's enhet_hsaid as source care unit; directory resources (Organization, Patient,
Practitioner, PractitionerRole) carry neither, as in the RIVTA adapters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from adapters.codes import lookup
from adapters.errors import SchemaViolation, TranslateError
from adapters.identity import HSA_SYSTEM, PersonIdentity
from adapters.ids import patient_id, record_identifier_system, resource_id, source_uri
from adapters.model import TranslatedResource, TranslationContext
from adapters.municipal_csv.records import (
    ActivityRow,
    GoalRow,
    MunicipalExport,
    PatientRow,
    SipRow,
    StaffRow,
    TeamMemberRow,
    VisitRow,
)
from adapters.swedish_time import local_date_to_fhir, local_timestamp_to_fhir
from mappings import MappedCode, load_table

__all__ = [
    "FOLLOW_UP_EXTENSION",
    "OVERALL_RESPONSIBILITY_EXTENSION",
    "RESPONSIBLE_HUVUDMAN_EXTENSION",
    "translate",
]

FOLLOW_UP_EXTENSION = "https://hub.example.se/fhir/StructureDefinition/sip-follow-up-date"
"""CarePlan extension (valueDate): when the SIP is to be followed up."""
OVERALL_RESPONSIBILITY_EXTENSION = (
    "https://hub.example.se/fhir/StructureDefinition/sip-overall-responsibility"
)
"""CarePlan extension (valueReference Organization): huvudman with overall responsibility."""
RESPONSIBLE_HUVUDMAN_EXTENSION = (
    "https://hub.example.se/fhir/StructureDefinition/sip-activity-responsible-huvudman"
)
"""CarePlan.activity.detail extension (valueReference Organization): huvudman of the insats."""

_COORDINATING_ROLE = "samordnande_vardkontakt"
"""Row of municipal-care-team-role that the samordnande=ja flag adds to a participant."""


def translate(export: MunicipalExport, context: TranslationContext) -> list[TranslatedResource]:
    """All resources of the export; raises an AdapterError naming file and line on conflicts."""
    return _Translation(export, context).run()


@dataclass(frozen=True)
class _Team:
    first: TeamMemberRow
    members: tuple[TeamMemberRow, ...]
    coordinator: TeamMemberRow


class _Translation:
    """One translation run: lookup tables over the export plus the builders."""

    def __init__(self, export: MunicipalExport, context: TranslationContext) -> None:
        self.export = export
        self.context = context
        self.provider = export.manifest.vardgivare_hsaid
        self.meta = {"source": source_uri(context.source_system)}
        self.export_date = local_date_to_fhir(export.manifest.exportdatum)
        self.organizations = {self.provider} | {unit.enhet_hsaid for unit in export.units}
        self.staff = {member.personal_hsaid: member for member in export.staff}
        self.patients = {row.identity.value: row for row in export.patients}
        self.plans = {plan.sip_id: plan for plan in export.plans}
        self.goals = {goal.mal_id: goal for goal in export.goals}
        self.teams = _teams(export.team_members)

    def run(self) -> list[TranslatedResource]:
        self._check_references()
        out: list[TranslatedResource] = [self._provider()]
        out += [self._unit(unit.enhet_hsaid, unit.namn) for unit in self.export.units]
        out += [self._patient(row) for row in self.export.patients]
        out += [self._practitioner(row) for row in self.export.staff]
        out += [self._practitioner_role(row) for row in self.export.staff]
        out += [self._care_team(team) for team in self.teams.values()]
        out += [self._goal(goal) for goal in self.export.goals]
        out += [self._care_plan(plan) for plan in self.export.plans]
        out += [self._encounter(visit) for visit in self.export.visits]
        return out

    # --- checks ------------------------------------------------------------------------

    def _check_references(self) -> None:
        for goal in self.export.goals:
            if goal.sip_id not in self.plans:
                _unknown_reference(goal.location, "sip_id", "sip.csv")
        for activity in self.export.activities:
            if activity.sip_id not in self.plans:
                _unknown_reference(activity.location, "sip_id", "sip.csv")
            if activity.mal_id is not None:
                named_goal = self.goals.get(activity.mal_id)
                if named_goal is None or named_goal.sip_id != activity.sip_id:
                    _unknown_reference(activity.location, "mal_id", "sip_mal.csv of the same SIP")
        for row in self.export.staff:
            if row.enhet_hsaid not in self.organizations:
                _unknown_reference(row.location, "enhet_hsaid", "enheter.csv")

    # --- references ----------------------------------------------------------------------

    def _organization_ref(self, hsa_id: str, display: str | None = None) -> dict[str, Any]:
        if hsa_id in self.organizations:
            reference: dict[str, Any] = {
                "reference": f"Organization/{_hsa_resource_id('Organization', hsa_id)}"
            }
        else:
            reference = {"type": "Organization", "identifier": _hsa_identifier(hsa_id)}
        if display:
            reference["display"] = display
        return reference

    def _person_or_unit_ref(self, hsa_id: str) -> dict[str, Any]:
        """Staff -> Practitioner, a known unit -> Organization; any other HSA-id is taken
        to name a person (documented in docs/formats/municipal-csv.md)."""
        if hsa_id in self.staff:
            return {"reference": f"Practitioner/{_hsa_resource_id('Practitioner', hsa_id)}"}
        if hsa_id in self.organizations:
            return self._organization_ref(hsa_id)
        return {"type": "Practitioner", "identifier": _hsa_identifier(hsa_id)}

    def _patient_ref(self, identity: PersonIdentity) -> dict[str, Any]:
        if identity.value in self.patients:
            return {"reference": f"Patient/{patient_id(identity, self.context.patient_id_secret)}"}
        return {
            "type": "Patient",
            "identifier": {"system": identity.system, "value": identity.value},
        }

    def _team_ref(self, team_id: str) -> dict[str, Any]:
        if team_id in self.teams:
            return {"reference": f"CareTeam/{self._id('CareTeam', team_id)}"}
        return {"type": "CareTeam", "identifier": self._identifier("vardteam", team_id)}

    def _id(self, resource_type: str, source_id: str) -> str:
        return resource_id(self.context.source_system, resource_type, source_id)

    def _identifier(self, kind: str, value: str) -> dict[str, str]:
        system = record_identifier_system(f"municipal-csv-{kind}", self.context.source_system)
        return {"system": system, "value": value}

    def _wrap(self, resource: dict[str, Any], unit: str | None) -> TranslatedResource:
        """A record of the export: its rows have no time of their own, so the export's
        date (manifest exportdatum) is the source time of every record in it."""
        return TranslatedResource(
            resource,
            self.provider,
            unit,
            source_system=self.context.source_system,
            source_time=self.export_date,
        )

    # --- directory -----------------------------------------------------------------------

    def _provider(self) -> TranslatedResource:
        manifest = self.export.manifest
        resource = {
            "resourceType": "Organization",
            "id": _hsa_resource_id("Organization", manifest.vardgivare_hsaid),
            "meta": self.meta,
            "identifier": [_hsa_identifier(manifest.vardgivare_hsaid)],
            "type": [_organization_kind("healthcareProfessionalCareGiverHSAId")],
            "name": manifest.vardgivare_namn,
        }
        return _directory(resource)

    def _unit(self, hsa_id: str, name: str) -> TranslatedResource:
        resource = {
            "resourceType": "Organization",
            "id": _hsa_resource_id("Organization", hsa_id),
            "meta": self.meta,
            "identifier": [_hsa_identifier(hsa_id)],
            "type": [_organization_kind("healthcareProfessionalCareUnitHSAId")],
            "name": name,
            "partOf": self._organization_ref(self.provider),
        }
        return _directory(resource)

    def _patient(self, row: PatientRow) -> TranslatedResource:
        identity = row.identity
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": patient_id(identity, self.context.patient_id_secret),
            "meta": self.meta,
            "identifier": [{"system": identity.system, "value": identity.value}],
        }
        name = _human_name(row.fornamn, row.efternamn)
        if name:
            resource["name"] = [name]
        if row.kon is not None:
            resource["gender"] = _lookup("municipal-kon", row.kon, row.location).target.code
        resource["birthDate"] = _birth_date(identity)
        return _directory(resource)

    def _practitioner(self, row: StaffRow) -> TranslatedResource:
        resource: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": _hsa_resource_id("Practitioner", row.personal_hsaid),
            "meta": self.meta,
            "identifier": [_hsa_identifier(row.personal_hsaid)],
        }
        name = _human_name(row.fornamn, row.efternamn)
        if name:
            resource["name"] = [name]
        return _directory(resource)

    def _practitioner_role(self, row: StaffRow) -> TranslatedResource:
        resource: dict[str, Any] = {
            "resourceType": "PractitionerRole",
            "id": self._id("PractitionerRole", f"{row.personal_hsaid}|{row.enhet_hsaid}"),
            "meta": self.meta,
            "practitioner": {
                "reference": f"Practitioner/{_hsa_resource_id('Practitioner', row.personal_hsaid)}"
            },
            "organization": self._organization_ref(row.enhet_hsaid),
        }
        if row.befattning:
            resource["code"] = [{"text": row.befattning}]
        return _directory(resource)

    # --- care team -----------------------------------------------------------------------

    def _care_team(self, team: _Team) -> TranslatedResource:
        first = team.first
        coordinating = _lookup(
            "municipal-care-team-role", _COORDINATING_ROLE, team.coordinator.location
        ).target.as_fhir()
        participants = []
        for member in team.members:
            roles = [
                {
                    "coding": [
                        _lookup(
                            "municipal-care-team-role", member.roll, member.location
                        ).target.as_fhir()
                    ]
                }
            ]
            if member.samordnande:
                roles.append({"coding": [coordinating]})
            participants.append(
                {
                    "role": roles,
                    "member": self._person_or_unit_ref(member.medlem_hsaid),
                }
            )
        resource: dict[str, Any] = {
            "resourceType": "CareTeam",
            "id": self._id("CareTeam", first.vardteam_id),
            "meta": self.meta,
            "identifier": [self._identifier("vardteam", first.vardteam_id)],
            "status": "active",
            "subject": self._patient_ref(first.identity),
        }
        if first.namn:
            resource["name"] = first.namn
        resource["participant"] = participants
        resource["managingOrganization"] = [self._organization_ref(first.enhet_hsaid)]
        return self._wrap(resource, first.enhet_hsaid)

    # --- SIP -----------------------------------------------------------------------------

    def _goal(self, goal: GoalRow) -> TranslatedResource:
        plan = self.plans[goal.sip_id]
        resource: dict[str, Any] = {
            "resourceType": "Goal",
            "id": self._id("Goal", goal.mal_id),
            "meta": self.meta,
            "identifier": [self._identifier("mal", goal.mal_id)],
            "lifecycleStatus": _lookup(
                "municipal-goal-status", goal.status, goal.location
            ).target.code,
            "description": {"text": goal.beskrivning},
            "subject": self._patient_ref(plan.identity),
        }
        if goal.maldatum:
            resource["target"] = [{"dueDate": local_date_to_fhir(goal.maldatum)}]
        return self._wrap(resource, plan.enhet_hsaid)

    def _care_plan(self, plan: SipRow) -> TranslatedResource:
        category = lookup(load_table("rivta-careplan-type"), "SIP").target.as_fhir()
        resource: dict[str, Any] = {
            "resourceType": "CarePlan",
            "id": self._id("CarePlan", plan.sip_id),
            "meta": self.meta,
            "extension": [
                {
                    "url": OVERALL_RESPONSIBILITY_EXTENSION,
                    "valueReference": self._organization_ref(
                        plan.ansvarig_huvudman_hsaid, plan.ansvarig_huvudman_namn
                    ),
                },
                {"url": FOLLOW_UP_EXTENSION, "valueDate": local_date_to_fhir(plan.uppfoljning)},
            ],
            "identifier": [self._identifier("sip", plan.sip_id)],
            "status": _lookup("municipal-sip-status", plan.status, plan.location).target.code,
            "intent": "plan",
            "category": [{"coding": [category]}],
        }
        if plan.titel:
            resource["title"] = plan.titel
        resource["subject"] = self._patient_ref(plan.identity)
        period = _period(plan.startdatum, plan.slutdatum)
        if period:
            resource["period"] = period
        resource["created"] = local_date_to_fhir(plan.upprattad)
        if plan.vardteam_id:
            team = self.teams.get(plan.vardteam_id)
            if team is not None:
                resource["author"] = self._person_or_unit_ref(team.coordinator.medlem_hsaid)
            resource["careTeam"] = [self._team_ref(plan.vardteam_id)]
        goals = [goal for goal in self.export.goals if goal.sip_id == plan.sip_id]
        if goals:
            resource["goal"] = [{"reference": f"Goal/{self._id('Goal', g.mal_id)}"} for g in goals]
        activities = [a for a in self.export.activities if a.sip_id == plan.sip_id]
        if activities:
            resource["activity"] = [{"detail": self._activity(a)} for a in activities]
        return self._wrap(resource, plan.enhet_hsaid)

    def _activity(self, activity: ActivityRow) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "extension": [
                {
                    "url": RESPONSIBLE_HUVUDMAN_EXTENSION,
                    "valueReference": self._organization_ref(activity.huvudman_hsaid),
                }
            ],
        }
        if activity.mal_id:
            detail["goal"] = [{"reference": f"Goal/{self._id('Goal', activity.mal_id)}"}]
        status = _lookup("municipal-activity-status", activity.status, activity.location)
        detail["status"] = status.target.code
        if status.target.code in ("stopped", "cancelled"):
            # why it stopped (declined by the person, DOMAIN scenario 8): the source code
            table = load_table("municipal-activity-status")
            detail["statusReason"] = {"coding": [table.source_coding(status)]}
        timing: dict[str, Any] = {}
        bounds = _period(activity.startdatum, activity.slutdatum)
        if bounds:
            timing["repeat"] = {"boundsPeriod": bounds}
        if activity.tidpunkt:
            timing["code"] = {"text": activity.tidpunkt}
        if timing:
            detail["scheduledTiming"] = timing
        detail["performer"] = [self._person_or_unit_ref(activity.utforare_hsaid)]
        detail["description"] = activity.beskrivning
        return detail

    # --- visits --------------------------------------------------------------------------

    def _encounter(self, visit: VisitRow) -> TranslatedResource:
        period = {"start": local_timestamp_to_fhir(visit.start)}
        if visit.slut:
            period["end"] = local_timestamp_to_fhir(visit.slut)
            if visit.slut < visit.start:
                raise SchemaViolation("column slut: the visit ends before it starts").at(
                    visit.location
                )
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": self._id("Encounter", visit.besok_id),
            "meta": self.meta,
            "identifier": [self._identifier("besok", visit.besok_id)],
            "status": _lookup("municipal-visit-status", visit.status, visit.location).target.code,
            "class": _lookup(
                "municipal-visit-type", visit.besokstyp, visit.location
            ).target.as_fhir(),
            "subject": self._patient_ref(visit.identity),
        }
        if visit.utforare_hsaid in self.organizations:
            raise SchemaViolation(
                "column utforare_hsaid names a unit; a visit's performer is a person"
            ).at(visit.location)
        if visit.utforare_hsaid:
            resource["participant"] = [
                {"individual": self._person_or_unit_ref(visit.utforare_hsaid)}
            ]
        resource["period"] = period
        resource["serviceProvider"] = self._organization_ref(visit.enhet_hsaid)
        return self._wrap(resource, visit.enhet_hsaid)


def _teams(rows: Iterable[TeamMemberRow]) -> dict[str, _Team]:
    """Group vardteam.csv rows by team; team columns must agree, one coordinator exactly."""
    grouped: dict[str, list[TeamMemberRow]] = {}
    for row in rows:
        members = grouped.setdefault(row.vardteam_id, [])
        if members:
            first = members[0]
            for column, a, b in (
                ("personnummer", first.identity.value, row.identity.value),
                ("namn", first.namn, row.namn),
                ("enhet_hsaid", first.enhet_hsaid, row.enhet_hsaid),
            ):
                if a != b:
                    raise SchemaViolation(
                        f"column {column} differs from the team's row at {first.location}",
                        code="care-team-conflict",
                    ).at(row.location)
        members.append(row)
    teams: dict[str, _Team] = {}
    for team_id, members in grouped.items():
        coordinators = [member for member in members if member.samordnande]
        if len(coordinators) > 1:
            raise SchemaViolation(
                "a care team has more than one samordnande vårdkontakt; the first is at "
                f"{coordinators[0].location}",
                code="care-team-coordinator-conflict",
            ).at(coordinators[1].location)
        if not coordinators:
            raise SchemaViolation(
                "a care team has no samordnande vårdkontakt (exactly one is required)",
                code="care-team-coordinator-missing",
            ).at(members[0].location)
        teams[team_id] = _Team(members[0], tuple(members), coordinators[0])
    return teams


def _lookup(table: str, code: str, location: str) -> MappedCode:
    try:
        return lookup(load_table(table), code)
    except TranslateError as error:
        raise error.at(location) from None


def _unknown_reference(location: str, column: str, target: str) -> NoReturn:
    raise SchemaViolation(
        f"column {column} names no row of {target}", code="csv-unknown-reference"
    ).at(location)


def _directory(resource: dict[str, Any]) -> TranslatedResource:
    """Patient, Organization, Practitioner(Role) are shared directory data: no PDL columns."""
    return TranslatedResource(resource, None, None)


def _organization_kind(role: str) -> dict[str, Any]:
    return {"coding": [lookup(load_table("hub-organization-kind"), role).target.as_fhir()]}


def _hsa_identifier(hsa_id: str) -> dict[str, str]:
    return {"system": HSA_SYSTEM, "value": hsa_id}


def _hsa_resource_id(resource_type: str, hsa_id: str) -> str:
    return resource_id(HSA_SYSTEM, resource_type, hsa_id)


def _human_name(given: str | None, family: str | None) -> dict[str, Any] | None:
    name: dict[str, Any] = {}
    if family:
        name["family"] = family
    if given:
        name["given"] = given.split()
    return name or None


def _birth_date(identity: PersonIdentity) -> str:
    day = int(identity.value[6:8])
    if identity.kind == "samordningsnummer":
        day -= 60
    return f"{identity.value[:4]}-{identity.value[4:6]}-{day:02d}"


def _period(start: str | None, end: str | None) -> dict[str, str] | None:
    period: dict[str, str] = {}
    if start:
        period["start"] = local_date_to_fhir(start)
    if end:
        period["end"] = local_date_to_fhir(end)
    return period or None
