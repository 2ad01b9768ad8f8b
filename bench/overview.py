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
"""

from __future__ import annotations

import argparse
import gzip
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
from bench.databases import DEFAULT_POSTGRES, fresh
from bench.server import ServedApp
from hub.audit.log import load_or_create_audit_key
from hub.auth import generate_signing_key, mint_token
from hub.demo.exports import MUNICIPALITIES, demo_people
from hub.demo.load import load_demo
from hub.store import open_store

RESULTS = Path(__file__).resolve().parent / "results"
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
        signing = generate_signing_key(folder / "signing.pem", folder / "jwks.json")
        load_or_create_audit_key(folder / "audit.pem")
        token = mint_token(
            signing,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=NURSE[0],
            scopes=["user/*.read"],
            care_provider=NURSE[1],
            care_unit=NURSE[2],
            lifetime=timedelta(hours=4),
        )
        with fresh(kind, postgres_url) as database:
            loaded = _load(database.url, folder, patients)
            env = {
                "HUB_DATABASE_URL": database.url,
                "HUB_AUTH": "on",
                "HUB_PATIENT_ID_SECRET": SECRET,
                "HUB_AUDIT_KEY_PATH": str(folder / "audit.pem"),
                "HUB_JWKS_PATH": str(folder / "jwks.json"),
                "HUB_TOKEN_ISSUER": ISSUER,
                "HUB_TOKEN_AUDIENCE": AUDIENCE,
                "HUB_TOKEN_REVOCATION_PATH": str(folder / "revoked.json"),
            }
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
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    results = [
        run(kind.strip(), args.patients, args.requests, args.postgres_url)
        for kind in args.databases.split(",")
    ]
    print(table(results))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"overview-{stamp}.json"
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
