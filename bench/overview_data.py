"""The overview bench's large database: the demo, then ~100k patients cloned from it.

`build(url, patients, folder, secret)` loads the demo (`hub.demo.load.load_demo`: exports
through the adapters and the clinical demo content, dated today), then writes `patients`
more persons whose records are copies of two demo persons' records, written through the
store's transaction path (`SqlStore.unit_of_work`, `UnitOfWork.create`: the same rows,
security columns and search index rows a write through the API makes; only the resource
validation is skipped, as with HUB_VALIDATE_INVARIANTS=off).

The mix follows DOMAIN section 7: a quarter of the persons are enrolled in hemsjukvård with
the full demo content (about 44 resources: plans, team, medication, ~20 encounters,
consents), three quarters have only a municipal SIP and a few visits (about 14), which
averages ~21 resources per patient (~2.1M for 100k). The enrolled persons are spread over
`UNITS` home-care units of Örebro kommun (copies of the demo's unit, the first being the
demo nurse's own unit), about 700 per unit; every copy keeps its template's dates, which
are relative to the day the database was built.

The database is built once and reused: `built(url)` reads the marker row that `build`
writes last (the number of cloned persons and the day).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Table, text

from adapters.identity import parse_person_identity
from adapters.ids import patient_id
from hub.demo.exports import MUNICIPALITIES, Person, demo_people
from hub.demo.load import load_demo
from hub.fhir_dates import instant_from_us, now_us
from hub.search.indexing import index_resource
from hub.store import open_store
from hub.store.model import WriteContext
from hub.store.schema import (
    resource_versions,
    resources,
    search_composite,
    search_date,
    search_quantity,
    search_reference,
    search_string,
    search_token,
)
from hub.store.sql_store import SqlStore, UnitOfWork
from hub.store.sqlite import refresh_statistics

__all__ = ["DEMO_PATIENTS", "UNITS", "Built", "analyze", "build", "built", "unit_patients"]

DEMO_PATIENTS = 12
UNITS = 35
"""Home-care units the enrolled persons are spread over (~700 each for 100k patients)."""
FULL_SHARE = 4
"""Every FULL_SHARE-th cloned person gets the full enrolled content."""
NURSE_UNIT = MUNICIPALITIES[0].hemsjukvard[0]
MARKER_ID = "bench-overview-marker"
_CHUNK = 1000
_FLUSH_ROWS = 20_000
_LAST_UPDATED = "@@LAST-UPDATED@@"


@dataclass(frozen=True)
class Built:
    patients: int
    built_on: str
    resources: int
    seconds: float | None = None


@dataclass(frozen=True)
class _Slots:
    pieces: tuple[str, ...]
    keys: tuple[str, ...]


@dataclass(frozen=True)
class _Row:
    resource_type: str
    resource_id: str
    content: str
    provider: str | None
    unit: str | None


def _compartment(store: SqlStore, pid: str) -> list[_Row]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT r.res_type, r.res_id, v.content, r.care_provider, r.care_unit "
                "FROM resources r JOIN resource_versions v ON v.res_type = r.res_type "
                "AND v.res_id = r.res_id AND v.version_id = r.version_id "
                "WHERE (r.patient_id = :p OR (r.res_type = 'Patient' AND r.res_id = :p)) "
                "AND r.deleted = :f"
            ),
            {"p": pid, "f": False},
        ).all()
    out = []
    for resource_type, resource_id, content, provider, unit in rows:
        resource = orjson.loads(content)
        meta = {k: v for k, v in resource.pop("meta", {}).items() if k == "source"}
        if meta:
            resource["meta"] = meta
        out.append(
            _Row(resource_type, resource_id, orjson.dumps(resource).decode(), provider, unit)
        )
    out.sort(key=lambda r: r.resource_type != "Patient")
    return out


class _Template:
    """One demo person's records, ready as table rows, with every id, the person's number
    and names and the home-care unit as slots that each copy fills in.

    The rows are those `UnitOfWork.create` queues for a first version (resources,
    resource_versions, the search index tables), computed once per template resource with
    the store's own `index_resource`; a copy substitutes the slots in them. The Patient of
    each copy is indexed on its own (its names and number are its index values)."""

    def __init__(self, store: SqlStore, rows: list[_Row], person: Person, pid: str) -> None:
        self.store = store
        hyphenated = f"{person.number[2:8]}-{person.number[8:]}"
        self.fixed = {pid: "PID", person.number: "PNR", hyphenated: "PNH"}
        self.fixed.update({person.family: "FAMILY", person.given: "GIVEN"})
        self.ids = sorted({r.resource_id for r in rows} - {pid}, key=len, reverse=True)
        self.unit_ref = ""
        self.rows = rows
        self.prepared: list[tuple[_Row, Any, dict[Table, list[tuple[Any, ...]]]]] = []

    def prepare(self, nurse_org: str) -> None:
        self.unit_ref = f"Organization/{nurse_org}"
        keys = [*self.fixed, *self.ids, NURSE_UNIT, self.unit_ref]
        keys += [k.lower() for k in keys if k.lower() != k]
        self.pattern = re.compile("|".join(re.escape(k) for k in sorted(keys, key=len)[::-1]))
        registry = self.store.registry
        for row in self.rows:
            document = orjson.loads(row.content)
            meta = {"versionId": "1", "lastUpdated": _LAST_UPDATED, **document.get("meta", {})}
            document = {
                "resourceType": row.resource_type,
                "id": row.resource_id,
                "meta": meta,
                **{k: v for k, v in document.items() if k not in ("resourceType", "id", "meta")},
            }
            indexed = index_resource(document, registry, self.store.base_url)
            tables: dict[Table, list[tuple[Any, ...]]] = {
                search_token: [(p, s, c[:255]) for p, s, c in indexed.tokens],
                search_string: list(indexed.strings),
                search_date: list(indexed.dates),
                search_reference: list(indexed.references),
                search_quantity: list(indexed.quantities),
                search_composite: list(indexed.composites),
            }
            split_tables = {
                table: [tuple(self._split(v) for v in values) for values in rows]
                for table, rows in tables.items()
                if rows
            }
            self.prepared.append((row, self._split(orjson.dumps(document).decode()), split_tables))

    def _split(self, value: Any) -> Any:
        """A string as its literal parts and the slots between them (a `_Slots`), once, so
        that each copy only joins; other values as they are."""
        if not isinstance(value, str):
            return value
        pieces = self.pattern.split(value)
        if len(pieces) == 1:
            return value
        keys = self.pattern.findall(value)
        return _Slots(tuple(pieces), tuple(keys))

    def copy(
        self, number: int, person: Person, pid: str, unit: tuple[str, str, str], moment: int
    ) -> Iterator[tuple[str, str, str | None, str | None, bytes, dict[Table, list[Any]]]]:
        """(type, id, provider, unit, content, index rows) of each resource of one copy."""
        prefix = f"{number:06d}-"
        values = {
            **{k: prefix + k for k in self.ids},
            **dict(
                zip(
                    self.fixed,
                    (
                        pid,
                        person.number,
                        f"{person.number[2:8]}-{person.number[8:]}",
                        person.family,
                        person.given,
                    ),
                    strict=True,
                )
            ),
            NURSE_UNIT: unit[0],
            self.unit_ref: f"Organization/{unit[2]}",
        }
        values.update({k.lower(): v.lower() for k, v in list(values.items())})

        def fill(value: Any) -> Any:
            if not isinstance(value, _Slots):
                return value
            out = [value.pieces[0]]
            for key, piece in zip(value.keys, value.pieces[1:], strict=True):
                out.append(values[key])
                out.append(piece)
            return "".join(out)

        stamp = instant_from_us(moment)
        for row, content, tables in self.prepared:
            new_id = pid if row.resource_type == "Patient" else (prefix + row.resource_id)[:64]
            filled = fill(content).replace(_LAST_UPDATED, stamp)
            if row.resource_type == "Patient":
                indexed = index_resource(orjson.loads(filled), self.store.registry)
                index: dict[Table, list[Any]] = {
                    search_token: [(p, s, c[:255]) for p, s, c in indexed.tokens],
                    search_string: list(indexed.strings),
                    search_date: list(indexed.dates),
                    search_reference: list(indexed.references),
                    search_quantity: list(indexed.quantities),
                    search_composite: list(indexed.composites),
                }
            else:
                index = {
                    table: [tuple(fill(v) for v in values_) for values_ in rows]
                    for table, rows in tables.items()
                    if rows
                }
            new_unit = unit[0] if row.unit == NURSE_UNIT else row.unit
            yield row.resource_type, new_id, row.provider, new_unit, filled.encode(), index


def _write_copy(
    work: UnitOfWork,
    copies: Iterator[tuple[str, str, str | None, str | None, bytes, dict[Table, list[Any]]]],
    pid: str,
    moment: int,
) -> int:
    """Queue one copy's rows as `UnitOfWork.create` queues a first version's."""
    written = 0
    for resource_type, resource_id, provider, unit, content, index in copies:
        row = {
            "version_id": 1,
            "last_updated": moment,
            "deleted": False,
            "patient_id": pid,
            "care_provider": provider,
            "care_unit": unit,
        }
        key = {"res_type": resource_type, "res_id": resource_id}
        work._batch.queue(resources, {**key, **row})
        work._batch.queue(resource_versions, {**key, **row, "method": "POST", "content": content})
        for table, rows in index.items():
            work._batch.queue_rows(table, [(resource_type, resource_id, *r) for r in rows])
        written += 1
    return written


def _organization_id(store: SqlStore, hsa: str) -> str:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT res_id FROM search_token WHERE res_type = 'Organization' "
                "AND param = 'identifier' AND code = :c"
            ),
            {"c": hsa},
        ).all()
    return str(rows[0][0])


def _units(store: SqlStore, template_id: str) -> list[tuple[str, str, str]]:
    """(HSA-id, name, Organization id) of the home-care units; the first is the nurse's."""
    current = store.read("Organization", template_id)
    template = orjson.loads(current.content or b"{}")
    template.pop("meta", None)
    units = [(NURSE_UNIT, str(template.get("name")), template_id)]
    with store.unit_of_work() as work:
        for number in range(1, UNITS):
            hsa = f"{NURSE_UNIT[:-4]}{2000 + number}"
            name = f"Hemsjukvård område {number + 1}, Örebro"
            organization = orjson.loads(
                orjson.dumps(template).decode().replace(NURSE_UNIT, hsa).encode()
            )
            organization["name"] = name
            organization_id = f"bench-unit-{number}"
            if work.current("Organization", organization_id) is None:
                work.create(organization, WriteContext(), resource_id=organization_id)
            units.append((hsa, name, organization_id))
    return units


def _resources(store: SqlStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM resources")).scalar_one())


def analyze(store: SqlStore) -> None:
    """Planner statistics after the load (SQLite's bounded ANALYZE, as the store's upkeep
    runs it; PostgreSQL's ANALYZE)."""
    if store.dialect == "sqlite":
        refresh_statistics(store.engine)
        return
    with store.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def built(url: str) -> Built | None:
    """What the database at `url` holds of this bench (None: not built, not finished, or
    no such database yet: the caller then creates it)."""
    try:
        store = open_store(url)
    except Exception:
        return None
    try:
        try:
            stored = store.read("Basic", MARKER_ID)
        except Exception:
            return None
        marker = orjson.loads(stored.content or b"{}")
        facts = {e["url"]: e for e in marker.get("extension") or []}
        return Built(
            patients=int(facts["patients"]["valueInteger"]),
            built_on=str(facts["built-on"]["valueDate"]),
            resources=_resources(store),
        )
    finally:
        store.close()


def unit_patients(patients: int, secret: str, unit: int = 0) -> list[str]:
    """Patient ids of the enrolled cloned persons of home-care unit `unit`."""
    people = demo_people(DEMO_PATIENTS + patients, 0)[DEMO_PATIENTS:]
    return [
        patient_id(parse_person_identity(p.number), secret.encode())
        for n, p in enumerate(people)
        if n % FULL_SHARE == 0 and (n // FULL_SHARE) % UNITS == unit
    ]


def build(url: str, patients: int, folder: Path, secret: str, progress: bool = True) -> Built:
    """Load the demo and `patients` cloned persons into the (empty) database at `url`."""
    started = time.perf_counter()
    store = open_store(url)
    try:
        load_demo(store, folder / "exports", secret, patients=DEMO_PATIENTS, reload=True)
        demo = demo_people(DEMO_PATIENTS, 0)
        residents = [p for p in demo if p.municipality is MUNICIPALITIES[0]]
        full_person = residents[5]
        light_person = next(p for p in demo if p.municipality is MUNICIPALITIES[1])
        templates = []
        for person in (full_person, light_person):
            pid = patient_id(parse_person_identity(person.number), secret.encode())
            templates.append(_Template(store, _compartment(store, pid), person, pid))
        nurse_org = _organization_id(store, NURSE_UNIT)
        for template in templates:
            template.prepare(nurse_org)
        units = _units(store, nurse_org)
        people = demo_people(DEMO_PATIENTS + patients, 0)[DEMO_PATIENTS:]
        written = 0
        load_started = time.perf_counter()
        for first in range(0, patients, _CHUNK):
            moment = now_us()
            with store.unit_of_work() as work:
                for number in range(first, min(first + _CHUNK, patients)):
                    person = people[number]
                    pid = patient_id(parse_person_identity(person.number), secret.encode())
                    full = number % FULL_SHARE == 0
                    unit = units[(number // FULL_SHARE) % UNITS]
                    template = templates[0] if full else templates[1]
                    copies = template.copy(number, person, pid, unit, moment)
                    written += _write_copy(work, copies, pid, moment)
                    work.flush_when(_FLUSH_ROWS)
            if progress and (first // _CHUNK) % 40 == 0:
                rate = written / (time.perf_counter() - load_started)
                print(f"  {first + _CHUNK} persons, {written} resources, {rate:.0f}/s", flush=True)
        marker = {
            "resourceType": "Basic",
            "code": {"text": "bench overview data set"},
            "extension": [
                {"url": "patients", "valueInteger": patients},
                {"url": "built-on", "valueDate": date.today().isoformat()},
            ],
        }
        with store.unit_of_work() as work:
            work.create(marker, WriteContext(), resource_id=MARKER_ID)
        analyze(store)
        return Built(
            patients,
            date.today().isoformat(),
            _resources(store),
            round(time.perf_counter() - started, 1),
        )
    finally:
        store.close()
