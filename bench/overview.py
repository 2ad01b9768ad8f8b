"""`python -m bench.overview`: the patient overview's latency against a plain Patient read.

Per database (SQLite and PostgreSQL in the same run): the demo exports for `--patients`
persons and the clinical demo content (`hub.demo.load.load_demo`), served by `hub` in a
uvicorn subprocess (bench.server) with HUB_AUTH=on, so every request verifies a bearer
token, takes the PDL decision and appends to the audit log. The municipal nurse of the
demo reads, for the patients she has a care relationship with, in interleaved turns:
`GET /fhir/Patient/{id}` (a plain authorised read) and `GET /fhir/Patient/{id}/$overview`.
p50/p95 of each, their ratio, and the size of the overview page (`GET /patient/{id}`, raw
and gzip) and of the $overview JSON.
Table on stdout, JSON to bench/results/overview-<timestamp>.json.

`--large`: instead of the demo for `--patients` persons, the database of
bench.overview_data (the demo plus `--patients` cloned persons, default 100,000, about
2.4M resources), built once per database and reused: the SQLite file
bench/results/overview-<patients>.db and the PostgreSQL database hub_bench_overview. The
nurse reads the ~700 patients of her unit; the unit's work list (`$follow-up-due`) is timed
too. `--profile` runs the server under cProfile (figures then not comparable) and writes the
top functions to bench/figures/overview-profile-<db>.txt. The server listens on
`--port` (default 18500).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import pstats
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from adapters.identity import parse_person_identity
from adapters.ids import patient_id
from bench import overview_data
from bench.databases import DEFAULT_POSTGRES, _recreate_postgres, fresh
from bench.server import ServedApp
from hub.audit.log import load_or_create_audit_key
from hub.auth import generate_signing_key, mint_token
from hub.demo.exports import MUNICIPALITIES, demo_people
from hub.demo.load import load_demo
from hub.store import open_store

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = Path(__file__).resolve().parent / "figures"
LARGE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/hub_bench_overview"
SECRET = "bench-overview-secret"
ISSUER = "urn:bench:issuer"
AUDIENCE = "http://127.0.0.1/fhir"
NURSE = ("SE2120002122-P001", "SE2120002122-0000", "SE2120002122-1001")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _load(url: str, folder: Path, patients: int) -> dict[str, float]:
    store = open_store(url)
    started = time.perf_counter()
    try:
        load_demo(store, folder / "exports", SECRET, patients=patients, reload=True)
        with store.engine.connect() as conn:
            resources = int(conn.execute(text("SELECT count(*) FROM resources")).scalar_one())
    finally:
        store.close()
    return {"resources": resources, "load_seconds": round(time.perf_counter() - started, 1)}


def _work_list(served: ServedApp, token: str, requests: int) -> dict[str, Any]:
    """The unit's work list, `requests` times: p50 and the size of the answer."""
    headers = {"Authorization": f"Bearer {token}"}
    times, entries = [], 0
    with httpx.Client(base_url=served.url, timeout=600) as http:
        for _ in range(requests):
            started = time.perf_counter()
            response = http.get("/fhir/$follow-up-due?within=7", headers=headers)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
            entries = len(response.json().get("entry") or [])
    return {"p50_ms": round(statistics.median(times), 1), "n": len(times), "patients": entries}


def _measure(served: ServedApp, token: str, patients: list[str], requests: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    arms = {
        "Patient read": lambda p: f"/fhir/Patient/{p}",
        "$overview": lambda p: f"/fhir/Patient/{p}/$overview",
    }
    latencies: dict[str, list[float]] = {arm: [] for arm in arms}
    with httpx.Client(base_url=served.url, timeout=60) as http:
        for i in range(min(20, len(patients))):  # warm-up: caches, connections, plans
            for path in arms.values():
                assert http.get(path(patients[i]), headers=headers).status_code == 200
        for i in range(requests):
            patient = patients[i % len(patients)]
            order = list(arms.items()) if i % 2 == 0 else list(reversed(arms.items()))
            for arm, path in order:
                started = time.perf_counter()
                response = http.get(path(patient), headers=headers)
                latencies[arm].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.status_code
        overview_json = http.get(arms["$overview"](patients[0]), headers=headers).content
        http.post("/logga-in", data={"token": token})
        page = http.get(f"/patient/{patients[0]}").content
        css = http.get("/static/hub.css").content
    found: dict[str, Any] = {
        arm: {
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(_percentile(values, 0.95), 2),
            "mean_ms": round(statistics.fmean(values), 2),
            "n": len(values),
        }
        for arm, values in latencies.items()
    }
    found["ratio_p95"] = round(found["$overview"]["p95_ms"] / found["Patient read"]["p95_ms"], 1)
    found["overview_json_bytes"] = len(overview_json)
    found["overview_json_gzip_bytes"] = len(gzip.compress(overview_json))
    found["page_bytes"] = len(page)
    found["page_gzip_bytes"] = len(gzip.compress(page))
    found["css_gzip_bytes"] = len(gzip.compress(css))
    return found


def run(kind: str, patients: int, requests: int, postgres_url: str) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="hub-bench-overview-"))
    try:
        token = _nurse_token(folder)
        with fresh(kind, postgres_url) as database:
            loaded = _load(database.url, folder, patients)
            env = _server_env(database.url, folder)
            residents = [
                patient_id(parse_person_identity(p.number), SECRET.encode())
                for p in demo_people(patients, 0)
                if p.municipality is MUNICIPALITIES[0]
            ]
            with ServedApp("hub", env=env, ready_path="/fhir/metadata") as served:
                measured = _measure(served, token, residents, requests)
        return {"database": kind, "patients": patients, **loaded, **measured}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _nurse_token(folder: Path) -> str:
    signing = generate_signing_key(folder / "signing.pem", folder / "jwks.json")
    load_or_create_audit_key(folder / "audit.pem")
    return mint_token(
        signing,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=NURSE[0],
        scopes=["user/*.read"],
        care_provider=NURSE[1],
        care_unit=NURSE[2],
        lifetime=timedelta(hours=4),
    )


def _server_env(url: str, folder: Path) -> dict[str, str]:
    return {
        "HUB_DATABASE_URL": url,
        "HUB_AUTH": "on",
        "HUB_PATIENT_ID_SECRET": SECRET,
        "HUB_AUDIT_KEY_PATH": str(folder / "audit.pem"),
        "HUB_JWKS_PATH": str(folder / "jwks.json"),
        "HUB_TOKEN_ISSUER": ISSUER,
        "HUB_TOKEN_AUDIENCE": AUDIENCE,
        "HUB_TOKEN_REVOCATION_PATH": str(folder / "revoked.json"),
    }


def large_url(kind: str, patients: int, postgres_url: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{RESULTS / f'overview-{patients}.db'}"
    return postgres_url


def _ensure_large(kind: str, url: str, patients: int) -> dict[str, Any]:
    """The large database at `url`, built when absent (or of another size)."""
    found = overview_data.built(url)
    if found is not None and found.patients == patients:
        return {"resources": found.resources, "built_on": found.built_on, "reused": True}
    if kind == "sqlite":
        path = Path(url.removeprefix("sqlite:///"))
        for old in path.parent.glob(path.name + "*"):
            old.unlink()
    else:
        _recreate_postgres(url)
    folder = Path(tempfile.mkdtemp(prefix="hub-bench-overview-build-"))
    try:
        print(f"building the {kind} database ({patients} cloned persons)", flush=True)
        made = overview_data.build(url, patients, folder, SECRET)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "resources": made.resources,
        "built_on": made.built_on,
        "reused": False,
        "build_seconds": made.seconds,
    }


def _profile_summary(prof: Path, kind: str) -> Path:
    """The top functions of a profile, by cumulative and by own time, as text."""
    out = io.StringIO()
    stats = pstats.Stats(str(prof), stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    FIGURES.mkdir(exist_ok=True)
    target = FIGURES / f"overview-profile-{kind}.txt"
    target.write_text(out.getvalue())
    return target


def run_large(
    kind: str,
    patients: int,
    requests: int,
    postgres_url: str,
    port: int,
    profile: bool,
    work_lists: int,
) -> dict[str, Any]:
    """The overview against the Patient read on the large database of `kind`."""
    url = large_url(kind, patients, postgres_url)
    loaded = _ensure_large(kind, url, patients)
    folder = Path(tempfile.mkdtemp(prefix="hub-bench-overview-"))
    try:
        token = _nurse_token(folder)
        unit = overview_data.unit_patients(patients, SECRET, 0)
        chosen = random.Random(7).sample(unit, min(len(unit), requests))
        prof = RESULTS / f"overview-{kind}.prof" if profile else None
        load_before = os.getloadavg()
        with ServedApp(
            "hub",
            env=_server_env(url, folder),
            ready_path="/fhir/metadata",
            port=port,
            profile=prof,
            timeout=900,
        ) as served:
            measured = _measure(served, token, chosen, requests)
            measured["work_list"] = _work_list(served, token, work_lists)
        measured["load_before"] = [round(x, 2) for x in load_before]
        measured["load_after"] = [round(x, 2) for x in os.getloadavg()]
        if prof is not None and prof.exists():
            measured["profile_summary"] = str(_profile_summary(prof, kind))
        return {
            "database": kind,
            "patients": patients,
            "unit_patients": len(unit),
            "profiled": profile,
            **loaded,
            **measured,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "database    patients resources  read p50/p95 ms   $overview p50/p95 ms  p95 ratio  "
        "page gzip KB  $overview JSON gzip KB",
    ]
    for r in results:
        read, overview = r["Patient read"], r["$overview"]
        lines.append(
            f"{r['database']:<11} {r['patients']:>8} {r['resources']:>9}  "
            f"{read['p50_ms']:>6.1f} / {read['p95_ms']:<6.1f}   "
            f"{overview['p50_ms']:>7.1f} / {overview['p95_ms']:<7.1f}   "
            f"{r['ratio_p95']:>6.1f}x  {r['page_gzip_bytes'] / 1024:>10.1f}  "
            f"{r['overview_json_gzip_bytes'] / 1024:>10.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.overview", description=__doc__)
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300, help="per arm and database")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--large", action="store_true", help="the 100k-patient database")
    parser.add_argument("--port", type=int, default=18500)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--work-lists", type=int, default=5, help="timed $follow-up-due")
    args = parser.parse_args(argv)
    kinds = [kind.strip() for kind in args.databases.split(",")]
    if args.large:
        patients = args.patients if args.patients != 1000 else 100_000
        results = [
            run_large(
                kind,
                patients,
                args.requests,
                args.postgres_url or LARGE_POSTGRES,
                args.port,
                args.profile,
                args.work_lists,
            )
            for kind in kinds
        ]
    else:
        postgres = args.postgres_url or DEFAULT_POSTGRES
        results = [run(kind, args.patients, args.requests, postgres) for kind in kinds]
    print(table(results))
    for r in results:
        if "work_list" in r:
            print(
                f"{r['database']}: $follow-up-due p50 {r['work_list']['p50_ms']} ms "
                f"({r['work_list']['patients']} patients listed of {r['unit_patients']}); "
                f"load {r['load_before']} -> {r['load_after']}"
            )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"overview-{stamp}.json"
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
