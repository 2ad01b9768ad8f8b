"""Resources per second through each adapter: parse, translate, validate, and full ingest.

    python -m bench.adapters [--patients 10000] [--postgres URL | --no-postgres]
                             [--invariants-off] [--validation-workers N]

Generates the demo exports (hub.demo.exports) for N patients, then per adapter measures,
in one run over the same files: parse only; parse + translate; fhir.resources (R4B)
validation of the translated resources alone; and `hub.ingest.batch.ingest_files`, the
CLI's path (parse, translate, hub validation with the base invariants, small files sharing
a transaction with a savepoint each, a Provenance per file) into a fresh SQLite file and a
fresh PostgreSQL schema. Rates are translated resources per second; the ratios put full
ingest against parse-only and against validation-only, and parse+translate against
validation-only (the most full ingest could reach, since it parses and translates too).
The validator's definitions are read before the timing (a running hub has them), and each
database's load starts with no remembered invariant verdicts. With --invariants-off the
loads are repeated into fresh databases with HUB_VALIDATE_INVARIANTS=off (the bulk-load
setting: fhir.resources and the hub's structure checks, no base FHIRPath invariants).
Each database is also loaded as `hub ingest` loads it (label `+workers`): with a
ValidationPool of `--validation-workers` processes (default: `hub ingest`'s, one per core
but one), fresh for each load, which validate a batch while the batch before it is written.
Their CPU time is not this process's, so the CPU-time ratios leave it out.
The machine load (uptime) is printed before and after, and the ratios are printed a second
time by this process's CPU time, which a shared machine disturbs less (it leaves out the
PostgreSQL server's own work). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from fhir.resources.R4B import get_fhir_model_class

from adapters.model import TranslationContext
from hub.demo.exports import ADT_FACILITY, REGION_PROVIDER, write_demo_exports
from hub.ingest import IngestRejected
from hub.ingest.batch import ingest_files
from hub.ingest.registry import ADAPTERS
from hub.settings import Settings
from hub.store import open_store
from hub.store.sql_store import SqlStore
from hub.validation.on_write import configure
from hub.validation.pool import ValidationPool, default_workers
from hub.validation.resources import forget_verdicts, validate_resource
from mappings.loader import CodeTable, MappedCode, TargetCoding, load_table
from mappings.systems import HSA_SYSTEM

SECRET = b"bench-secret"
INVARIANTS_OFF = " inv-off"
"""Label suffix of the loads with HUB_VALIDATE_INVARIANTS=off (the setting for bulk loads)."""
POOLED = " +workers"
"""Label suffix of the loads with a ValidationPool, as `hub ingest` runs them: validation
on worker processes while the batches are written (their CPU time is not this process's)."""
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _register_demo_ward() -> bool:
    """Give the demo ward a sending-facility row in this process if the table lacks one."""
    if any(row.code == ADT_FACILITY[0] for row in load_table("hl7v2-sending-facility").rows):
        return False
    module = importlib.import_module("adapters.hl7v2_adt.translate")
    row = MappedCode(
        ADT_FACILITY[0],
        ADT_FACILITY[1],
        TargetCoding(HSA_SYSTEM, REGION_PROVIDER[0], REGION_PROVIDER[1]),
        "bench registration of the demo ward",
    )

    def patched(name: str) -> CodeTable:
        table = load_table(name)
        if name == "hl7v2-sending-facility":
            return dataclasses.replace(table, rows=(*table.rows, row))
        return table

    module.load_table = patched  # type: ignore[attr-defined]
    return True


def _timed(action: Callable[[], Any]) -> tuple[float, float]:
    """Wall seconds of the action, and the CPU seconds this process spent on it."""
    start, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - start, time.process_time() - cpu


@dataclasses.dataclass
class Row:
    adapter: str
    files: int
    resources: int
    seconds: dict[str, float]
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)
    """CPU seconds of this process per arm (not the PostgreSQL server's)."""

    def rate(self, key: str, table: dict[str, float] | None = None) -> float:
        seconds = self.seconds if table is None else table
        return self.resources / seconds[key] if seconds.get(key) else 0.0


def load_all(
    store: SqlStore,
    adapter_name: str,
    files: list[tuple[str, bytes]],
    secret: bytes,
    validation: ValidationPool | None = None,
) -> None:
    """Load the files as the CLI does (hub.ingest.batch); every file must be stored."""
    for result in ingest_files(store, adapter_name, files, secret=secret, validation=validation):
        assert not isinstance(result, IngestRejected), result.error


def _measure(
    adapter_name: str,
    files: list[tuple[str, bytes]],
    stores: dict[str, SqlStore],
    workers: int = 0,
) -> Row:
    adapter = ADAPTERS[adapter_name]
    parsed: list[Any] = []
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    seconds["parse"], cpu["parse"] = _timed(
        lambda: parsed.extend(adapter.parse(d, n) for n, d in files)
    )
    resources: list[dict[str, Any]] = []

    def translate() -> None:
        for name, data in files:
            records = adapter.parse(data, name)
            context = TranslationContext(SECRET, adapter.source_system(records) or "bench")
            resources.extend(item.resource for item in adapter.translate(records, context))

    seconds["parse+translate"], cpu["parse+translate"] = _timed(translate)

    def validate() -> None:
        for resource in resources:
            get_fhir_model_class(resource["resourceType"]).model_validate(resource)

    seconds["validate"], cpu["validate"] = _timed(validate)
    first_of_each_type = list({r["resourceType"]: r for r in reversed(resources)}.values())
    for resource in first_of_each_type:  # definitions are read once per process, not timed
        validate_resource(resource)
    for label, store in stores.items():
        pool = None
        if POOLED in label:  # fresh workers: none remembers a verdict of an earlier load
            pool = ValidationPool(workers)
            pool.warm_up(first_of_each_type)  # as the inline arm's process is, untimed

        def ingest(store: SqlStore = store, pool: ValidationPool | None = pool) -> None:
            load_all(store, adapter_name, files, SECRET, pool)

        forget_verdicts()  # each database's load starts without remembered verdicts
        configure(Settings(validate_invariants="off" if INVARIANTS_OFF in label else "on"))
        seconds[f"ingest {label}"], cpu[f"ingest {label}"] = _timed(ingest)
        if pool is not None:
            pool.close()
    configure(Settings())
    return Row(adapter_name, len(files), len(resources), seconds, cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--validation-workers",
        type=int,
        default=default_workers(),
        help="worker processes of the pooled loads (the default of `hub ingest`); 0: none",
    )
    parser.add_argument(
        "--invariants-off",
        action="store_true",
        help="also load into fresh databases with HUB_VALIDATE_INVARIANTS=off",
    )
    args = parser.parse_args()
    print(f"load before: {_load()}")
    if _register_demo_ward():
        print(f"note: {ADT_FACILITY[0]} registered in-process as an ADT sender for this run")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        exports = write_demo_exports(folder / "exports", args.patients, args.seed)
        print(
            f"{args.patients} patients: {len(exports)} files in {time.perf_counter() - start:.1f} s"
        )
        variants = ["", INVARIANTS_OFF] if args.invariants_off else [""]
        if args.validation_workers > 0:  # the workers validate with the invariants on
            variants.append(POOLED)
        stores = {
            f"sqlite{variant}": open_store(f"sqlite:///{folder / f'bench{variant}.db'}")
            for variant in variants
        }
        schemas = []
        if not args.no_postgres:
            for variant in variants:
                schema = f"bench_{uuid.uuid4().hex[:10]}"
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'CREATE SCHEMA "{schema}"')
                schemas.append(schema)
                url = f"{args.postgres}?options=-csearch_path%3D{schema}"
                stores[f"postgresql{variant}"] = open_store(url)
        try:
            rows = []
            for adapter_name in ADAPTERS:
                files = [(p.name, p.read_bytes()) for a, p in exports if a == adapter_name]
                rows.append(_measure(adapter_name, files, stores, args.validation_workers))
        finally:
            for store in stores.values():
                store.close()
            for schema in schemas:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    _report(rows, list(stores))
    print(f"\nload after: {_load()}")


def _load() -> str:
    """The 1, 5 and 15 minute load averages (as uptime shows them) and the core count."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _report(rows: list[Row], databases: list[str]) -> None:
    keys = ["parse", "parse+translate", "validate", *(f"ingest {db}" for db in databases)]
    print("\nresources per second (translated resources / wall time)")
    print(f"{'adapter':20} {'files':>6} {'resources':>9} " + " ".join(f"{k:>25}" for k in keys))
    for row in rows:
        rates = " ".join(f"{row.rate(k):25,.0f}" for k in keys)
        print(f"{row.adapter:20} {row.files:6} {row.resources:9} {rates}")
    print("\nfull ingest as a share of parse-only and of fhir.resources validation-only")
    for row in rows:
        parts = [
            f"{db}: {row.rate(f'ingest {db}') / row.rate('parse'):.3f}x parse, "
            f"{row.rate(f'ingest {db}') / row.rate('validate'):.2f}x validate"
            for db in databases
        ]
        ceiling = row.rate("parse+translate") / row.rate("validate")
        print(f"{row.adapter:20} " + "; ".join(parts) + f"; parse+translate {ceiling:.2f}x")
    print(
        "\nthe same by CPU time of this process (steadier on a shared machine; it leaves out "
        "the PostgreSQL server's work)"
    )
    for row in rows:
        validate = row.rate("validate", row.cpu)
        parts = [f"{db}: {row.rate(f'ingest {db}', row.cpu) / validate:.2f}x" for db in databases]
        ceiling = row.rate("parse+translate", row.cpu) / validate
        print(f"{row.adapter:20} " + "; ".join(parts) + f"; parse+translate {ceiling:.2f}x")


if __name__ == "__main__":
    main()
