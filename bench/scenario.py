"""One database's run: load the data set over HTTP, then time creates, reads and searches.

Order (each step bounded in count and time):
  1. directory bundle (21 PUTs, untimed);
  2. the bulk load: transaction bundles of ~500 POST entries, Prefer: return=minimal;
  3. PostgreSQL only: ANALYZE (what autovacuum would do shortly after a bulk load);
  4. small transactions: one patient's 9 resources per bundle;
  5. single-request creates: POST /fhir/Type, one resource per request;
  6. reads by id over the loaded set, baseline B (bare app, the reads' mean body size) and
     B' in 10 rounds that take turns, so that a slow phase of the machine hits all three;
  7. searches over the loaded set;
  8. with --concurrency N > 1, reads, B and one search again with N client threads.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from adapters.identity import PERSONNUMMER_SYSTEM
from bench import baselines, dataset, report
from bench.databases import Database
from bench.measure import HEADERS, Rate, Series, client, interleaved, run_requests
from bench.server import ServedApp

FHIR_JSON = "application/fhir+json"
READ_BLOCKS = 10
"""Rounds in which read by id, B and B' take turns (see measure.interleaved)."""
LOAD_ROUNDS = 10
"""Turns in which the bulk load and baseline A over the same resources take turns."""
BUNDLE_LOAD = report.BUNDLE
A_DURING_LOAD = report.A_DURING_LOAD
WRITE_HEADERS = {**HEADERS, "Content-Type": FHIR_JSON, "Prefer": "return=minimal"}


@dataclass
class Options:
    bundle_size: int = 500
    reads: int = 5000
    searches: int = 2000
    single_creates: int = 2000
    small_bundles: int = 300
    concurrency: int = 1
    phase_seconds: float = 90.0
    profile: Path | None = None
    hub_env: dict[str, str] = field(default_factory=lambda: {"HUB_AUTH": "off"})


@dataclass
class Loaded:
    """What the bulk load created: keys to read, and patients (id, personnummer)."""

    keys: list[tuple[str, str]] = field(default_factory=list)
    patients: list[tuple[str, str]] = field(default_factory=list)


def _location_key(location: str) -> tuple[str, str]:
    parts = location.split("/_history/")[0].rstrip("/").split("/")
    return parts[-2], parts[-1]


def _post_bundle(http: httpx.Client, body: bytes) -> list[dict[str, Any]]:
    response = http.post("/fhir", content=body, headers=WRITE_HEADERS)
    if response.status_code != 200:
        raise RuntimeError(f"transaction failed: {response.status_code} {response.text[:500]}")
    return list(orjson.loads(response.content)["entry"])


def bulk_load(
    http: httpx.Client,
    bundles: list[tuple[bytes, list[dataset.PatientGroup]]],
    loaded: Loaded,
    rounds: int = LOAD_ROUNDS,
) -> tuple[Rate, Rate]:
    """The bulk load, and baseline A over the same resources, in `rounds` turns: after each
    share of the bundles, A validates exactly the resources those bundles created (no
    server work is in flight then). A slower or faster phase of the machine falls on both."""
    latencies: list[float] = []
    resources = 0
    load_seconds = 0.0
    a_seconds = 0.0
    per_round = max(1, -(-len(bundles) // max(1, rounds)))
    for start in range(0, len(bundles), per_round):
        share = bundles[start : start + per_round]
        started = time.perf_counter()
        for body, groups in share:
            t0 = time.perf_counter()
            entries = _post_bundle(http, body)
            latencies.append(time.perf_counter() - t0)
            resources += len(entries)
            offset = 0
            for group in groups:
                keys = [
                    _location_key(e["response"]["location"])
                    for e in entries[offset : offset + len(group.resources)]
                ]
                loaded.keys.extend(keys)
                loaded.patients.append((keys[0][1], group.personnummer))
                offset += len(group.resources)
        load_seconds += time.perf_counter() - started
        a_seconds += baselines.model_validate_seconds(
            [dict(r) for _body, groups in share for r in _submitted(groups)]
        )
    latencies.sort()
    load = Rate(
        name=BUNDLE_LOAD,
        count=resources,
        seconds=load_seconds,
        unit="resources",
        requests=len(bundles),
        latency_ms={
            "mean_per_bundle": round(sum(latencies) / len(latencies) * 1000, 1),
            "max_per_bundle": round(latencies[-1] * 1000, 1),
        },
        extra={"bundles": len(bundles), "entries_per_bundle": round(resources / len(bundles), 1)},
    )
    baseline = Rate(name=A_DURING_LOAD, count=resources, seconds=a_seconds, unit="resources")
    return load, baseline


def _submitted(groups: list[dataset.PatientGroup]) -> list[dict[str, Any]]:
    """The groups' resources as their transaction entries submit them (ids stripped,
    references to urn:uuids)."""
    return [e["resource"] for group in groups for e in dataset.transaction_entries(group)]


def small_transactions(
    http: httpx.Client, groups: list[dataset.PatientGroup], limit: float
) -> Rate:
    bodies = [dataset.bundle_body([g]) for g in groups]
    latencies: list[float] = []
    resources = 0
    started = time.perf_counter()
    deadline = started + limit
    for body, _n in bodies:
        t0 = time.perf_counter()
        resources += len(_post_bundle(http, body))
        latencies.append(time.perf_counter() - t0)
        if time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - started
    return Rate(
        name="transactions: one patient (9 entries)",
        count=len(latencies),
        seconds=elapsed,
        unit="bundles",
        requests=len(latencies),
        latency_ms={"mean": round(sum(latencies) / len(latencies) * 1000, 2)},
        extra={"resources": resources, "resources_per_second": round(resources / elapsed, 1)},
    )


def single_creates(
    http: httpx.Client, groups: list[dataset.PatientGroup], count: int, limit: float
) -> Rate:
    """POST /fhir/Type per resource: the Patient first, then its records referencing it."""
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + limit
    for group in groups:
        if len(latencies) >= count or time.perf_counter() > deadline:
            break
        mapping: dict[str, str] = {}
        for key, resource in zip(dataset.local_keys(group), group.resources, strict=True):
            body = dataset.strip_ids(dataset.PatientGroup(group.personnummer, [resource]), mapping)[
                0
            ]
            t0 = time.perf_counter()
            response = http.post(
                f"/fhir/{body['resourceType']}", content=orjson.dumps(body), headers=WRITE_HEADERS
            )
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 201:
                errors += 1
                continue
            new_type, new_id = _location_key(response.headers["location"])
            mapping[key] = f"{new_type}/{new_id}"
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Rate(
        name="creates: single POST",
        count=len(latencies) - errors,
        seconds=elapsed,
        unit="resources",
        requests=len(latencies),
        errors=errors,
        latency_ms={
            "mean": round(sum(latencies) / len(latencies) * 1000, 2),
            "p50": round(latencies[len(latencies) // 2] * 1000, 2),
            "p95": round(latencies[int(len(latencies) * 0.95)] * 1000, 2),
        },
    )


def _analyze(database: Database) -> float:
    if database.kind != "postgresql":
        return 0.0
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(database.url)
    started = time.perf_counter()
    with psycopg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        dbname=parsed.database,
        autocommit=True,
    ) as conn:
        conn.execute("ANALYZE")
    return time.perf_counter() - started


def search_requests(loaded: Loaded) -> dict[str, Any]:
    """name -> request(i) for the searches, each over a random loaded patient."""
    rng = random.Random(7)
    patients = [rng.choice(loaded.patients) for _ in range(5000)]

    def pick(i: int) -> tuple[str, str]:
        return patients[i % len(patients)]

    def by_identifier(http: httpx.Client, i: int) -> httpx.Response:
        return http.get(
            "/fhir/Patient", params={"identifier": f"{PERSONNUMMER_SYSTEM}|{pick(i)[1]}"}
        )

    def encounters(http: httpx.Client, i: int) -> httpx.Response:
        return http.get("/fhir/Encounter", params={"patient": pick(i)[0], "date": "ge2026-03-01"})

    def sip(http: httpx.Client, i: int) -> httpx.Response:
        return http.get("/fhir/CarePlan", params={"category": "SIP", "patient": pick(i)[0]})

    return {
        "search: Patient?identifier=<personnummer>": by_identifier,
        "search: Encounter?patient=&date=ge2026-03-01": encounters,
        "search: CarePlan?category=SIP&patient=": sip,
    }


def run_database(
    database: Database,
    data: dataset.DataSet,
    bundles: list[tuple[bytes, list[dataset.PatientGroup]]],
    extra_groups: tuple[list[dataset.PatientGroup], list[dataset.PatientGroup]],
    options: Options,
) -> dict[str, Any]:
    small_groups, single_groups = extra_groups
    rates: list[Rate] = []
    loaded = Loaded()
    info: dict[str, Any] = {"database": database.kind}
    env = {**options.hub_env, "HUB_DATABASE_URL": database.url}
    print(f"[{database.kind}] starting the hub", flush=True)
    with ServedApp("hub", env=env, profile=options.profile, ready_path="/fhir/metadata") as hub:
        with client(hub.url) as http:
            _post_bundle(http, dataset.directory_bundle(data.directory))
            loaded.keys.extend((r["resourceType"], r["id"]) for r in data.directory)
            print(f"[{database.kind}] bulk load: {len(bundles)} bundles", flush=True)
            bulk, baseline = bulk_load(http, bundles, loaded)
            rates += [bulk, baseline]
            print(
                f"  {bulk.count} resources in {bulk.seconds:.1f} s;"
                f" A over the same resources in {baseline.seconds:.1f} s",
                flush=True,
            )
            info["analyze_seconds"] = round(_analyze(database), 2)
            info["size_bytes_after_load"] = database.size_bytes()
            info["resources_loaded"] = len(loaded.keys)
            rates.append(
                small_transactions(
                    http, small_groups[: options.small_bundles], options.phase_seconds
                )
            )
            print(f"  {rates[-1].name}: {rates[-1].per_second:.1f}/s", flush=True)
            rates.append(
                single_creates(http, single_groups, options.single_creates, options.phase_seconds)
            )
            print(f"  {rates[-1].name}: {rates[-1].per_second:.1f}/s", flush=True)

        rng = random.Random(11)
        read_keys = [rng.choice(loaded.keys) for _ in range(10_000)]

        def read(http: httpx.Client, i: int) -> httpx.Response:
            resource_type, resource_id = read_keys[i % len(read_keys)]
            return http.get(f"/fhir/{resource_type}/{resource_id}")

        # The bare server answers with bytes of the hub's mean read size, taken from a
        # first sample of the same reads.
        sample = run_requests("read sample", hub.url, read, count=300, max_seconds=30)
        with ServedApp("bare", env={"BENCH_BODY_BYTES": str(int(sample.mean_bytes))}) as bare:

            def bare_read(http: httpx.Client, i: int) -> httpx.Response:
                resource_type, resource_id = read_keys[i % len(read_keys)]
                return http.get(f"/fhir/{resource_type}/{resource_id}")

            def bare_async(http: httpx.Client, i: int) -> httpx.Response:
                resource_type, resource_id = read_keys[i % len(read_keys)]
                return http.get(f"/async/{resource_type}/{resource_id}")

            reads, b_def, b_async = interleaved(
                [
                    Series("read by id", hub.url, read),
                    Series("B: bare FastAPI (def)", bare.url, bare_read),
                    Series("B': bare FastAPI (async def)", bare.url, bare_async),
                ],
                count=options.reads,
                blocks=READ_BLOCKS,
                max_seconds=options.phase_seconds,
            )
            rates.extend([reads, b_def, b_async])
            print(
                f"  {reads.name}: {reads.per_second:.1f}/s ({reads.mean_bytes:.0f} B)", flush=True
            )
            print(f"  B: {b_def.per_second:.1f}/s, B': {b_async.per_second:.1f}/s", flush=True)
            if options.concurrency > 1:
                rates.append(
                    run_requests(
                        f"B: bare FastAPI (def) x{options.concurrency}",
                        bare.url,
                        bare_read,
                        count=options.reads,
                        max_seconds=options.phase_seconds,
                        concurrency=options.concurrency,
                    )
                )

        searches = search_requests(loaded)
        for name, request in searches.items():
            rate = run_requests(
                name, hub.url, request, count=options.searches, max_seconds=options.phase_seconds
            )
            rates.append(rate)
            print(f"  {name}: {rate.per_second:.1f}/s", flush=True)
        if options.concurrency > 1:
            n = options.concurrency
            rates.append(
                run_requests(
                    f"read by id x{n}",
                    hub.url,
                    read,
                    count=options.reads,
                    max_seconds=options.phase_seconds,
                    concurrency=n,
                )
            )
            name, request = next(iter(searches.items()))
            rates.append(
                run_requests(
                    f"{name} x{n}",
                    hub.url,
                    request,
                    count=options.searches,
                    max_seconds=options.phase_seconds,
                    concurrency=n,
                )
            )
    info["size_bytes_at_end"] = database.size_bytes()
    info["rates"] = {r.name: r for r in rates}
    return info
