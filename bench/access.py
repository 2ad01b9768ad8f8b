"""`python -m bench.access`: what the PDL filter and the audit log cost per request.

On SQLite and PostgreSQL in the same run, with audit writing on in every arm, for a
municipal nurse (user principal, care relationship through the demo data's CareTeam):

- guarded: `Access(store, nurse, audit)`: facts -> consent.decide -> ReadScope -> filtered
  SQL -> audit append (the full PDL path);
- unguarded: `Access(store, None, None)` (the HUB_AUTH=off path: ReadScope.everything(),
  no decision) followed by `AuditLog.append_many` of the entry the guarded request logs;
- store only (info): the unguarded call without the audit append;
- audit append: `AuditLog.append_many` of one entry, on its own.

Over HTTP (uvicorn via bench.server, loopback): the hub with HUB_AUTH=on and a real nurse
bearer token, the same hub with a system client token of the nurse's care provider
(provider filter, no decision), and a hub with HUB_AUTH=off whose every request is followed
by the same audit append from the benchmark process. Requests are read by id, CarePlan?
patient, Encounter?patient&date=ge and Patient/X/$everything. The data is `hub demo`-style
exports loaded with `load_demo_exports`. One cProfile run of the guarded path per database
says where its time goes. Table on stdout, JSON to bench/results/access-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import event, text

from bench.__main__ import _git, _machine
from bench.databases import Database, fresh
from bench.measure import Rate, _latencies, run_requests
from bench.scenario import _analyze
from bench.server import ServedApp
from consent.audit import AccessEntry
from hub.access.guard import Access
from hub.audit.log import AuditLog, load_or_create_audit_key
from hub.auth import Principal, generate_signing_key, mint_token, principal_from_claims
from hub.auth.cli import DEMO_CLIENTS
from hub.demo.exports import load_demo_exports, write_demo_exports
from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.store import open_store
from hub.store.sql_store import SqlStore

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/hub_bench_access"
SECRET = "bench-access-secret"
ISSUER = "urn:bench:issuer"
AUDIENCE = "http://127.0.0.1/fhir"
NURSE = next(c for c in DEMO_CLIENTS if c.label.startswith("Municipal nurse"))
SYSTEM = next(c for c in DEMO_CLIENTS if c.label.startswith("Municipal journal system"))
READ_TYPES = ("CarePlan", "Encounter", "Goal", "CareTeam")
ENCOUNTER_SINCE = "ge2025-04-01"
PAGE = 20  # the hub's default page size (HUB_DEFAULT_PAGE_SIZE)

READ, CAREPLAN, ENCOUNTER, EVERYTHING = (
    "read by id",
    "search CarePlan?patient",
    "search Encounter?patient&date=ge",
    "Patient/X/$everything",
)
OPERATIONS = (READ, CAREPLAN, ENCOUNTER, EVERYTHING)
GUARDED, UNGUARDED, STORE_ONLY = "guarded", "unguarded+audit", "store only"
AUDIT_ONLY = "audit append (1 entry)"
HTTP_GUARDED, HTTP_SYSTEM, HTTP_UNGUARDED = (
    "nurse token",
    "system token",
    "auth off+audit",
)
TARGET = 1.2


def principal_of(client: Any) -> Principal:
    claims = {
        "sub": client.subject,
        "scope": " ".join(client.scopes),
        "care_unit": client.care_unit,
        "care_provider": client.care_provider,
    }
    if client.role:
        claims["role"] = client.role
    return principal_from_claims(claims)


@dataclass
class Workload:
    """Patients the nurse's unit holds data about, resources she may read, and per
    patient the audit entry a guarded request logs (the unguarded arm appends it too)."""

    patients: list[str]
    reads: list[tuple[str, str, str]]  # (type, id, patient)
    entries: dict[str, AccessEntry]


def choose_workload(store: SqlStore, audit: AuditLog, nurse: Principal, seed: int) -> Workload:
    rng = random.Random(seed)
    with store.engine.connect() as conn:
        patients = [
            row[0]
            for row in conn.execute(
                text(
                    "SELECT DISTINCT patient_id FROM resources WHERE care_unit = :unit "
                    "AND patient_id IS NOT NULL AND deleted = :no ORDER BY patient_id"
                ),
                {"unit": NURSE.care_unit, "no": False},
            )
        ]
        reads = [
            (row[0], row[1], row[2])
            for row in conn.execute(
                text(
                    "SELECT res_type, res_id, patient_id FROM resources WHERE care_unit = :unit "
                    "AND res_type IN ('CarePlan', 'Encounter', 'Goal', 'CareTeam') "
                    "AND deleted = :no ORDER BY res_type, res_id"
                ),
                {"unit": NURSE.care_unit, "no": False},
            )
        ]
    patients = rng.sample(patients, min(200, len(patients)))
    entries: dict[str, AccessEntry] = {}
    for pid in patients:
        decision = Access(store, nurse, audit, "setup").decision(pid)
        if decision.visible_pairs:
            entries[pid] = decision.audit_entry(
                request_id="setup", timestamp=datetime.now(UTC), action="search"
            )
    chosen = [p for p in patients if p in entries]
    reads = [r for r in reads if r[2] in entries]
    rng.shuffle(reads)
    missing = {r[2] for r in reads} - set(entries)
    assert not missing
    return Workload(chosen, reads[:5000], entries)


def _entry(workload: Workload, patient: str, action: str) -> AccessEntry:
    return replace(
        workload.entries[patient],
        request_id=str(uuid.uuid4()),
        timestamp=datetime.now(UTC),
        action=action,
    )


# -- in-process --------------------------------------------------------------------------------


Call = Callable[[int], object]


def in_process_calls(
    store: SqlStore, audit: AuditLog, nurse: Principal, workload: Workload
) -> dict[str, dict[str, Call]]:
    """operation -> arm -> call(i)."""
    registry = default_registry()
    pats, reads = workload.patients, workload.reads

    def careplan_query(i: int) -> Any:
        return parse_search("CarePlan", [("patient", pats[i % len(pats)])], registry)

    def encounter_query(i: int) -> Any:
        params = [("patient", pats[i % len(pats)]), ("date", ENCOUNTER_SINCE)]
        return parse_search("Encounter", params, registry)

    def patient_of(operation: str, i: int) -> str:
        return reads[i % len(reads)][2] if operation == READ else pats[i % len(pats)]

    def guarded(operation: str) -> Call:
        def call(i: int) -> object:
            access = Access(store, nurse, audit, str(uuid.uuid4()))
            if operation == READ:
                resource_type, resource_id, _ = reads[i % len(reads)]
                return access.read(resource_type, resource_id)
            if operation == CAREPLAN:
                return access.search(careplan_query(i))
            if operation == ENCOUNTER:
                return access.search(encounter_query(i))
            return access.everything(pats[i % len(pats)], count=PAGE, offset=0, since=None)

        return call

    def unguarded(operation: str, with_audit: bool) -> Call:
        action = {READ: "read", EVERYTHING: "everything"}.get(operation, "search")

        def call(i: int) -> object:
            access = Access(store, None, None, str(uuid.uuid4()))
            result: object
            if operation == READ:
                resource_type, resource_id, _ = reads[i % len(reads)]
                result = access.read(resource_type, resource_id)
            elif operation == CAREPLAN:
                result = access.search(careplan_query(i))
            elif operation == ENCOUNTER:
                result = access.search(encounter_query(i))
            else:
                result = access.everything(pats[i % len(pats)], count=PAGE, offset=0, since=None)
            if with_audit:
                audit.append_many([_entry(workload, patient_of(operation, i), action)])
            return result

        return call

    calls: dict[str, dict[str, Call]] = {
        operation: {
            GUARDED: guarded(operation),
            UNGUARDED: unguarded(operation, True),
            STORE_ONLY: unguarded(operation, False),
        }
        for operation in OPERATIONS
    }
    calls[AUDIT_ONLY] = {
        AUDIT_ONLY: lambda i: audit.append_many([_entry(workload, pats[i % len(pats)], "read")])
    }
    return calls


def _result_size(result: object) -> int:
    matches = getattr(result, "matches", None)
    return len(matches) if matches is not None else 1


def run_in_process(
    calls: dict[str, dict[str, Call]], count: int, max_seconds: float, rounds: int = 5
) -> dict[str, dict[str, Rate]]:
    """Every (operation, arm) `count` times, interleaved in `rounds` so drift hits all arms."""
    samples: dict[tuple[str, str], list[float]] = {}
    sizes: dict[tuple[str, str], list[int]] = {}
    per_round = max(1, count // rounds)
    deadline = time.perf_counter() + max_seconds
    offset = 0
    for arms in calls.values():  # warm-up, untimed
        for call in arms.values():
            for i in range(10):
                call(count * 10 + i)
    for _round in range(rounds):
        for operation, arms in calls.items():
            for arm, call in arms.items():
                mine = samples.setdefault((operation, arm), [])
                found = sizes.setdefault((operation, arm), [])
                for i in range(offset, offset + per_round):
                    started = time.perf_counter()
                    result = call(i)
                    mine.append(time.perf_counter() - started)
                    found.append(_result_size(result))
        offset += per_round
        if time.perf_counter() > deadline:
            print("  ! in-process time cap reached; fewer requests", flush=True)
            break
    out: dict[str, dict[str, Rate]] = {}
    for (operation, arm), mine in samples.items():
        out.setdefault(operation, {})[arm] = Rate(
            name=f"{operation} [{arm}]",
            count=len(mine),
            seconds=sum(mine),
            requests=len(mine),
            latency_ms=_latencies(mine),
            extra={"mean_results": round(sum(sizes[(operation, arm)]) / len(mine), 2)},
        )
    return out


def count_round_trips(
    store: SqlStore, calls: dict[str, dict[str, Call]], count: int = 20
) -> dict[str, dict[str, dict[str, float]]]:
    """SQL statements and pool checkouts (connections taken; PostgreSQL pings each one)
    per request, for every operation and arm."""
    counters = {"statements": 0, "checkouts": 0}

    def on_statement(*_args: Any) -> None:
        counters["statements"] += 1

    def on_checkout(*_args: Any) -> None:
        counters["checkouts"] += 1

    event.listen(store.engine, "before_cursor_execute", on_statement)
    event.listen(store.engine.pool, "checkout", on_checkout)
    out: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for operation, arms in calls.items():
            for arm, call in arms.items():
                counters.update(statements=0, checkouts=0)
                for i in range(count):
                    call(90_000 + i)
                out.setdefault(operation, {})[arm] = {
                    name: round(value / count, 2) for name, value in counters.items()
                }
    finally:
        event.remove(store.engine, "before_cursor_execute", on_statement)
        event.remove(store.engine.pool, "checkout", on_checkout)
    return out


# -- profile -----------------------------------------------------------------------------------


def _cumulative(stats: pstats.Stats, match: Callable[[tuple[str, int, str]], bool]) -> float:
    """Cumulative seconds of matching functions, not double counting recursion."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return sum(entry[3] for key, entry in raw.items() if match(key))


def _called_from(
    stats: pstats.Stats, callee: Callable[[tuple[str, int, str]], bool], caller_file: str
) -> float:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = 0.0
    for key, entry in raw.items():
        if not callee(key):
            continue
        for caller, figures in entry[4].items():
            if caller[0].endswith(caller_file):
                total += figures[3]
    return total


def _is(file_end: str, name: str) -> Callable[[tuple[str, int, str]], bool]:
    return lambda key: key[0].endswith(file_end) and key[2] == name


def profile_guarded(calls: dict[str, dict[str, Call]], count: int, output: Path) -> dict[str, Any]:
    """cProfile `count` guarded requests of each operation; time shares by component."""
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for operation in OPERATIONS:
        call = calls[operation][GUARDED]
        for i in range(count):
            call(50_000 + i)
    profile.disable()
    wall = time.perf_counter() - started
    profile.dump_stats(str(output))
    stats = pstats.Stats(profile)
    total = _cumulative(stats, _is("bench/access.py", "call"))
    parts = {
        "decision total (Access.decision)": _cumulative(stats, _is("access/guard.py", "decision")),
        "  sources, facts and directory (patient_access_inputs, one connection)": _cumulative(
            stats, _is("store/reads.py", "patient_access_inputs")
        ),
        "  patient_facts": _cumulative(stats, _is("consent/extract.py", "patient_facts")),
        "  consent.decide": _cumulative(stats, _is("consent/decision.py", "decide")),
        "row security lookup (security_and_version, reads)": _cumulative(
            stats, _is("store/reads.py", "security_and_version")
        ),
        "scoped store call (read/search/everything)": (
            _called_from(stats, _is("store/reads.py", "read"), "hub/access/guard.py")
            + _called_from(stats, _is("store/reads.py", "search"), "hub/access/guard.py")
            + _called_from(stats, _is("store/reads.py", "everything"), "hub/access/guard.py")
        ),
        "  of which ReadScope.condition (SQL building)": _cumulative(
            stats, _is("access/scope.py", "condition")
        ),
        "audit (Access.record -> append_many)": _cumulative(
            stats, _is("access/guard.py", "record")
        ),
        "query parsing (parse_search)": _cumulative(
            stats, _is("hub/search/query.py", "parse_search")
        ),
    }
    return {
        "requests": count * len(OPERATIONS),
        "wall_seconds_profiled": round(wall, 3),
        "profiled_seconds": round(total, 3),
        "file": str(output),
        "shares": {
            name: {"seconds": round(sec, 4), "share": round(sec / total, 4) if total else None}
            for name, sec in parts.items()
        },
    }


# -- HTTP --------------------------------------------------------------------------------------


@dataclass
class Keys:
    folder: Path
    nurse_token: str
    system_token: str
    audit_key_path: Path
    jwks_path: Path


@contextmanager
def keys() -> Iterator[Keys]:
    folder = Path(tempfile.mkdtemp(prefix="hub-bench-access-keys-"))
    try:
        signing = generate_signing_key(folder / "signing.pem", folder / "jwks.json")

        def token(client: Any) -> str:
            return mint_token(
                signing,
                issuer=ISSUER,
                audience=AUDIENCE,
                subject=client.subject,
                scopes=client.scopes,
                care_unit=client.care_unit,
                care_provider=client.care_provider,
                role=client.role,
                lifetime=timedelta(hours=2),
            )

        audit_key = folder / "audit-ed25519.pem"
        load_or_create_audit_key(audit_key)
        yield Keys(folder, token(NURSE), token(SYSTEM), audit_key, folder / "jwks.json")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _http_path(operation: str, workload: Workload, i: int) -> str:
    pats, reads = workload.patients, workload.reads
    if operation == READ:
        resource_type, resource_id, _ = reads[i % len(reads)]
        return f"/fhir/{resource_type}/{resource_id}"
    patient = pats[i % len(pats)]
    if operation == CAREPLAN:
        return f"/fhir/CarePlan?patient={patient}"
    if operation == ENCOUNTER:
        return f"/fhir/Encounter?patient={patient}&date={ENCOUNTER_SINCE}"
    return f"/fhir/Patient/{patient}/$everything"


def run_http(
    database: Database,
    workload: Workload,
    audit: AuditLog,
    secrets: Keys,
    count: int,
    max_seconds: float,
    rounds: int = 3,
) -> dict[str, dict[str, Rate]]:
    """Two hubs served at once (auth on, auth off); arms interleaved in `rounds`."""
    common = {
        "HUB_DATABASE_URL": database.url,
        "HUB_PATIENT_ID_SECRET": SECRET,
        "HUB_AUDIT_KEY_PATH": str(secrets.audit_key_path),
        "HUB_JWKS_PATH": str(secrets.jwks_path),
        "HUB_TOKEN_ISSUER": ISSUER,
        "HUB_TOKEN_AUDIENCE": AUDIENCE,
    }
    samples: dict[tuple[str, str], list[Rate]] = {}
    with ExitStack() as stack:
        on = stack.enter_context(
            ServedApp("hub", env={**common, "HUB_AUTH": "on"}, ready_path="/fhir/metadata")
        )
        off = stack.enter_context(
            ServedApp("hub", env={**common, "HUB_AUTH": "off"}, ready_path="/fhir/metadata")
        )

        def request_for(operation: str, arm: str) -> Callable[[httpx.Client, int], httpx.Response]:
            bearer = {HTTP_GUARDED: secrets.nurse_token, HTTP_SYSTEM: secrets.system_token}
            headers = {"Authorization": f"Bearer {bearer[arm]}"} if arm in bearer else {}
            action = {READ: "read", EVERYTHING: "everything"}.get(operation, "search")

            def request(http: httpx.Client, i: int) -> httpx.Response:
                response = http.get(_http_path(operation, workload, i), headers=headers)
                if arm == HTTP_UNGUARDED:
                    patient = (
                        workload.reads[i % len(workload.reads)][2]
                        if operation == READ
                        else workload.patients[i % len(workload.patients)]
                    )
                    audit.append_many([_entry(workload, patient, action)])
                return response

            return request

        arms = {HTTP_GUARDED: on.url, HTTP_SYSTEM: on.url, HTTP_UNGUARDED: off.url}
        per_round = max(1, count // rounds)
        for number in range(rounds):
            for operation in OPERATIONS:
                for arm, url in arms.items():
                    rate = run_requests(
                        f"{operation} [{arm}]",
                        url,
                        request_for(operation, arm),
                        count=per_round,
                        max_seconds=max_seconds / rounds,
                        warmup=5 if number else 20,
                    )
                    samples.setdefault((operation, arm), []).append(rate)
    out: dict[str, dict[str, Rate]] = {}
    for (operation, arm), parts in samples.items():
        requests = sum(p.count for p in parts)
        seconds = sum(p.seconds for p in parts)
        means = [p.latency_ms.get("mean", 0.0) * p.count for p in parts]
        p50s = sorted(p.latency_ms.get("p50", 0.0) for p in parts)
        out.setdefault(operation, {})[arm] = Rate(
            name=f"{operation} [{arm}]",
            count=requests,
            seconds=seconds,
            requests=requests,
            errors=sum(p.errors for p in parts),
            mean_bytes=round(sum(p.mean_bytes * p.count for p in parts) / max(requests, 1), 1),
            latency_ms={
                "mean": round(sum(means) / max(requests, 1), 3),
                "p50 (median of rounds)": p50s[len(p50s) // 2],
                "p95 (max of rounds)": max(p.latency_ms.get("p95", 0.0) for p in parts),
            },
            extra={"rounds": [p.as_dict() for p in parts]},
        )
    return out


# -- one database ------------------------------------------------------------------------------


def _mean(rate: Rate) -> float:
    return rate.latency_ms.get("mean", 0.0)


def summarize(
    rates: dict[str, dict[str, Rate]], guarded: str, unguarded: str, audit_ms: float
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        arms = rates.get(operation)
        if not arms or guarded not in arms or unguarded not in arms:
            continue
        g, u = _mean(arms[guarded]), _mean(arms[unguarded])
        ratio = round(g / u, 3) if u else None
        out[operation] = {
            "guarded_ms": g,
            "unguarded_ms": u,
            "ratio": ratio,
            "target": TARGET,
            "met": ratio is not None and ratio <= TARGET,
            "filter_cost_ms": round(g - u, 3),
            "audit_ms": audit_ms,
            "audit_share_of_guarded": round(audit_ms / g, 3) if g else None,
            "audit_share_of_unguarded": round(audit_ms / u, 3) if u else None,
        }
    return out


def run_database(
    database: Database, exports: Path, args: argparse.Namespace, stamp: str, secrets: Keys | None
) -> dict[str, Any]:
    kind = database.kind
    info: dict[str, Any] = {"database": kind}
    store = open_store(database.url)
    try:
        print(f"[{kind}] loading the demo exports", flush=True)
        started = time.perf_counter()
        summaries = load_demo_exports(store, exports, SECRET)
        info["load_seconds"] = round(time.perf_counter() - started, 1)
        info["resources_created"] = sum(s.created for s in summaries)
        info["analyze_seconds"] = round(_analyze(database), 2)
        print(f"  {info['resources_created']} resources in {info['load_seconds']} s", flush=True)
        key = (
            load_or_create_audit_key(secrets.audit_key_path)
            if secrets
            else load_or_create_audit_key(Path(tempfile.mkdtemp()) / "audit.pem")
        )
        audit = AuditLog(store.engine, key)
        nurse = principal_of(NURSE)
        workload = choose_workload(store, audit, nurse, args.seed)
        info["patients_in_workload"] = len(workload.patients)
        info["readable_resources"] = len(workload.reads)
        calls = in_process_calls(store, audit, nurse, workload)

        print(f"[{kind}] in-process: {args.requests} requests per operation and arm", flush=True)
        local = run_in_process(calls, args.requests, args.phase_seconds)
        audit_ms = _mean(local[AUDIT_ONLY][AUDIT_ONLY])
        info["in_process"] = {
            "rates": {op: {a: r.as_dict() for a, r in arms.items()} for op, arms in local.items()},
            "summary": summarize(local, GUARDED, UNGUARDED, audit_ms),
            "audit_ms": audit_ms,
        }
        for operation, row in info["in_process"]["summary"].items():
            print(
                f"  {operation}: guarded {row['guarded_ms']:.2f} ms, unguarded "
                f"{row['unguarded_ms']:.2f} ms, ratio {row['ratio']}",
                flush=True,
            )
        print(f"  audit append alone: {audit_ms:.2f} ms", flush=True)

        info["round_trips"] = count_round_trips(store, calls)
        print(f"[{kind}] profiling the guarded path", flush=True)
        info["profile"] = profile_guarded(
            calls, args.profile_requests, RESULTS / f"access-{stamp}-{kind}.prof"
        )

        if secrets is not None and args.http_requests > 0:
            print(f"[{kind}] HTTP: {args.http_requests} requests per operation and arm", flush=True)
            remote = run_http(
                database, workload, audit, secrets, args.http_requests, args.phase_seconds
            )
            info["http"] = {
                "rates": {
                    op: {a: r.as_dict() for a, r in arms.items()} for op, arms in remote.items()
                },
                "summary": summarize(remote, HTTP_GUARDED, HTTP_UNGUARDED, audit_ms),
                "summary_system": summarize(remote, HTTP_SYSTEM, HTTP_UNGUARDED, audit_ms),
            }
            for operation, row in info["http"]["summary"].items():
                print(
                    f"  {operation}: nurse {row['guarded_ms']:.2f} ms, auth off+audit "
                    f"{row['unguarded_ms']:.2f} ms, ratio {row['ratio']}",
                    flush=True,
                )
        info["audit_records_written"] = audit.count()
    finally:
        store.close()
    return info


# -- report ------------------------------------------------------------------------------------


def table(result: dict[str, Any]) -> str:
    lines: list[str] = []
    dbs = list(result["databases"])
    for section, title, g, u in (
        ("in_process", "in-process (Access / store called directly)", GUARDED, UNGUARDED),
        ("http", "HTTP (uvicorn, loopback, sequential keep-alive client)", "nurse", "off+audit"),
    ):
        if not any(section in result["databases"][db] for db in dbs):
            continue
        lines += ["", f"{title}: mean ms per request; ratio = {g} / {u} (target <= {TARGET}x)"]
        header = f"{'operation':<34}" + "".join(
            f"{db + ' ' + g:>18}{u:>16}{'ratio':>8}" for db in dbs
        )
        lines += [header, "-" * len(header)]
        for operation in OPERATIONS:
            cells = []
            for db in dbs:
                row = result["databases"][db].get(section, {}).get("summary", {}).get(operation)
                if row is None:
                    cells.append(f"{'-':>42}")
                    continue
                mark = "" if row["met"] else "!"
                cells.append(
                    f"{row['guarded_ms']:>18.2f}{row['unguarded_ms']:>16.2f}"
                    f"{str(row['ratio']) + mark:>8}"
                )
            lines.append(f"{operation:<34}" + "".join(cells))
        if section == "in_process":
            extra = []
            for db in dbs:
                rates = result["databases"][db]["in_process"]["rates"]
                only = {op: rates[op][STORE_ONLY]["latency_ms"]["mean"] for op in OPERATIONS}
                audit_ms = result["databases"][db]["in_process"]["audit_ms"]
                extra.append(
                    f"  {db}: audit append alone {audit_ms:.2f}"
                    " ms; store only (no filter, no audit): "
                    + ", ".join(f"{op.split()[-1]} {ms:.2f}" for op, ms in only.items())
                )
            lines += extra
        else:
            for db in dbs:
                summary = result["databases"][db].get("http", {}).get("summary_system", {})
                if summary:
                    lines.append(
                        f"  {db}: system token (provider filter, no decision): "
                        + ", ".join(
                            f"{op.split()[-1]} {row['guarded_ms']:.2f} ({row['ratio']}x)"
                            for op, row in summary.items()
                        )
                    )
    for db in dbs:
        trips = result["databases"][db].get("round_trips")
        if trips:
            lines += ["", f"SQL statements / pool checkouts per request, {db}:"]
            for operation in OPERATIONS:
                lines.append(
                    f"  {operation:<34}"
                    + "  ".join(
                        f"{arm} {t['statements']:g}/{t['checkouts']:g}"
                        for arm, t in trips[operation].items()
                    )
                )
            only = trips[AUDIT_ONLY][AUDIT_ONLY]
            lines.append(f"  {AUDIT_ONLY:<34}{only['statements']:g}/{only['checkouts']:g}")
    for db in dbs:
        profile = result["databases"][db].get("profile")
        if not profile:
            continue
        lines += ["", f"profile of the guarded path, {db} ({profile['requests']} requests):"]
        for name, part in profile["shares"].items():
            share = part["share"] * 100 if part["share"] is not None else 0.0
            lines.append(f"  {name:<48}{part['seconds'] * 1000:>10.1f} ms{share:>7.1f}%")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.access", description=__doc__.split("\n")[0])
    p.add_argument("--patients", type=int, default=2000, help="demo patients (default 2000)")
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help=f"dropped and created per run (default {DEFAULT_POSTGRES})",
    )
    p.add_argument(
        "--requests", type=int, default=500, help="in-process requests per operation and arm"
    )
    p.add_argument(
        "--http-requests",
        type=int,
        default=300,
        help="HTTP requests per operation and arm (0 skips HTTP)",
    )
    p.add_argument("--profile-requests", type=int, default=100, help="per operation")
    p.add_argument("--phase-seconds", type=float, default=90.0, help="time cap per phase")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep-db", action="store_true")
    p.add_argument("--output", type=Path)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    output = args.output or RESULTS / f"access-{stamp}.json"
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    run_started = time.perf_counter()
    result: dict[str, Any] = {
        "meta": {
            "timestamp": stamp,
            "patients": args.patients,
            "machine": _machine(),
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "git": _git(),
            "principal": {"subject": NURSE.subject, "care_unit": NURSE.care_unit},
        },
        "databases": {},
    }
    exports = Path(tempfile.mkdtemp(prefix="hub-bench-access-exports-"))
    try:
        started = time.perf_counter()
        write_demo_exports(exports, args.patients, seed=args.seed)
        result["meta"]["write_exports_seconds"] = round(time.perf_counter() - started, 2)
        with keys() as secrets:
            for kind in kinds:
                with fresh(kind, args.postgres_url, keep=args.keep_db) as database:
                    result["databases"][kind] = run_database(
                        database, exports, args, stamp, secrets
                    )
    finally:
        shutil.rmtree(exports, ignore_errors=True)
    result["meta"]["wall_seconds"] = round(time.perf_counter() - run_started, 1)
    output.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(table(result))
    print(f"\nwritten to {output} (run took {result['meta']['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
