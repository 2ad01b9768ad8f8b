"""Synthetic source exports for one region and two municipalities, loaded through the adapters.

`write_demo_exports(folder, patients, seed)` writes what the real systems would send:
Region Örebro län's journal system answers RIVTA GetCarePlans 2.0 and GetCareContacts 3.0
(one response per batch of patients) and its hospital ward sends HL7 v2.5 ADT messages;
Örebro and Kumla kommun each deliver a municipal CSV export (a zip, docs/formats/
municipal-csv.md). The same invented persons (generated personnummer with a valid check
digit) appear in region and municipal data, so each is one Patient in the hub.
`load_demo_exports(store, folder, secret)` loads them with `hub.ingest.ingest_file`.
Everything is deterministic for a seed and dated relative to `today` (the export date):
the same seed on another day gives the same records shifted by the days between. Birth
dates (and so personnummer and Patient ids) do not move. Nothing describes a real person.

Every demo user keeps a care relationship that does not run out (see hub/demo/users.py):
the municipal CareTeams are active without end, each SIP patient has an ongoing contact
at Vårdcentral Tybble (the district physician's medical responsibility in home health
care), and the first ADT patient is admitted to the ward now.
"""

from __future__ import annotations

import base64
import csv
import io
import random
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from adapters.identity import luhn_check_digit
from hub.ingest.intake import IngestSummary, ingest_file
from hub.store.sql_store import SqlStore
from mappings.systems import HSA_OID

__all__ = [
    "ADT_FACILITY",
    "CURRENTLY_ADMITTED",
    "MUNICIPALITIES",
    "REGION_PROVIDER",
    "REGION_SOURCE_SYSTEM",
    "Person",
    "demo_people",
    "load_demo_exports",
    "swedish_today",
    "write_demo_exports",
]

REGION_PROVIDER = ("SE2321000164-0000", "Region Örebro län")
REGION_SOURCE_SYSTEM = "SE2321000164-S001"
"""The region's journal system answering the RIVTA contracts."""
VARDCENTRAL = ("SE2321000164-7381", "Vårdcentral Tybble", "019-602 70 00")
MOBILE_TEAM = ("SE2321000164-7383", "Mobilt närsjukvårdsteam Örebro", "019-602 80 00")
ADT_FACILITY = ("SE2321000164-7382", "USÖ geriatrisk avdelning 73")
"""MSH-4 of the ward's ADT messages; needs a row in mappings/hl7v2-sending-facility.json."""
REGION_STAFF = (
    ("SE2321000164-P001", "Anders Berg", "Distriktsläkare", VARDCENTRAL),
    ("SE2321000164-P002", "Maria Holm", "Distriktssköterska", VARDCENTRAL),
    ("SE2321000164-P003", "Eva Lund", "Sjuksköterska", MOBILE_TEAM),
)


@dataclass(frozen=True)
class Municipality:
    """A municipality: care provider HSA-id, name, units and staff prefix."""

    hsa: str
    name: str
    key: str
    hemsjukvard: tuple[str, str]
    hemtjanst: tuple[str, str]

    def staff(self) -> list[tuple[str, str, str, str, str]]:
        """(HSA-id, given, family, title, unit) of the municipality's staff."""
        prefix = self.hsa.split("-")[0]
        return [
            (f"{prefix}-2001", "Karin", "Sjöberg", "Distriktssköterska", self.hemsjukvard[0]),
            (f"{prefix}-2002", "Omar", "Haddad", "Arbetsterapeut", self.hemsjukvard[0]),
            (f"{prefix}-2003", "Lena", "Ek", "Undersköterska", self.hemtjanst[0]),
            (f"{prefix}-2004", "Jonas", "Wik", "Sjuksköterska", self.hemsjukvard[0]),
        ]


MUNICIPALITIES = (
    Municipality(
        "SE2120002122-0000",
        "Örebro kommun",
        "orebro",
        ("SE2120002122-1001", "Hemsjukvård Väster, Örebro"),
        ("SE2120002122-1002", "Hemtjänst Väster, Örebro"),
    ),
    Municipality(
        "SE2120002189-0000",
        "Kumla kommun",
        "kumla",
        ("SE2120002189-1001", "Hemsjukvård Kumla"),
        ("SE2120002189-1002", "Hemtjänst Kumla"),
    ),
)

_GIVEN_F = ("Anna", "Maria", "Margareta", "Elisabeth", "Eva", "Birgitta", "Karin", "Ingrid")
_GIVEN_M = ("Lars", "Karl", "Erik", "Anders", "Per", "Nils", "Olof", "Sven", "Gösta", "Bengt")
_FAMILY: tuple[str, ...] = (
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
)
_FAMILY += ("Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Holm")
_GOALS = (
    "Kunna gå till affären själv med rollator",
    "Trygg i hemmet nattetid",
    "Klara morgonrutinerna med stöd",
    "Färre akuta sjukhusbesök",
)
_INSATSER = (
    ("Tillsyn nattetid", "varje natt 02:00"),
    ("Hjälp med morgonrutiner", "dagligen 08:00"),
    ("Såromläggning", "måndagar och torsdagar 10:00"),
    ("Läkemedelsgenomgång", "en gång"),
    ("Gångträning med rollator", "tisdagar 10:00"),
)
_CONTACT_REASONS = ("Uppföljning hjärtsvikt", "Läkemedelsgenomgång", "Provtagning", "Hembesök")
_CORE = "urn:riv:clinicalprocess:logistics:logistics:3"
_CAREPLANS_NS = "urn:riv:clinicalprocess:logistics:logistics:GetCarePlansResponder:2"
_CONTACTS_NS = "urn:riv:clinicalprocess:logistics:logistics:GetCareContactsResponder:3"
_CONTACT_STATUS_DONE = ("53671000052101", "avslutad vårdkontakt")
_CONTACT_STATUS_BOOKED = ("53631000052103", "tidbokad vårdkontakt")
_CONTACT_STATUS_ONGOING = ("53651000052107", "pågående vårdkontakt")
_RESPONSIBILITY_REASON = "Läkaransvar hemsjukvård"


CURRENTLY_ADMITTED = 1
"""Index of the demo person who is in the hospital ward now (index % 4 == 1 have stays)."""
_SWEDEN = ZoneInfo("Europe/Stockholm")


def swedish_today(now: datetime | None = None) -> date:
    """Today's date in Sweden (the demo's export date)."""
    return (now or datetime.now(UTC)).astimezone(_SWEDEN).date()


@dataclass(frozen=True)
class Person:
    """An invented person: personnummer (12 digits), names, KV Kön, home municipality."""

    number: str
    given: str
    family: str
    kon: str
    municipality: Municipality

    def __repr__(self) -> str:
        return f"Person(<hidden>, municipality={self.municipality.key!r})"

    @property
    def hyphenated(self) -> str:
        return f"{self.number[:8]}-{self.number[8:]}"


def _personnummer(rng: random.Random, used: set[str], woman: bool) -> str:
    while True:
        born = date(1925, 1, 1) + timedelta(days=rng.randrange(365 * 25))
        serial = rng.randrange(0, 100) * 10 + rng.randrange(0, 5) * 2 + (0 if woman else 1)
        nine = f"{born:%y%m%d}{serial:03d}"
        number = f"{born:%Y%m%d}{serial:03d}{luhn_check_digit(nine)}"
        if number not in used:
            used.add(number)
            return number


def demo_people(patients: int, seed: int) -> list[Person]:
    """The invented persons, the same for the same count and seed."""
    rng = random.Random(seed)  # noqa: S311 (synthetic data, not secrets)
    used: set[str] = set()
    people = []
    for index in range(patients):
        woman = rng.random() < 0.61
        municipality = MUNICIPALITIES[0] if index % 10 < 7 else MUNICIPALITIES[1]
        people.append(
            Person(
                number=_personnummer(rng, used, woman),
                given=rng.choice(_GIVEN_F if woman else _GIVEN_M),
                family=rng.choice(_FAMILY),
                kon="2" if woman else "1",
                municipality=municipality,
            )
        )
    return people


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


def _moment(rng: random.Random, start: date, days: int) -> datetime:
    day = start + timedelta(days=rng.randrange(days))
    return datetime(day.year, day.month, day.day, rng.randrange(8, 16), rng.choice((0, 15, 30)))


# --- RIVTA -------------------------------------------------------------------------------


def _professional(author_time: datetime, staff: tuple[str, str, str, tuple[str, str, str]]) -> str:
    hsa, name, title, unit = staff
    return f"""      <core:accountableHealthcareProfessional>
        <core:authorTime>{_stamp(author_time)}</core:authorTime>
        <core:healthcareProfessionalHSAId>{hsa}</core:healthcareProfessionalHSAId>
        <core:healthcareProfessionalName>{escape(name)}</core:healthcareProfessionalName>
        <core:healthcareProfessionalRoleCode>
          <core:originalText>{escape(title)}</core:originalText>
        </core:healthcareProfessionalRoleCode>
        <core:healthcareProfessionalOrgUnit>
          <core:orgUnitHSAId>{unit[0]}</core:orgUnitHSAId>
          <core:orgUnitName>{escape(unit[1])}</core:orgUnitName>
          <core:orgUnitTelecom>{unit[2]}</core:orgUnitTelecom>
        </core:healthcareProfessionalOrgUnit>
        <core:healthcareProfessionalCareUnitHSAId>{unit[0]}</core:healthcareProfessionalCareUnitHSAId>
        <core:healthcareProfessionalCareGiverHSAId>{REGION_PROVIDER[0]}</core:healthcareProfessionalCareGiverHSAId>
      </core:accountableHealthcareProfessional>
"""


def _header(
    tag: str, document_id: str, title: str | None, moment: datetime, person: Person, staff: tuple
) -> str:
    title_xml = f"      <core:documentTitle>{escape(title)}</core:documentTitle>\n" if title else ""
    return (
        f"    <core:{tag}>\n"
        f"      <core:documentId>{document_id}</core:documentId>\n"
        f"      <core:sourceSystemHSAId>{REGION_SOURCE_SYSTEM}</core:sourceSystemHSAId>\n"
        f"{title_xml}"
        f"      <core:documentTime>{_stamp(moment)}</core:documentTime>\n"
        "      <core:patientId>\n"
        f"        <core:id>{person.number}</core:id>\n"
        "        <core:type>1.2.752.129.2.1.3.1</core:type>\n"
        "      </core:patientId>\n"
        f"{_professional(moment + timedelta(minutes=30), staff)}"
        "      <core:approvedForPatient>true</core:approvedForPatient>\n"
        f"    </core:{tag}>\n"
    )


def _response(root: str, namespace: str, items: list[str], log_id: str) -> bytes:
    body = "".join(items)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- SYNTHETIC demo data: no real person or care event. -->\n"
        f'<{root} xmlns="{namespace}" xmlns:core="{_CORE}">\n'
        f"{body}"
        "  <result>\n    <core:resultCode>OK</core:resultCode>\n"
        f"    <core:logId>{log_id}</core:logId>\n  </result>\n"
        f"</{root}>\n"
    ).encode()


def _care_plans(rng: random.Random, people: list[tuple[int, Person]], today: date) -> list[str]:
    plans = []
    for index, person in people:
        kinds = ["VP"] + (["SIP"] if index % 2 == 0 else [])
        for kind in kinds:
            moment = _moment(rng, today - timedelta(days=171), 120)
            staff = REGION_STAFF[0] if kind == "VP" else REGION_STAFF[1]
            title = "Vårdplan" if kind == "VP" else "Samordnad individuell plan (SIP)"
            text = f"{title}\nMål: {rng.choice(_GOALS)}\nUppföljning inom 6 veckor.\n"
            content = base64.b64encode(text.encode()).decode()
            municipal_unit = person.municipality.hemsjukvard[0]
            participants = "".join(
                "      <core:participatingCareUnitHSAId>\n"
                f"        <core:root>{HSA_OID}</core:root>\n"
                f"        <core:extension>{unit}</core:extension>\n"
                "      </core:participatingCareUnitHSAId>\n"
                for unit in ([VARDCENTRAL[0], municipal_unit] if kind == "SIP" else [])
            )
            plans.append(
                "  <carePlan>\n"
                + _header("carePlanHeader", f"{kind}-{index:06d}", title, moment, person, staff)
                + "    <core:carePlanBody>\n"
                "      <core:content>\n        <core:mediaType>text/plain</core:mediaType>\n"
                f"        <core:value>{content}</core:value>\n      </core:content>\n"
                + participants
                + f"      <core:typeOfCarePlanEnum>{kind}</core:typeOfCarePlanEnum>\n"
                "    </core:carePlanBody>\n  </carePlan>\n"
            )
    return plans


def _care_contact(
    document_id: str,
    person: Person,
    staff: tuple,
    start: datetime,
    end: datetime | None,
    kind: tuple[str, str],
    reason: str,
    status: tuple[str, str],
) -> str:
    unit = staff[3]
    end_xml = f"        <core:end>{_stamp(end)}</core:end>\n" if end is not None else ""
    return (
        "  <careContact>\n"
        + _header("careContactHeader", document_id, None, start, person, staff)
        + "    <core:careContactBody>\n"
        "      <core:careContactCode>\n"
        f"        <core:code>{kind[0]}</core:code>\n"
        "        <core:codeSystem>1.2.752.129.2.2.2.25</core:codeSystem>\n"
        f"        <core:displayName>{kind[1]}</core:displayName>\n"
        "      </core:careContactCode>\n"
        f"      <core:careContactReason>{escape(reason)}</core:careContactReason>\n"
        "      <core:careContactOrgUnit>\n"
        f"        <core:orgUnitHSAId>{unit[0]}</core:orgUnitHSAId>\n"
        f"        <core:orgUnitName>{escape(unit[1])}</core:orgUnitName>\n"
        f"        <core:orgUnitTelecom>{unit[2]}</core:orgUnitTelecom>\n"
        "      </core:careContactOrgUnit>\n"
        "      <core:careContactTimePeriod>\n"
        f"        <core:start>{_stamp(start)}</core:start>\n"
        f"{end_xml}"
        "      </core:careContactTimePeriod>\n"
        "      <core:careContactStatus>\n"
        f"        <core:code>{status[0]}</core:code>\n"
        "        <core:codeSystem>1.2.752.116.2.1.1</core:codeSystem>\n"
        f"        <core:displayName>{status[1]}</core:displayName>\n"
        "      </core:careContactStatus>\n"
        "    </core:careContactBody>\n  </careContact>\n"
    )


def _care_contacts(rng: random.Random, people: list[tuple[int, Person]], today: date) -> list[str]:
    contacts = []
    for index, person in people:
        if index % 2 == 0:
            # The district physician's ongoing medical responsibility for a SIP patient
            # in municipal home health care: a contact without end, so it never runs out.
            start = datetime.combine(today - timedelta(days=30 + index % 60), time(9, 0))
            contacts.append(
                _care_contact(
                    f"K-{index:06d}-L",
                    person,
                    REGION_STAFF[0],
                    start,
                    None,
                    ("1", "Besök"),
                    _RESPONSIBILITY_REASON,
                    _CONTACT_STATUS_ONGOING,
                )
            )
        for number in range(rng.randint(2, 4)):
            start = _moment(rng, today - timedelta(days=174), 170)
            phone = rng.random() < 0.3
            staff = REGION_STAFF[2] if not phone and rng.random() < 0.4 else REGION_STAFF[0]
            kind = ("2", "Telefon") if phone else ("1", "Besök")
            done = start.date() < today - timedelta(days=7)
            status = _CONTACT_STATUS_DONE if done else _CONTACT_STATUS_BOOKED
            end = start + timedelta(minutes=15 if phone else 45)
            reason = rng.choice(_CONTACT_REASONS)
            contacts.append(
                _care_contact(
                    f"K-{index:06d}-{number}", person, staff, start, end, kind, reason, status
                )
            )
    return contacts


# --- municipal CSV -----------------------------------------------------------------------


def _csv(header: list[str], rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _zip(files: dict[str, bytes], today: date) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(today.year, today.month, today.day, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def _municipal_export(
    rng: random.Random, municipality: Municipality, people: list[tuple[int, Person]], today: date
) -> bytes:
    staff = municipality.staff()
    nurses = [row for row in staff if row[3] in ("Distriktssköterska", "Sjuksköterska")]
    carer = next(row for row in staff if row[3] == "Undersköterska")
    therapist = next(row for row in staff if row[3] == "Arbetsterapeut")
    unit = municipality.hemsjukvard[0]
    plans, goals, activities, team, visits = [], [], [], [], []
    for index, person in people:
        sip_id, team_id = f"SIP-{index:06d}", f"VT-{index:06d}"
        drawn_up = today - timedelta(days=166) + timedelta(days=rng.randrange(90))
        nurse = rng.choice(nurses)
        plans.append(
            [
                sip_id,
                person.hyphenated,
                "aktiv",
                "SIP hemsjukvård och hemtjänst",
                drawn_up.isoformat(),
                drawn_up.isoformat(),
                "",
                (drawn_up + timedelta(days=42)).isoformat(),
                municipality.hsa,
                municipality.name,
                unit,
                team_id,
            ]
        )
        goal_ids = []
        for number, text in enumerate(rng.sample(_GOALS, rng.randint(1, 2)), start=1):
            goal_id = f"MAL-{index:06d}-{number}"
            goal_ids.append(goal_id)
            target = (drawn_up + timedelta(days=90)).isoformat()
            goals.append([goal_id, sip_id, text, target, "pagaende"])
        for number, (text, when) in enumerate(rng.sample(_INSATSER, rng.randint(2, 3)), start=1):
            region = text == "Läkemedelsgenomgång"
            performer = REGION_STAFF[0][0] if region else rng.choice((carer[0], therapist[0]))
            activities.append(
                [
                    f"INS-{index:06d}-{number}",
                    sip_id,
                    text,
                    REGION_PROVIDER[0] if region else municipality.hsa,
                    performer,
                    when,
                    drawn_up.isoformat(),
                    "",
                    "pagaende",
                    rng.choice(goal_ids),
                ]
            )
        team += [
            [
                team_id,
                person.hyphenated,
                f"Team {person.family}",
                unit,
                nurse[0],
                "fast_vardkontakt",
                "ja",
            ],
            [
                team_id,
                person.hyphenated,
                f"Team {person.family}",
                unit,
                carer[0],
                "fast_omsorgskontakt",
                "nej",
            ],
            [
                team_id,
                person.hyphenated,
                f"Team {person.family}",
                unit,
                REGION_STAFF[0][0],
                "fast_lakarkontakt",
                "",
            ],
        ]
        for number in range(rng.randint(3, 6)):
            start = _moment(rng, drawn_up, 100)
            kind = rng.choice(("hembesok", "hembesok", "telefon", "mottagningsbesok"))
            end = start + timedelta(minutes=30)
            done = start.date() <= today
            visits.append(
                [
                    f"B-{index:06d}-{number}",
                    person.hyphenated,
                    unit,
                    kind,
                    f"{start:%Y-%m-%d %H:%M}",
                    f"{end:%Y-%m-%d %H:%M}" if done else "",
                    "genomford" if done else "planerad",
                    nurse[0],
                ]
            )
    declined = next(
        (a for a in activities if a[1] == "SIP-000000" and a[3] == municipality.hsa), None
    )
    if declined is not None:  # the first person declined one insats (DOMAIN scenario 8)
        declined[8] = "avbojd"
    files = {
        "manifest.csv": _csv(
            ["formatversion", "vardgivare_hsaid", "vardgivare_namn", "exportdatum"],
            [["1", municipality.hsa, municipality.name, today.isoformat()]],
        ),
        "enheter.csv": _csv(
            ["enhet_hsaid", "namn"], [list(municipality.hemsjukvard), list(municipality.hemtjanst)]
        ),
        "patienter.csv": _csv(
            ["personnummer", "fornamn", "efternamn", "kon"],
            ([p.hyphenated, p.given, p.family, p.kon] for _, p in people),
        ),
        "personal.csv": _csv(
            ["personal_hsaid", "fornamn", "efternamn", "befattning", "enhet_hsaid"],
            (list(row) for row in staff),
        ),
        "sip.csv": _csv(
            [
                "sip_id",
                "personnummer",
                "status",
                "titel",
                "upprattad",
                "startdatum",
                "slutdatum",
                "uppfoljning",
                "ansvarig_huvudman_hsaid",
                "ansvarig_huvudman_namn",
                "enhet_hsaid",
                "vardteam_id",
            ],
            plans,
        ),
        "sip_mal.csv": _csv(["mal_id", "sip_id", "beskrivning", "maldatum", "status"], goals),
        "sip_insatser.csv": _csv(
            [
                "insats_id",
                "sip_id",
                "beskrivning",
                "huvudman_hsaid",
                "utforare_hsaid",
                "tidpunkt",
                "startdatum",
                "slutdatum",
                "status",
                "mal_id",
            ],
            activities,
        ),
        "vardteam.csv": _csv(
            [
                "vardteam_id",
                "personnummer",
                "namn",
                "enhet_hsaid",
                "medlem_hsaid",
                "roll",
                "samordnande",
            ],
            team,
        ),
        "besok.csv": _csv(
            [
                "besok_id",
                "personnummer",
                "enhet_hsaid",
                "besokstyp",
                "start",
                "slut",
                "status",
                "utforare_hsaid",
            ],
            visits,
        ),
    }
    return _zip(files, today)


# --- HL7 v2 ADT --------------------------------------------------------------------------


def _adt(rng: random.Random, index: int, person: Person, today: date) -> bytes:
    """The latest message of one hospital stay: A03 when discharged, else A01. The first
    patient with a stay (index 1) is in the ward now: admitted three days ago."""
    admit = _moment(rng, today - timedelta(days=174), 160)
    discharged = rng.random() < 0.75
    if index == CURRENTLY_ADMITTED:
        admit, discharged = datetime.combine(today - timedelta(days=3), time(14, 30)), False
    event = "A03" if discharged else "A01"
    discharge = admit + timedelta(days=rng.randint(2, 12), hours=2)
    sent = discharge if discharged else admit + timedelta(minutes=5)
    visit = f"V{index:07d}"
    pv1 = [""] * 46
    pv1[0], pv1[1], pv1[2] = "PV1", "1", "I"
    pv1[3] = f"GER73^^^{ADT_FACILITY[0]}"
    pv1[19] = visit
    pv1[44] = admit.strftime("%Y%m%d%H%M")
    if discharged:
        pv1[45] = discharge.strftime("%Y%m%d%H%M")
    segments = [
        f"MSH|^~\\&|COSMIC|{ADT_FACILITY[0]}|HUB|HUB|{_stamp(sent)}||ADT^{event}^ADT_{event}"
        f"|MSG-{visit}-{event}|P|2.5|||||SE|UNICODE UTF-8",
        f"EVN|{event}|{_stamp(sent)}",
        f"PID|1||{person.number}^^^1.2.752.129.2.1.3.1^PN||{person.family}^{person.given}"
        f"||{person.number[:8]}|{'F' if person.kon == '2' else 'M'}",
        "|".join(pv1).rstrip("|"),
    ]
    return ("\r".join(segments) + "\r").encode("utf-8")


# --- writing and loading -----------------------------------------------------------------


def write_demo_exports(
    folder: Path,
    patients: int,
    seed: int = 0,
    *,
    patients_per_response: int = 50,
    today: date | None = None,
) -> list[tuple[str, Path]]:
    """Write the region's and municipalities' exports under `folder`, dated relative to
    `today` (default: today in Sweden); (adapter, path) in load order: municipal exports,
    care plans, care contacts, ADT messages. Files of an earlier run are replaced."""
    today = today or swedish_today()
    for _, stale in _load_order(folder):
        stale.unlink()
    people = list(enumerate(demo_people(patients, seed)))
    rng = random.Random(seed + 1)  # noqa: S311 (synthetic data, not secrets)
    out: list[tuple[str, Path]] = []

    def write(adapter: str, relative: str, data: bytes) -> None:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out.append((adapter, path))

    for municipality in MUNICIPALITIES:
        residents = [(i, p) for i, p in people if p.municipality is municipality]
        if residents:
            data = _municipal_export(rng, municipality, residents, today)
            write("municipal_csv", f"municipal/{municipality.key}-export.zip", data)
    batches = [
        people[start : start + patients_per_response]
        for start in range(0, len(people), patients_per_response)
    ]
    for number, batch in enumerate(batches, start=1):
        log_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        plans = _care_plans(rng, batch, today)
        data = _response("GetCarePlansResponse", _CAREPLANS_NS, plans, log_id)
        write("rivta_careplans", f"region/careplans/GetCarePlans-{number:05d}.xml", data)
    for number, batch in enumerate(batches, start=1):
        log_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        items = _care_contacts(rng, batch, today)
        data = _response("GetCareContactsResponse", _CONTACTS_NS, items, log_id)
        write("rivta_carecontacts", f"region/carecontacts/GetCareContacts-{number:05d}.xml", data)
    for index, person in people:
        if index % 4 == 1:
            write("hl7v2_adt", f"region/adt/ADT-{index:07d}.hl7", _adt(rng, index, person, today))
    return out


def _load_order(folder: Path) -> list[tuple[str, Path]]:
    patterns = (
        ("municipal_csv", "municipal/*.zip"),
        ("rivta_careplans", "region/careplans/*.xml"),
        ("rivta_carecontacts", "region/carecontacts/*.xml"),
        ("hl7v2_adt", "region/adt/*.hl7"),
    )
    return [
        (adapter, path) for adapter, pattern in patterns for path in sorted(folder.glob(pattern))
    ]


def load_demo_exports(store: SqlStore, folder: Path, secret: bytes | str) -> list[IngestSummary]:
    """Load every export under `folder` (as written by write_demo_exports) through intake.

    A rejected file raises IngestRejected (its bytes are in the quarantine); files loaded
    before it stay loaded, each in its own transaction.
    """
    return [
        ingest_file(store, adapter, path.read_bytes(), path.name, secret=secret)
        for adapter, path in _load_order(folder)
    ]
