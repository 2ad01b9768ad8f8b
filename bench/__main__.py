"""`python -m bench`: the hub's throughput against its baselines, on SQLite and PostgreSQL.

See docs/benchmarks.md for what each figure means. Results are printed as a table and
written as JSON to bench/results/<timestamp>.json.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import baselines, dataset, measure, report
from bench.databases import DEFAULT_POSTGRES, fresh
from bench.scenario import Options, run_database

RESULTS = Path(__file__).resolve().parent / "results"


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores {model}".strip()


def _git() -> dict[str, Any]:
    """The commit measured and whether the work tree differed from it (read-only git)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "hub", "adapters"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {"head": head, "changed_files_in_hub_and_adapters": len(dirty)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--resources", type=int, default=100_000, help="data set size (default 100000)")
    p.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help=f"database dropped and created per run (default {DEFAULT_POSTGRES})",
    )
    p.add_argument("--bundle-size", type=int, default=500, help="entries per load bundle")
    p.add_argument("--reads", type=int, default=5000, help="read requests (and baseline B)")
    p.add_argument("--searches", type=int, default=2000, help="requests per search")
    p.add_argument("--single-creates", type=int, default=2000, help="single POST creates")
    p.add_argument("--small-bundles", type=int, default=300, help="one-patient transactions")
    p.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="also run reads/B/one search with N client threads (N > 1)",
    )
    p.add_argument(
        "--phase-seconds",
        type=float,
        default=90.0,
        help="time cap for each timed phase except the bulk load",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="run the hub under cProfile (slower; figures not comparable); "
        "stats go to bench/results/<timestamp>-<db>.prof",
    )
    p.add_argument(
        "--hub-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for the hub server (default HUB_AUTH=off; repeatable)",
    )
    p.add_argument("--bearer", help="bearer token sent with every request (with HUB_AUTH=on)")
    p.add_argument("--keep-db", action="store_true", help="keep the databases afterwards")
    p.add_argument("--output", type=Path, help="JSON path (default bench/results/<ts>.json)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    output = args.output or RESULTS / f"{stamp}.json"
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    run_started = time.perf_counter()
    hub_env = {"HUB_AUTH": "off"}
    hub_env.update(dict(item.split("=", 1) for item in args.hub_env))
    if args.bearer:
        measure.HEADERS["Authorization"] = f"Bearer {args.bearer}"

    print(f"building the data set (~{args.resources} resources)", flush=True)
    data = dataset.build(args.resources)
    bundles = [
        (dataset.bundle_body(groups)[0], groups)
        for groups in dataset.transaction_bundles(data.groups, args.bundle_size)
    ]
    extra_patients = max(args.small_bundles, args.single_creates // dataset.PER_PATIENT + 1)
    extra = dataset.build(extra_patients * dataset.PER_PATIENT + dataset.DIRECTORY_SIZE, seed=99)
    small_groups = extra.groups[: args.small_bundles]
    single = dataset.build(extra_patients * dataset.PER_PATIENT + dataset.DIRECTORY_SIZE, seed=77)

    submitted = dataset.submitted_resources(data)
    print(f"baseline A over {len(submitted)} resources", flush=True)
    baseline_a = baselines.model_validate_rate(submitted)
    print(f"  {baseline_a.per_second:.0f} resources/s", flush=True)
    hub_validate = baselines.hub_validate_rate(submitted[:20_000])
    print(f"  hub validate_resource: {hub_validate.per_second:.0f} resources/s", flush=True)

    # The client's own data (data sets, baseline models) stays alive for the whole run: keep
    # it out of the collector's sight, so that the client's full collections, which would
    # walk it in the middle of timed request loops, are not charged to the servers.
    gc.collect()
    gc.freeze()

    result: dict[str, Any] = {
        "meta": {
            "timestamp": stamp,
            "resources": data.resource_count,
            "patients": len(data.groups),
            "machine": _machine(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "versions": {
                name: version(name)
                for name in (
                    "fastapi",
                    "uvicorn",
                    "httpx",
                    "SQLAlchemy",
                    "psycopg",
                    "fhir.resources",
                    "pydantic",
                )
            },
            "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "profiled": bool(args.profile),
            "hub_env": hub_env,
            "git": _git(),
        },
        "baseline_a": baseline_a.as_dict(),
        "hub_validate": hub_validate.as_dict(),
        "databases": {},
    }
    for kind in kinds:
        options = Options(
            bundle_size=args.bundle_size,
            reads=args.reads,
            searches=args.searches,
            single_creates=args.single_creates,
            small_bundles=args.small_bundles,
            concurrency=args.concurrency,
            phase_seconds=args.phase_seconds,
            hub_env=hub_env,
            profile=RESULTS / f"{stamp}-{kind}.prof" if args.profile else None,
        )
        with fresh(kind, args.postgres_url, keep=args.keep_db) as database:
            info = run_database(database, data, bundles, (small_groups, single.groups), options)
        rates = info.pop("rates")
        result["databases"][kind] = {
            **info,
            "rates": {name: rate.as_dict() for name, rate in rates.items()},
            "ratios": report.ratios(baseline_a, rates),
        }
    result["meta"]["wall_seconds"] = round(time.perf_counter() - run_started, 1)
    import orjson

    output.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print()
    print(report.table(result))
    print(f"\nwritten to {output} (run took {result['meta']['wall_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
