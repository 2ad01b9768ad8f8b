"""`python -m bench.audit_floor`: what an audited request's append costs, against the
database's own floor for the same rows.

Every guarded read appends one audit record before it answers, and a search page one per
patient on it (twenty by default). This measures, for batches of 1 and of 20 records, one
caller at a time:

- hub: `AuditLog.append_many` of the batch, as a thread of a request makes it: the chain
  (sequence, previous hash, SHA-256 of the canonical JSON), the group commit's hand-over,
  the head's lock, the inserts, the head's move and the commit;
- hub, event loop: `AuditLog.append_on_loop` of the batch, awaited, as a read or search
  makes it (ADR 0019): on SQLite the loop writes it in line, on PostgreSQL the group
  commit's writer thread does and the loop awaits it;
- floor: the same three statements with the same kind of values (made beforehand) on a
  bare DBAPI connection of a second, equally fresh database: one transaction per batch, no
  hashing, no Python between the statements.

The patients of a batch are drawn at random from `--patients` (the guarded bench's 300
by default), so each record lands on a leaf of the patient index (`ix_audit_patient`)
that the previous batch did not touch, as in real traffic. SQLite is a file with the hub's
pragmas (WAL, synchronous=NORMAL); PostgreSQL is the local server (`--postgres-url`). The
arms take turns in rounds; the JSON goes to bench/results/audit-floor-<time>.json.

    python -m bench.audit_floor --appends 2000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.databases import DEFAULT_POSTGRES, fresh
from consent.audit import AccessEntry
from hub.audit.log import AuditLog, append_statements, load_or_create_audit_key
from hub.store import open_store
from hub.store.sql_store import SqlStore

RESULTS = Path(__file__).resolve().parent / "results"
BATCHES = (1, 20)
RECORD_JSON_BYTES = 600
"""About the size of a read's canonical record JSON (the floor's stored text)."""


def _entry(patient: str) -> AccessEntry:
    return AccessEntry(
        timestamp=datetime.now(UTC),
        request_id="bench-request",
        action="read",
        subject="SE2120002122-S001",
        principal_kind="system",
        care_unit="SE2120002122-1001",
        care_provider="SE2120002122-0000",
        role=None,
        patient_id=patient,
        shown_providers=("SE2120002122-0000",),
        hidden_providers=(),
        decision="permit",
        reason="own care provider's data",
        emergency=False,
    )


Arm = Callable[[int, int], None]
"""arm(size, count): `count` appends of `size` records, one after another."""


def hub_arm(log: AuditLog, patients: list[str]) -> Arm:
    """`AuditLog.append_many` of `size` entries per append."""

    def appends(size: int, count: int) -> None:
        for _ in range(count):
            log.append_many([_entry(random.choice(patients)) for _ in range(size)])

    return appends


def loop_arm(log: AuditLog, patients: list[str]) -> Arm:
    """`AuditLog.append_on_loop` of `size` entries per append, awaited on an event loop."""
    loop = asyncio.new_event_loop()

    async def run(size: int, count: int) -> None:
        for _ in range(count):
            await log.append_on_loop([_entry(random.choice(patients)) for _ in range(size)])

    def appends(size: int, count: int) -> None:
        loop.run_until_complete(run(size, count))

    return appends


def floor_arm(store: SqlStore, patients: list[str]) -> Arm:
    """The append's statements on a bare DBAPI connection, one transaction per append."""
    dialect = store.engine.dialect.name
    sql = append_statements(dialect)
    raw: Any = store.engine.raw_connection()
    text = "x" * RECORD_JSON_BYTES
    moment = int(time.time() * 1_000_000)

    def append(size: int) -> None:
        cursor = raw.cursor()
        if dialect == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        cursor.execute(sql.lock_head, (1,))
        sequence, _hash = cursor.fetchone()
        rows = [
            (sequence + i + 1, moment, random.choice(patients), "SE2120002122-S001", False, text)
            for i in range(size)
        ]
        cursor.executemany(sql.insert_record, rows)
        moved = {"new_sequence": sequence + size, "new_hash": "0" * 64, "head_id": 1}
        cursor.execute(sql.move_head.sql, sql.move_head.values(moved))
        cursor.close()
        raw.commit()

    def appends(size: int, count: int) -> None:
        for _ in range(count):
            append(size)

    return appends


def _per_append_us(appends: Arm, size: int, count: int) -> float:
    appends(size, 20)  # warm the caches and the connection
    started = time.perf_counter()
    appends(size, count)
    return (time.perf_counter() - started) / count * 1e6


def measure(kind: str, postgres_url: str, appends: int, rounds: int, patients: int) -> dict:
    """Both arms on two fresh databases of `kind`, every batch size, rounds taking turns."""
    ids = [f"bench-{n:05d}" for n in range(patients)]
    folder = Path(tempfile.mkdtemp(prefix="hub-audit-floor-"))
    second = postgres_url.rsplit("/", 1)[0] + "/hub_bench_floor"
    with (
        fresh(kind, postgres_url) as hub_db,
        fresh(kind, second) as floor_db,
    ):
        hub_store = open_store(hub_db.url)
        floor_store = open_store(floor_db.url)
        try:
            log = AuditLog(hub_store.engine, load_or_create_audit_key(folder / "audit-key.pem"))
            arms = {
                "hub": hub_arm(log, ids),
                "hub, event loop": loop_arm(log, ids),
                "floor": floor_arm(floor_store, ids),
            }
            out: dict[str, Any] = {}
            for size in BATCHES:
                times: dict[str, list[float]] = {name: [] for name in arms}
                for _round in range(rounds):
                    for name, append in arms.items():
                        times[name].append(_per_append_us(append, size, appends))
                hub_us = statistics.median(times["hub"])
                loop_us = statistics.median(times["hub, event loop"])
                floor_us = statistics.median(times["floor"])
                out[f"{size} record(s)"] = {
                    "hub_us": round(hub_us, 1),
                    "hub_event_loop_us": round(loop_us, 1),
                    "floor_us": round(floor_us, 1),
                    "hub_over_floor": round(hub_us / floor_us, 2),
                    "hub_event_loop_over_floor": round(loop_us / floor_us, 2),
                    "rounds_us": {k: [round(t, 1) for t in v] for k, v in times.items()},
                    "load_average": round(os.getloadavg()[0], 2),
                }
                print(kind, size, json.dumps(out[f"{size} record(s)"]), flush=True)
            return out
        finally:
            hub_store.close()
            floor_store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appends", type=int, default=1000, help="appends per arm and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    result: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "appends": args.appends,
        "patients": args.patients,
    }
    for kind in args.databases.split(","):
        result[kind] = measure(kind, args.postgres_url, args.appends, args.rounds, args.patients)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"audit-floor-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
