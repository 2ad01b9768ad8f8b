"""`python -m bench.search_scale`: search latency at two table sizes (default 10k and 1M).

The issue's question: does a search cost what its result costs, not what the table holds?
Per database (SQLite, PostgreSQL) and size, the store gets the synthetic Swedish records of
bench.synthetic_records written through its batch path (one unit of work per 5,000
resources, in process, each record under its own care provider and unit), plus the same
probe: one Patient (family `Probeson`) with 20 Encounters of class `PROBE` whose periods
lie in March 1901. So every query below has the same 20 matches at both sizes:

    token    Encounter?class=urn:hub:bench|PROBE
    date     Encounter?date=ge1901-03-01&date=le1901-03-31
    chained  Encounter?subject.family=Probeson

The built databases are kept (SQLite under .cache/bench-search-scale/, PostgreSQL as
database `hub_bench_scale_<size>`, both named by `--tag`) and reused by the next run.
`--copy-from TAG` makes a missing database of this run's tag as a copy of another tag's
(from `--copy-from-cache DIR` for SQLite, another checkout's cache; PostgreSQL by CREATE
DATABASE ... TEMPLATE), so a measurement never writes into the databases it was given:
the served searches append audit records.
Each database is then served by `hub serve` with HUB_AUTH=on and a system client's real
bearer token; every search appends its audit record before it answers. Latency p50/p95
over `--requests` sequential requests per query, after 10 warm-up requests.
Table on stdout, JSON to bench/results/search-scale-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.guarded import FHIR_JSON, REPO, Server, _hub_env, _python_bin, _token
from bench.server import free_port
from bench.synthetic_records import iter_demo_records
from hub.store import open_store
from hub.store.model import WriteContext

RESULTS = REPO / "bench" / "results"
CACHE = REPO / ".cache" / "bench-search-scale"
PROBE_SYSTEM = "urn:hub:bench"
PROBE_CONTEXT = WriteContext("SE2120002122-0000", "SE2120002122-1001")
"""The care provider and unit of the bench token (bench.guarded._token)."""
QUERIES = {
    "token": f"Encounter?class={PROBE_SYSTEM}|PROBE",
    "date": "Encounter?date=ge1901-03-01&date=le1901-03-31",
    "chained": "Encounter?subject.family=Probeson",
}
BATCH = 5000


def probe_resources() -> list[dict[str, Any]]:
    """The 20 matches every query finds, at every size."""
    patient = {
        "resourceType": "Patient",
        "id": "probe-patient",
        "name": [{"family": "Probeson", "given": ["Prob"]}],
        "gender": "female",
        "birthDate": "1900-01-01",
    }
    encounters = [
        {
            "resourceType": "Encounter",
            "id": f"probe-encounter-{n:02d}",
            "status": "finished",
            "class": {"system": PROBE_SYSTEM, "code": "PROBE"},
            "subject": {"reference": "Patient/probe-patient"},
            "period": {"start": f"1901-03-{n + 1:02d}T10:00:00Z"},
        }
        for n in range(20)
    ]
    return [patient, *encounters]


def _postgres_url(admin: str, name: str) -> str:
    return admin.rsplit("/", 1)[0] + "/" + name


def _database_exists(url: str) -> bool:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).with_suffix(".complete").exists()
    import psycopg
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin.replace("postgresql://", "postgresql://", 1)) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if row is None:
            return False
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_name = 'bench_complete'"
        ).fetchone()
    return found is not None


def _create_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    name = str(make_url(url).database)
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def build(url: str, resources: int) -> dict[str, Any]:
    """Write about `resources` synthetic resources plus the probe through the batch path."""
    if url.startswith("postgresql"):
        _create_postgres(url)
    else:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    patients = max(1, (resources - 21) // 9)
    store = open_store(url)
    written, started = 0, time.perf_counter()
    try:
        batch: list[tuple[dict[str, Any], WriteContext]] = [
            (r, PROBE_CONTEXT) for r in probe_resources()
        ]
        for record in iter_demo_records(patients=patients):
            batch.append((record.resource, record.context))
            if len(batch) >= BATCH:
                written += _write(store, batch)
                batch = []
                print(f"  {written} resources", file=sys.stderr, flush=True)
        written += _write(store, batch)
        seconds = time.perf_counter() - started
        with store.engine.begin() as conn:
            if url.startswith("postgresql"):
                conn.exec_driver_sql("ANALYZE")
                conn.exec_driver_sql("CREATE TABLE bench_complete (done int)")
            else:
                conn.exec_driver_sql("ANALYZE")
    finally:
        store.close()
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).with_suffix(".complete").touch()
    return {"written": written, "seconds": round(seconds, 1), "per_s": round(written / seconds)}


def copy_to_postgres(sqlite_url: str, url: str) -> dict[str, Any]:
    """The same database on PostgreSQL: a migrated, empty store, then every table's rows
    copied from the built SQLite file (COPY), then ANALYZE. Writing a million resources
    through the store twice would take longer than the machine had; the rows are the ones
    the store wrote."""
    import sqlite3

    import psycopg

    from hub.store.schema import metadata

    _create_postgres(url)
    open_store(url).close()
    started, copied = time.perf_counter(), 0
    source = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    with psycopg.connect(url) as conn:
        for table in metadata.sorted_tables:
            if table.name == "schema_migrations":
                continue
            names = [c.name for c in table.columns]
            conn.execute(f"TRUNCATE {table.name}")  # what the store's start-up wrote
            quoted = ", ".join(f'"{n}"' for n in names)
            cursor = source.execute(f"SELECT {quoted} FROM {table.name}")
            with conn.cursor().copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
                for row in cursor:
                    copy.write_row(row)
                    copied += 1
            print(f"  {table.name}: {copied} rows so far", file=sys.stderr, flush=True)
        conn.execute("CREATE TABLE bench_complete (done int)")
    source.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {"copied_rows": copied, "seconds": round(time.perf_counter() - started, 1)}


def copy_database(kind: str, source: str, url: str) -> dict[str, Any]:
    """A copy of a built database: SQLite through the backup API from a read-only
    connection (a consistent snapshot, WAL included); PostgreSQL as CREATE DATABASE ...
    TEMPLATE (no one may be connected to the source meanwhile)."""
    started = time.perf_counter()
    if kind == "sqlite":
        import sqlite3

        source_path = Path(source.removeprefix("sqlite:///"))
        if not source_path.with_suffix(".complete").exists():
            raise SystemExit(f"{source_path} is not a complete build")
        target = Path(url.removeprefix("sqlite:///"))
        target.parent.mkdir(parents=True, exist_ok=True)
        reader = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        writer = sqlite3.connect(target)
        with writer:
            reader.backup(writer)
        reader.close()
        writer.close()
        target.with_suffix(".complete").touch()
    else:
        import psycopg
        from psycopg import sql
        from sqlalchemy.engine import make_url

        if not _database_exists(source):
            raise SystemExit(f"{make_url(source).database} is not a complete build")
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(str(make_url(url).database)),
                    sql.Identifier(str(make_url(source).database)),
                )
            )
    return {"from": source.rsplit("/", 1)[-1], "seconds": round(time.perf_counter() - started, 1)}


def _write(store: Any, batch: list[tuple[dict[str, Any], WriteContext]]) -> int:
    with store.unit_of_work() as work:
        for resource, context in batch:
            work.create(resource, context, resource_id=resource["id"])
    return len(batch)


def latency(base: str, headers: dict[str, str], requests: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
        for name, path in QUERIES.items():
            for _ in range(10):
                client.get("/" + path)
            samples = []
            for _ in range(requests):
                start = time.perf_counter()
                answer = client.get("/" + path)
                samples.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    raise RuntimeError(f"{name}: {answer.status_code} {answer.text[:300]}")
                found = len(answer.json().get("entry", []))
                if found != 20:
                    raise RuntimeError(f"{name}: {found} matches, expected 20")
            ordered = sorted(samples)
            out[name] = {
                "p50_ms": round(statistics.median(ordered) * 1000, 1),
                "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
            }
    return out


Measure = Callable[[str, dict[str, str], int], dict[str, Any]]
"""measure(FHIR base URL, headers with a bearer token, requests) -> figures."""


def serve_and_measure(url: str, requests: int, measure: Measure | None = None) -> dict[str, Any]:
    """`hub serve` over the database at `url` (one worker, HUB_AUTH=on, a system client's
    real token, the audit append on), measured by `measure` (default `latency`)."""
    with tempfile.TemporaryDirectory(prefix="hub-scale-") as folder:
        keys = Path(folder)
        port = free_port()
        headers = {"Accept": FHIR_JSON, "Authorization": f"Bearer {_token(keys, port)}"}
        command = [_python_bin("hub"), "serve", "--port", str(port), "--workers", "1"]
        server = Server(command, _hub_env(url, keys, port, auth=True), port, "/fhir/metadata")
        try:
            return (measure or latency)(server.url + "/fhir", headers, requests)
        finally:
            server.stop()


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search_scale")
    parser.add_argument("--sizes", default="10000,1000000", help="table sizes, comma-separated")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tag", default="main", help="name part of the cached databases")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--copy-sqlite",
        action="store_true",
        help="build a missing PostgreSQL database by copying the SQLite one of the same size",
    )
    parser.add_argument(
        "--copy-from",
        metavar="TAG",
        help="make a missing database of --tag as a copy of TAG's (the source is only read)",
    )
    parser.add_argument(
        "--copy-from-cache",
        type=Path,
        default=CACHE,
        metavar="DIR",
        help="where TAG's SQLite files are (another checkout's .cache/bench-search-scale)",
    )
    options = parser.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if options.db == "both" else [options.db]
    sizes = [int(s) for s in options.sizes.split(",")]
    result: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "runs": []}
    for kind in kinds:
        for size in sizes:
            name = f"hub_bench_scale_{options.tag}_{size}"
            url = _postgres_url(options.postgres, name) if kind == "postgresql" else ""
            run: dict[str, Any] = {"database": kind, "size": size}
            sqlite_url = f"sqlite:///{CACHE / (name + '.db')}"
            url = url or sqlite_url
            if not _database_exists(url):
                verb = "copying" if options.copy_from else "building"
                print(f"{verb} {kind} {size} (load {_load()})", file=sys.stderr, flush=True)
                if options.copy_from:
                    source_name = f"hub_bench_scale_{options.copy_from}_{size}"
                    source = (
                        _postgres_url(options.postgres, source_name)
                        if kind == "postgresql"
                        else f"sqlite:///{options.copy_from_cache / (source_name + '.db')}"
                    )
                    run["copied"] = copy_database(kind, source, url)
                elif kind == "postgresql" and options.copy_sqlite and _database_exists(sqlite_url):
                    run["copied"] = copy_to_postgres(sqlite_url, url)
                else:
                    run["build"] = build(url, size)
            if not options.build_only:
                run["load_before"] = _load()
                run["latency"] = serve_and_measure(url, options.requests)
                run["load_after"] = _load()
            print(orjson.dumps(run).decode(), flush=True)
            result["runs"].append(run)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"search-scale-{stamp}.json").write_bytes(
        orjson.dumps(result, option=orjson.OPT_INDENT_2)
    )


if __name__ == "__main__":
    main()
