"""Synthetic Swedish FHIR records for the benchmarks: one region, two municipalities.

Everything is invented: names are common Swedish names, personnummer are generated with a
valid check digit for birth dates in 1920-1959, one distinct number per patient
(personnummer_for); ids are deterministic. (`hub demo`
makes its data differently: as source exports loaded through the adapters, see
hub/demo/exports.py.)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from adapters.identity import PERSONNUMMER_SYSTEM, luhn_check_digit, parse_person_identity
from adapters.ids import patient_id, resource_id
from hub.store.model import WriteContext
from mappings.systems import HSA_SYSTEM

HSA = HSA_SYSTEM
KV_BEFATTNING = "urn:oid:1.2.752.129.2.2.1.4"
KV_VARDKONTAKTTYP = "urn:oid:1.2.752.129.2.2.2.25"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PLAN_TYPE = "https://hub.example.se/fhir/CodeSystem/care-plan-type"
TEAM_ROLE = "https://hub.example.se/fhir/CodeSystem/care-team-role"
DEMO_SOURCE = "urn:hub:demo"

FAMILY = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Lindberg",
    "Holm",
]
GIVEN_F = [
    "Anna",
    "Maria",
    "Margareta",
    "Elisabeth",
    "Eva",
    "Birgitta",
    "Karin",
    "Ingrid",
    "Kerstin",
    "Gunnel",
]
GIVEN_M = ["Lars", "Karl", "Erik", "Anders", "Per", "Nils", "Olof", "Sven", "Gösta", "Bengt"]


@dataclass(frozen=True)
class Unit:
    hsa: str
    name: str
    provider: str


@dataclass(frozen=True)
class DemoRecord:
    resource: dict[str, Any]
    context: WriteContext


REGION = ("SE2321000164-0000", "Region Örebro län")
MUNICIPALITIES = (("SE2120002122-0000", "Örebro kommun"), ("SE2120002189-0000", "Kumla kommun"))
VARDCENTRAL = Unit("SE2321000164-7381", "Vårdcentral Tybble", REGION[0])
WARD = Unit("SE2321000164-7382", "USÖ geriatrisk avdelning 73", REGION[0])
MOBILE_TEAM = Unit("SE2321000164-7383", "Mobilt närsjukvårdsteam Örebro", REGION[0])
HEMSJUKVARD_OREBRO = Unit("SE2120002122-1001", "Hemsjukvård Väster, Örebro", MUNICIPALITIES[0][0])
HEMTJANST_OREBRO = Unit("SE2120002122-1002", "Hemtjänst Väster, Örebro", MUNICIPALITIES[0][0])
HEMSJUKVARD_KUMLA = Unit("SE2120002189-1001", "Hemsjukvård Kumla", MUNICIPALITIES[1][0])
UNITS = (VARDCENTRAL, WARD, MOBILE_TEAM, HEMSJUKVARD_OREBRO, HEMTJANST_OREBRO, HEMSJUKVARD_KUMLA)
STAFF = (
    ("SE2321000164-P001", "Karin", "Lindqvist", "201011", "Distriktsläkare", VARDCENTRAL),
    ("SE2321000164-P002", "Ahmed", "Haddad", "201010", "Överläkare", WARD),
    ("SE2321000164-P003", "Sara", "Berg", None, "Sjuksköterska", MOBILE_TEAM),
    ("SE2120002122-P001", "Lena", "Ström", None, "Distriktssköterska", HEMSJUKVARD_OREBRO),
    ("SE2120002122-P002", "Mikael", "Åberg", None, "Undersköterska", HEMTJANST_OREBRO),
    ("SE2120002189-P001", "Johanna", "Ek", None, "Sjuksköterska", HEMSJUKVARD_KUMLA),
)


def _id(resource_type: str, source_id: str) -> str:
    return resource_id(DEMO_SOURCE, resource_type, source_id)


def _hsa(value: str) -> list[dict[str, str]]:
    return [{"system": HSA, "value": value}]


def _ref(resource_type: str, source_id: str, display: str | None = None) -> dict[str, str]:
    reference = {"reference": f"{resource_type}/{_id(resource_type, source_id)}"}
    if display:
        reference["display"] = display
    return reference


BIRTH_START = date(1920, 1, 1)
BIRTH_DAYS = (date(1960, 1, 1) - BIRTH_START).days
"""Birth dates run over 1920-1959 (home-care patients are mostly 65 and older)."""
_DAY_STRIDE = 7_919
"""A prime that does not divide BIRTH_DAYS: consecutive patients get dates far apart."""
SERIALS_PER_DAY = 450
"""Birth numbers NNX per date and sex: NN in 10-99, X one of the sex's five digits."""
MAX_PATIENTS = BIRTH_DAYS * SERIALS_PER_DAY
"""How many distinct personnummer personnummer_for gives (about 6.6 million)."""


def personnummer_for(index: int, female: bool) -> str:
    """The personnummer of patient number `index` (0, 1, ...): distinct for every index
    below MAX_PATIENTS whatever the sex, with a valid date and check digit. The index picks
    a birth date (stepping through the dates of 1920-1959) and a serial NN; the sex picks
    the last digit of the birth number (odd: man, even: woman, DOMAIN.md section 6)."""
    if not 0 <= index < MAX_PATIENTS:
        raise ValueError(f"personnummer_for covers patients 0 to {MAX_PATIENTS - 1}")
    day = (index * _DAY_STRIDE) % BIRTH_DAYS
    slot = index // BIRTH_DAYS
    born = BIRTH_START + timedelta(days=day)
    serial = (10 + slot // 5) * 10 + 2 * (slot % 5) + (0 if female else 1)
    nine = f"{born:%y%m%d}{serial:03d}"
    return f"{born:%Y%m%d}{serial:03d}{luhn_check_digit(nine)}"


def _organizations() -> list[DemoRecord]:
    records = []
    for hsa, name in (REGION, *MUNICIPALITIES):
        records.append(
            DemoRecord(
                {
                    "resourceType": "Organization",
                    "id": _id("Organization", hsa),
                    "identifier": _hsa(hsa),
                    "active": True,
                    "name": name,
                },
                WriteContext(hsa, None),
            )
        )
    for unit in UNITS:
        records.append(
            DemoRecord(
                {
                    "resourceType": "Organization",
                    "id": _id("Organization", unit.hsa),
                    "identifier": _hsa(unit.hsa),
                    "active": True,
                    "name": unit.name,
                    "partOf": _ref("Organization", unit.provider),
                },
                WriteContext(unit.provider, unit.hsa),
            )
        )
    return records


def _staff() -> list[DemoRecord]:
    records = []
    for hsa, given, family, code, title, unit in STAFF:
        context = WriteContext(unit.provider, unit.hsa)
        records.append(
            DemoRecord(
                {
                    "resourceType": "Practitioner",
                    "id": _id("Practitioner", hsa),
                    "identifier": _hsa(hsa),
                    "active": True,
                    "name": [{"family": family, "given": [given]}],
                },
                context,
            )
        )
        role: dict[str, Any] = {"text": title}
        if code:
            role["coding"] = [{"system": KV_BEFATTNING, "code": code, "display": title}]
        records.append(
            DemoRecord(
                {
                    "resourceType": "PractitionerRole",
                    "id": _id("PractitionerRole", hsa),
                    "active": True,
                    "practitioner": _ref("Practitioner", hsa, f"{given} {family}"),
                    "organization": _ref("Organization", unit.hsa, unit.name),
                    "code": [role],
                },
                context,
            )
        )
    return records


def _patient_records(rng: random.Random, index: int, secret: bytes) -> list[DemoRecord]:
    female = rng.random() < 0.6
    pnr = personnummer_for(index, female)
    pid = patient_id(parse_person_identity(pnr), secret)
    given = rng.choice(GIVEN_F if female else GIVEN_M)
    family = rng.choice(FAMILY)
    home = HEMSJUKVARD_OREBRO if index % 3 else HEMSJUKVARD_KUMLA
    key = f"patient-{index}"
    subject = {"reference": f"Patient/{pid}", "display": f"{given} {family}"}
    region_ctx = WriteContext(REGION[0], VARDCENTRAL.hsa)
    home_ctx = WriteContext(home.provider, home.hsa)
    ward_ctx = WriteContext(REGION[0], WARD.hsa)
    year = 2026
    start_month = rng.randint(1, 6)
    records = [
        DemoRecord(
            {
                "resourceType": "Patient",
                "id": pid,
                "identifier": [{"system": PERSONNUMMER_SYSTEM, "value": pnr}],
                "active": True,
                "name": [{"family": family, "given": [given]}],
                "gender": "female" if female else "male",
                "birthDate": f"{pnr[:4]}-{pnr[4:6]}-{pnr[6:8]}",
                "generalPractitioner": [_ref("Organization", VARDCENTRAL.hsa, VARDCENTRAL.name)],
                "address": [
                    {"city": "Örebro" if home is HEMSJUKVARD_OREBRO else "Kumla", "country": "SE"}
                ],
            },
            region_ctx,
        )
    ]
    records.append(
        DemoRecord(
            {
                "resourceType": "EpisodeOfCare",
                "id": _id("EpisodeOfCare", key),
                "status": "active",
                "type": [{"text": "Inskrivning i hemsjukvård"}],
                "patient": subject,
                "managingOrganization": _ref("Organization", home.hsa, home.name),
                "period": {"start": f"{year}-{start_month:02d}-0{rng.randint(1, 9)}"},
            },
            home_ctx,
        )
    )
    team_id = _id("CareTeam", key)
    nurse = next(s for s in STAFF if s[5] is home)
    records.append(
        DemoRecord(
            {
                "resourceType": "CareTeam",
                "id": team_id,
                "status": "active",
                "name": "Team kring patienten",
                "subject": subject,
                "participant": [
                    {
                        "role": [
                            {
                                "coding": [
                                    {
                                        "system": TEAM_ROLE,
                                        "code": "fast-lakarkontakt",
                                        "display": "Fast läkarkontakt",
                                    }
                                ]
                            }
                        ],
                        "member": _ref("Practitioner", STAFF[0][0], "Karin Lindqvist"),
                        "onBehalfOf": _ref("Organization", REGION[0], REGION[1]),
                    },
                    {
                        "role": [
                            {
                                "coding": [
                                    {
                                        "system": TEAM_ROLE,
                                        "code": "fast-vardkontakt",
                                        "display": "Fast vårdkontakt",
                                    },
                                    {
                                        "system": TEAM_ROLE,
                                        "code": "samordnande-vardkontakt",
                                        "display": "Samordnande vårdkontakt",
                                    },
                                ]
                            }
                        ],
                        "member": _ref("Practitioner", nurse[0], f"{nurse[1]} {nurse[2]}"),
                        "onBehalfOf": _ref("Organization", home.provider),
                    },
                ],
                "managingOrganization": [_ref("Organization", home.hsa, home.name)],
            },
            home_ctx,
        )
    )
    goal_id = _id("Goal", key)
    records.append(
        DemoRecord(
            {
                "resourceType": "Goal",
                "id": goal_id,
                "lifecycleStatus": "active",
                "description": {"text": "Kunna gå till affären med rollator"},
                "subject": subject,
                "target": [{"dueDate": f"{year}-{start_month + 2:02d}-15"}],
            },
            home_ctx,
        )
    )
    records.append(
        DemoRecord(
            {
                "resourceType": "CarePlan",
                "id": _id("CarePlan", key),
                "status": "active",
                "intent": "plan",
                "category": [
                    {
                        "coding": [
                            {
                                "system": PLAN_TYPE,
                                "code": "SIP",
                                "display": "Samordnad individuell plan (SIP)",
                            }
                        ]
                    }
                ],
                "title": "SIP: trygg hemgång",
                "subject": subject,
                "period": {
                    "start": f"{year}-{start_month:02d}-10",
                    "end": f"{year + 1}-{start_month:02d}-10",
                },
                "author": _ref("Organization", home.hsa, home.name),
                "careTeam": [{"reference": f"CareTeam/{team_id}"}],
                "goal": [{"reference": f"Goal/{goal_id}"}],
                "activity": [
                    {
                        "detail": {
                            "status": "in-progress",
                            "description": "Rollator och gångträning",
                            "performer": [_ref("Organization", home.hsa, home.name)],
                        }
                    },
                    {
                        "detail": {
                            "status": "scheduled",
                            "description": "Läkemedelsgenomgång på vårdcentralen",
                            "performer": [_ref("Organization", VARDCENTRAL.hsa, VARDCENTRAL.name)],
                        }
                    },
                ],
                "note": [{"text": f"Uppföljning {year}-{start_month + 1:02d}-20 (4-6 veckor)"}],
            },
            home_ctx,
        )
    )
    for visit in range(3):
        day = 5 + visit * 7
        records.append(
            DemoRecord(
                {
                    "resourceType": "Encounter",
                    "id": _id("Encounter", f"{key}-home-{visit}"),
                    "status": "finished",
                    "class": {"system": ACT_CODE, "code": "HH", "display": "home health"},
                    "type": [
                        {"coding": [{"system": KV_VARDKONTAKTTYP, "code": "1", "display": "Besök"}]}
                    ],
                    "subject": subject,
                    "period": {
                        "start": f"{year}-{start_month + 1:02d}-{day:02d}T09:30:00+02:00",
                        "end": f"{year}-{start_month + 1:02d}-{day:02d}T10:00:00+02:00",
                    },
                    "serviceProvider": _ref("Organization", home.hsa, home.name),
                },
                home_ctx,
            )
        )
    records.append(
        DemoRecord(
            {
                "resourceType": "Encounter",
                "id": _id("Encounter", f"{key}-stay"),
                "status": "finished",
                "class": {"system": ACT_CODE, "code": "IMP", "display": "inpatient encounter"},
                "type": [
                    {
                        "coding": [
                            {"system": KV_VARDKONTAKTTYP, "code": "3", "display": "Vårdtillfälle"}
                        ]
                    }
                ],
                "subject": subject,
                "period": {
                    "start": f"{year}-{start_month:02d}-01T14:10:00+01:00",
                    "end": f"{year}-{start_month:02d}-06T11:00:00+01:00",
                },
                "serviceProvider": _ref("Organization", WARD.hsa, WARD.name),
            },
            ward_ctx,
        )
    )
    return records


def demo_records(patients: int = 12, secret: bytes = b"demo", seed: int = 2026) -> list[DemoRecord]:
    """The whole demo set: directory data first, then each patient's records."""
    return list(iter_demo_records(patients, secret, seed))


def iter_demo_records(
    patients: int = 12, secret: bytes = b"demo", seed: int = 2026
) -> Iterator[DemoRecord]:
    """demo_records one by one (a large set need not be held in memory)."""
    rng = random.Random(seed)
    yield from _organizations()
    yield from _staff()
    for index in range(patients):
        yield from _patient_records(rng, index, secret)
