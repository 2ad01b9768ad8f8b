"""Clinical demo content for the overview, dated relative to today.

`add_clinical_content(store, people, secret, today)` adds, for the Örebro kommun persons of
the demo exports, what the region's and the municipality's systems would hold beside the
exports: the region's medication list, diagnoses, allergies and alerts; a medical care plan
with treatment limitations; enrolment in hemsjukvård (EpisodeOfCare); non-personal contact
routes including the on-call nurse; admissions and ED visits for the indicators; upcoming
visits; a voided visit; the patient's consent for the home-care unit and the region; and,
for the first person, a daughter with a representation record. Some persons differ on
purpose so that every part of the overview shows: the second has no medical care plan past
its deadline and is admitted right now, the third has not consented, the fourth has two
coordinating contacts, the second and the sixth have the ward's discharge notice (admitted
now; discharged yesterday, SIP planning due). Everything is synthetic and deterministic for
a day; loading twice changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import orjson

from adapters.identity import parse_person_identity
from adapters.ids import patient_id, source_uri
from consent.records import consent_actor, privacy_consent
from hub.access.scope import ReadScope
from hub.demo.exports import MUNICIPALITIES, REGION_PROVIDER, REGION_SOURCE_SYSTEM, Person
from hub.fhir_dates import STOCKHOLM
from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore, UnitOfWork
from hub.validation.resources import validate_resource
from mappings.systems import HSA_SYSTEM

__all__ = ["DEMO_RELATIVE", "EMERGENCY_UNIT", "add_clinical_content", "demo_roles"]

HSA = HSA_SYSTEM
PNR = "http://electronichealth.se/identifier/personnummer"
BASE = "https://hub.example.se/fhir"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
VARDCENTRAL = "SE2321000164-7381"
WARD = "SE2321000164-7382"
EMERGENCY_UNIT = ("SE2321000164-7390", "Akutmottagningen, Universitetssjukhuset Örebro")
"""Listed in mappings/hsa-emergency-units.json."""
REHAB_UNIT = ("SE2120002122-1003", "Rehab Väster, Örebro")
MUNICIPAL_SYSTEM = "SE2120002122-S001"
DEMO_RELATIVE = "194508141233"
"""The personnummer of the first person's daughter (synthetic, valid check digit)."""
_NAMESPACE = uuid.UUID("6f1c2d7e-3b5a-4c9e-8f0a-1d2e3f4a5b6c")

_MEDICATIONS = (
    ("C03CA01", "Furosemid 40 mg tablett", "1 tablett morgon"),
    ("B01AF02", "Apixaban 2,5 mg tablett", "1 tablett morgon och kväll"),
    (
        "N02AA01",
        "Morfin 5 mg/ml injektion vid behov",
        "2,5 mg subkutant vid smärta, högst 4 gånger per dygn",
    ),
    ("A12AX", "Kalcium/D-vitamin tuggtablett", "1 tablett dagligen"),
)
_CONDITIONS = (
    ("I50.9", "Hjärtsvikt"),
    ("I48.9", "Förmaksflimmer"),
    ("N18.4", "Kronisk njursjukdom, stadium 4"),
    ("M81.9", "Osteoporos"),
)
_LIMITATIONS = (
    "Ej hjärt-lungräddning (HLR) vid hjärtstopp",
    "Ej intensivvård; vård i hemmet i första hand, inläggning efter läkarbedömning",
)


def demo_roles() -> dict[str, str]:
    """Care units of the demo beyond the exports (HSA-id: name)."""
    return {EMERGENCY_UNIT[0]: EMERGENCY_UNIT[1], REHAB_UNIT[0]: REHAB_UNIT[1]}


@dataclass(frozen=True)
class _Owner:
    provider: str
    unit: str
    system: str

    @property
    def context(self) -> WriteContext:
        return WriteContext(self.provider, self.unit)

    def meta(self) -> dict[str, str]:
        return {"source": source_uri(self.system)}


_REGION_VC = _Owner(REGION_PROVIDER[0], VARDCENTRAL, REGION_SOURCE_SYSTEM)
_REGION_WARD = _Owner(REGION_PROVIDER[0], WARD, REGION_SOURCE_SYSTEM)
_REGION_ED = _Owner(REGION_PROVIDER[0], EMERGENCY_UNIT[0], REGION_SOURCE_SYSTEM)
_MUNICIPAL = _Owner(MUNICIPALITIES[0].hsa, MUNICIPALITIES[0].hemsjukvard[0], MUNICIPAL_SYSTEM)
_MUNICIPAL_REHAB = _Owner(MUNICIPALITIES[0].hsa, REHAB_UNIT[0], MUNICIPAL_SYSTEM)


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), STOCKHOLM).isoformat()


def _hsa_ref(kind: str, hsa: str, display: str | None = None) -> dict[str, Any]:
    reference: dict[str, Any] = {"type": kind, "identifier": {"system": HSA, "value": hsa}}
    if display:
        reference["display"] = display
    return reference


class _Writer:
    def __init__(self, store: SqlStore, work: UnitOfWork) -> None:
        self.store = store
        self.work = work
        self.registry = default_registry()
        self.count = 0

    def organization_id(self, hsa: str) -> str | None:
        query = parse_search("Organization", [("identifier", f"{HSA}|{hsa}")], self.registry)
        page = self.store.search(query, ReadScope.everything())
        return page.matches[0].id if page.matches else None

    def org_ref(self, hsa: str, display: str) -> dict[str, Any]:
        found = self.organization_id(hsa)
        return (
            {"reference": f"Organization/{found}"}
            if found
            else _hsa_ref("Organization", hsa, display)
        )

    def put(self, owner: _Owner | None, resource: dict[str, Any]) -> None:
        if owner is not None:
            resource["meta"] = owner.meta()
        validate_resource(resource)
        context = owner.context if owner is not None else WriteContext()
        self.work.update(resource, resource["id"], context)
        self.count += 1


_REGION_STAFF = (
    ("SE2321000164-P001", "Anders", "Berg"),
    ("SE2321000164-P002", "Maria", "Holm"),
    ("SE2321000164-P003", "Eva", "Lund"),
)


def _directory(writer: _Writer) -> None:
    """The region's staff as Practitioners and its provider's name (the RIVTA exports name
    them only by HSA-id)."""
    for hsa, given, family in _REGION_STAFF:
        writer.put(
            None,
            {
                "resourceType": "Practitioner",
                "id": _id("practitioner", hsa),
                "identifier": [{"system": HSA, "value": hsa}],
                "active": True,
                "name": [{"family": family, "given": [given]}],
            },
        )
    region_org = writer.organization_id(REGION_PROVIDER[0])
    if region_org is not None:
        current = writer.work.current("Organization", region_org, for_update=True)
        if current is not None and current.content is not None:
            organization = orjson.loads(current.content)
            if not organization.get("name"):
                organization.pop("meta", None)
                organization["name"] = REGION_PROVIDER[1]
                writer.put(None, organization)


def _units(writer: _Writer) -> None:
    """Directory entries for the units the exports do not describe, with contact routes."""
    _directory(writer)
    region_org = writer.organization_id(REGION_PROVIDER[0])
    municipal_org = writer.organization_id(MUNICIPALITIES[0].hsa)
    for (hsa, name), parent, phone, hours in (
        (EMERGENCY_UNIT, region_org, "019-602 10 00", "Dygnet runt"),
        (REHAB_UNIT, municipal_org, "019-21 10 50", "Vardagar 08–16"),
    ):
        organization: dict[str, Any] = {
            "resourceType": "Organization",
            "id": _id("organization", hsa),
            "identifier": [{"system": HSA, "value": hsa}],
            "active": True,
            "name": name,
            "telecom": [
                {
                    "extension": [
                        {
                            "url": f"{BASE}/StructureDefinition/contact-route-availability",
                            "valueString": hours,
                        }
                    ],
                    "system": "phone",
                    "value": phone,
                    "use": "work",
                }
            ],
        }
        if parent:
            organization["partOf"] = {"reference": f"Organization/{parent}"}
        writer.put(None, organization)


def _person_content(writer: _Writer, person: Person, pid: str, k: int, today: date) -> None:
    subject = {"reference": f"Patient/{pid}"}
    municipality = MUNICIPALITIES[0]
    home_care = writer.org_ref(municipality.hemsjukvard[0], municipality.hemsjukvard[1])
    vardcentral = writer.org_ref(VARDCENTRAL, "Vårdcentral Tybble")
    enrolled = today - timedelta(days=30 if k == 1 else 120 + 7 * k)

    # listing: the vårdcentral on the Patient (directory data, merged)
    current = writer.work.current("Patient", pid, for_update=True)
    if current is not None and current.content is not None:
        patient = orjson.loads(current.content)
        patient.pop("meta", None)
        patient["generalPractitioner"] = [vardcentral]
        writer.put(None, patient)

    writer.put(
        _MUNICIPAL,
        {
            "resourceType": "EpisodeOfCare",
            "id": _id(pid, "enrolment"),
            "status": "active",
            "type": [
                {
                    "coding": [
                        {
                            "system": f"{BASE}/CodeSystem/episode-of-care-type",
                            "code": "hemsjukvard",
                            "display": "Inskriven i hemsjukvård",
                        }
                    ]
                }
            ],
            "patient": subject,
            "managingOrganization": home_care,
            "period": {"start": enrolled.isoformat()},
        },
    )
    if k == 0:
        writer.put(
            _MUNICIPAL_REHAB,
            {
                "resourceType": "EpisodeOfCare",
                "id": _id(pid, "rehab"),
                "status": "active",
                "type": [
                    {
                        "coding": [
                            {
                                "system": f"{BASE}/CodeSystem/episode-of-care-type",
                                "code": "hemrehabilitering",
                                "display": "Intensiv hemrehabilitering",
                            }
                        ]
                    }
                ],
                "patient": subject,
                "managingOrganization": writer.org_ref(*REHAB_UNIT),
                "period": {"start": (today - timedelta(days=20)).isoformat()},
            },
        )
    # contact routes, non-personal, also out of hours
    writer.put(
        _MUNICIPAL,
        {
            "resourceType": "CareTeam",
            "id": _id(pid, "on-call"),
            "status": "active",
            "name": "Hemsjukvård Väster, kontaktvägar",
            "subject": subject,
            "managingOrganization": [home_care],
            "telecom": [
                {
                    "extension": [
                        {
                            "url": f"{BASE}/StructureDefinition/contact-route-availability",
                            "valueString": "Vardagar 07–16",
                        }
                    ],
                    "system": "phone",
                    "value": "019-21 40 00",
                    "use": "work",
                },
                {
                    "extension": [
                        {
                            "url": f"{BASE}/StructureDefinition/contact-route-availability",
                            "valueString": "Kvällar, nätter och helger: jourhavande sjuksköterska",
                        }
                    ],
                    "system": "phone",
                    "value": "019-21 49 99",
                    "use": "work",
                },
            ],
        },
    )
    writer.put(
        _REGION_VC,
        {
            "resourceType": "CareTeam",
            "id": _id(pid, "region-team"),
            "status": "active",
            "name": "Vårdcentral Tybble, hemsjukvårdsläkare",
            "subject": subject,
            "managingOrganization": [vardcentral],
            "participant": [
                {
                    "role": [
                        {
                            "coding": [
                                {
                                    "system": f"{BASE}/CodeSystem/care-team-role",
                                    "code": "fast-lakarkontakt",
                                    "display": "Fast läkarkontakt",
                                }
                            ]
                        }
                    ],
                    "member": _hsa_ref(
                        "Practitioner", "SE2321000164-P001", "Anders Berg, distriktsläkare"
                    ),
                },
                {
                    "role": [
                        {
                            "coding": [
                                {
                                    "system": f"{BASE}/CodeSystem/care-team-role",
                                    "code": "fast-vardkontakt",
                                    "display": "Fast vårdkontakt",
                                }
                            ]
                        }
                    ]
                    + (
                        [
                            {
                                "coding": [
                                    {
                                        "system": f"{BASE}/CodeSystem/care-team-role",
                                        "code": "samordnande-vardkontakt",
                                        "display": "Samordnande vårdkontakt",
                                    }
                                ]
                            }
                        ]
                        if k == 3
                        else []
                    ),
                    "member": _hsa_ref(
                        "Practitioner", "SE2321000164-P002", "Maria Holm, distriktssköterska"
                    ),
                },
            ],
            "telecom": [
                {
                    "extension": [
                        {
                            "url": f"{BASE}/StructureDefinition/contact-route-availability",
                            "valueString": "Vardagar 08–17",
                        }
                    ],
                    "system": "phone",
                    "value": "019-602 70 00",
                    "use": "work",
                },
                {
                    "extension": [
                        {
                            "url": f"{BASE}/StructureDefinition/contact-route-availability",
                            "valueString": "Efter kl. 17: jourläkare via 1177",
                        }
                    ],
                    "system": "phone",
                    "value": "1177",
                    "use": "work",
                },
            ],
        },
    )
    # the region's medication list, diagnoses, allergies, alerts
    for number, (atc, text, dose) in enumerate(_MEDICATIONS[: 3 + (k % 2)]):
        writer.put(
            _REGION_VC,
            {
                "resourceType": "MedicationStatement",
                "id": _id(pid, "medication", str(number)),
                "status": "active",
                "medicationCodeableConcept": {
                    "coding": [{"system": ATC, "code": atc}],
                    "text": text,
                },
                "subject": subject,
                "effectivePeriod": {"start": (enrolled - timedelta(days=200)).isoformat()},
                "dateAsserted": (today - timedelta(days=14)).isoformat(),
                "dosage": [{"text": dose}],
            },
        )
    for number, (icd, text) in enumerate(_CONDITIONS[: 2 + k % 3]):
        writer.put(
            _REGION_VC,
            {
                "resourceType": "Condition",
                "id": _id(pid, "condition", str(number)),
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "verificationStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "confirmed",
                        }
                    ]
                },
                "code": {"coding": [{"system": ICD10, "code": icd}], "text": text},
                "subject": subject,
            },
        )
    writer.put(
        _REGION_VC,
        {
            "resourceType": "AllergyIntolerance",
            "id": _id(pid, "allergy"),
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                        "code": "active",
                    }
                ]
            },
            "criticality": "high",
            "code": {"text": "Penicillin"},
            "patient": subject,
            "reaction": [{"manifestation": [{"text": "Nässelutslag och andnöd"}]}],
        },
    )
    writer.put(
        _MUNICIPAL,
        {
            "resourceType": "Flag",
            "id": _id(pid, "flag"),
            "status": "active",
            "code": {"text": "Fallrisk: går med rollator, larm på handleden"},
            "subject": subject,
        },
    )
    if k != 1:  # the second person's medical care plan is missing past its deadline
        writer.put(
            _REGION_VC,
            {
                "resourceType": "CarePlan",
                "id": _id(pid, "medical-care-plan"),
                "extension": [
                    {"url": f"{BASE}/StructureDefinition/treatment-limitation", "valueString": text}
                    for text in _LIMITATIONS
                ]
                + [
                    {
                        "url": f"{BASE}/StructureDefinition/sip-follow-up-date",
                        "valueDate": (
                            today + timedelta(days=5) if k == 4 else enrolled + timedelta(days=371)
                        ).isoformat(),
                    }
                ],
                "status": "active",
                "intent": "plan",
                "category": [
                    {
                        "coding": [
                            {
                                "system": f"{BASE}/CodeSystem/care-plan-kind",
                                "code": "medicinsk-vardplan",
                                "display": "Medicinsk vårdplan",
                            }
                        ]
                    },
                    {
                        "coding": [
                            {
                                "system": f"{BASE}/CodeSystem/care-plan-type",
                                "code": "VP",
                                "display": "Vårdplan",
                            }
                        ]
                    },
                ],
                "title": "Medicinsk vårdplan, hemsjukvård",
                "description": (
                    "Palliativ inriktning. Symtomlindring i hemmet; vid andnöd furosemid enligt "
                    "ordination, vid smärta morfin vid behov. Kontakta jourläkare vid försämring."
                ),
                "subject": subject,
                "period": {"start": (enrolled + timedelta(days=6)).isoformat()},
                "created": (enrolled + timedelta(days=6)).isoformat(),
                "author": _hsa_ref(
                    "Practitioner", "SE2321000164-P001", "Anders Berg, distriktsläkare"
                ),
            },
        )
    # encounters: indicators before/after enrolment, recent and upcoming visits
    stays: list[tuple[date, int, str]] = [
        (enrolled - timedelta(days=300), 6, "finished"),
        (enrolled - timedelta(days=150), 9, "finished"),
        (enrolled - timedelta(days=150 - 9 - 12), 4, "finished"),  # readmitted 12 days later
        (enrolled + timedelta(days=60), 3, "finished"),
    ]
    if k == 1:
        stays.append((today - timedelta(days=2), 0, "in-progress"))
    if k == 5:
        stays.append((today - timedelta(days=6), 5, "finished"))  # discharged yesterday
    for number, (start, days, status) in enumerate(stays):
        if start >= today and status == "finished":
            continue
        period: dict[str, str] = {"start": _at(start, 14, 20)}
        if status == "finished":
            period["end"] = _at(start + timedelta(days=days), 11)
        writer.put(
            _REGION_WARD,
            {
                "resourceType": "Encounter",
                "id": _id(pid, "stay", str(number)),
                "status": status,
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                    "display": "inpatient encounter",
                },
                "type": [
                    {
                        "coding": [
                            {
                                "system": "urn:oid:1.2.752.129.2.2.2.25",
                                "code": "3",
                                "display": "Vårdtillfälle",
                            }
                        ]
                    }
                ],
                "subject": subject,
                "period": period,
                "reasonCode": [{"text": "Försämrad hjärtsvikt"}],
                "serviceProvider": _hsa_ref("Organization", WARD, "USÖ geriatrisk avdelning 73"),
            },
        )
    if k in (1, 5):  # the ward's notice for the latest stay (DOMAIN scenario 5)
        _discharge_notice(writer, pid, len(stays) - 1, stays[-1][0], [home_care, vardcentral])
    for number, offset in enumerate((-330, -280, -200, -120, -45)):
        day = enrolled + timedelta(days=offset)
        if day >= today:
            continue
        writer.put(
            _REGION_ED,
            {
                "resourceType": "Encounter",
                "id": _id(pid, "ed", str(number)),
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                    "display": "ambulatory",
                },
                "type": [
                    {
                        "coding": [
                            {
                                "system": "urn:oid:1.2.752.129.2.2.2.25",
                                "code": "1",
                                "display": "Besök",
                            }
                        ]
                    }
                ],
                "subject": subject,
                "period": {"start": _at(day, 22, 10), "end": _at(day, 23, 50)},
                "reasonCode": [{"text": "Andnöd"}],
                "serviceProvider": _hsa_ref("Organization", *EMERGENCY_UNIT),
            },
        )
    visits = (
        (_MUNICIPAL, "HH", "Hembesök", today - timedelta(days=3), 9, "finished", "Såromläggning"),
        (
            _REGION_VC,
            "HH",
            "Hembesök",
            today - timedelta(days=10),
            13,
            "finished",
            "Läkarbesök i hemmet, läkemedelsgenomgång",
        ),
        (_MUNICIPAL, "HH", "Hembesök", today + timedelta(days=1), 9, "planned", "Såromläggning"),
        (
            _REGION_VC,
            "HH",
            "Hembesök",
            today + timedelta(days=5),
            13,
            "planned",
            "Uppföljning hjärtsvikt",
        ),
        (
            _REGION_VC,
            "AMB",
            "Besök",
            today - timedelta(days=20),
            10,
            "entered-in-error",
            "Felregistrerat besök",
        ),
    )
    for number, (owner, klass, display, day, hour, status, reason) in enumerate(visits):
        period = {"start": _at(day, hour)}
        if status == "finished":
            period["end"] = _at(day, hour, 45)
        unit = home_care if owner is _MUNICIPAL else vardcentral
        writer.put(
            owner,
            {
                "resourceType": "Encounter",
                "id": _id(pid, "visit", str(number)),
                "status": status,
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": klass,
                    "display": display,
                },
                "subject": subject,
                "period": period,
                "reasonCode": [{"text": reason}],
                "serviceProvider": unit,
            },
        )
    # consent given earlier (not by the third person)
    if k != 2:
        for grantee, key in (
            (home_care, "home-care"),
            (writer.org_ref(REGION_PROVIDER[0], REGION_PROVIDER[1]), "region"),
        ):
            writer.put(
                _MUNICIPAL if key == "home-care" else _REGION_VC,
                _consent(pid, key, grantee, enrolled, "IRCP"),
            )
    if k == 0:
        related = {
            "resourceType": "RelatedPerson",
            "id": _id(pid, "daughter"),
            "identifier": [{"system": PNR, "value": DEMO_RELATIVE}],
            "active": True,
            "patient": subject,
            "relationship": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                            "code": "DAU",
                            "display": "natural daughter",
                        }
                    ]
                }
            ],
            "name": [{"family": person.family, "given": ["Sara"]}],
        }
        writer.put(_MUNICIPAL, related)
        representation = _consent(
            pid, "daughter", {"reference": f"RelatedPerson/{related['id']}"}, enrolled, "IRCP"
        )
        representation["provision"]["actor"].append(
            consent_actor("CST", writer.org_ref(municipality.hsa, municipality.name))
        )
        # The mother's written consent that the representation rests on (W-rows).
        representation["sourceAttachment"] = {
            "contentType": "application/pdf",
            "title": "Skriftligt samtycke till företrädare",
            "creation": enrolled.isoformat(),
        }
        writer.put(_MUNICIPAL, representation)


def _discharge_notice(
    writer: _Writer, pid: str, stay: int, admitted: date, recipients: list[dict[str, Any]]
) -> None:
    """The ward's inskrivningsmeddelande, sent the morning after the admission (within 24
    hours of the judgement that kommun and öppenvård insatser will be needed)."""
    writer.put(
        _REGION_WARD,
        {
            "resourceType": "Communication",
            "id": _id(pid, "discharge-notice"),
            "status": "completed",
            "category": [
                {
                    "coding": [
                        {
                            "system": f"{BASE}/CodeSystem/discharge-message",
                            "code": "inskrivningsmeddelande",
                            "display": "Inskrivningsmeddelande",
                        }
                    ]
                }
            ],
            "subject": {"reference": f"Patient/{pid}"},
            "encounter": {"reference": f"Encounter/{_id(pid, 'stay', str(stay))}"},
            "sent": _at(admitted + timedelta(days=1), 10),
            "sender": _hsa_ref("Organization", WARD, "USÖ geriatrisk avdelning 73"),
            "recipient": recipients,
            "payload": [
                {
                    "contentString": "Patienten bedöms behöva insatser från kommunen och "
                    "vårdcentralen efter utskrivningen."
                }
            ],
        },
    )


def _consent(pid: str, key: str, actor: dict[str, Any], start: date, role: str) -> dict[str, Any]:
    return privacy_consent(
        pid,
        "permit",
        [consent_actor(role, actor)],
        period={"start": start.isoformat()},
        date_time=_at(start, 10),
        resource_id=_id(pid, "consent", key),
    )


def add_clinical_content(
    store: SqlStore, people: list[Person], secret: bytes | str, today: date | None = None
) -> int:
    """Write the content for the Örebro kommun persons; returns how many resources were written."""
    day = today or datetime.now(STOCKHOLM).date()
    key = secret.encode() if isinstance(secret, str) else secret
    residents = [p for p in people if p.municipality is MUNICIPALITIES[0]]
    with store.unit_of_work() as work:
        writer = _Writer(store, work)
        _units(writer)
        for k, person in enumerate(residents):
            identity = parse_person_identity(person.number)
            _person_content(writer, person, patient_id(identity, key), k, day)
        return writer.count
