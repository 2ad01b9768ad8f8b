"""`python -m bench.deep_page`: a deep search page by `_offset` against the same page by `_cursor`.

ADR 0006: a search ordered by `_id` and `_lastUpdated` (or not sorted) pages by keyset, its
next link carrying a `_cursor`; `_offset` still reaches any page, at the cost of the rows
it skips. Per database and size this measures, in one run against one served hub, the page
standing at about 90% of a large result reached both ways:

    Patient (default order, by id)        Patient?_count=20
    Encounter (newest first, scoped)      Encounter?_sort=-_lastUpdated&_count=20

The result size T comes from `_summary=count`; the page position is P = 90% of T rounded
down to a page. The offset page is `?_offset=P`; the cursor page is the next link of the
page at P - 20 (fetched once by offset: a client reaches it by following links, and the
link it follows is the same). Both must hold the same entries. Then `--requests` requests
of each, alternating, after 5 warm-up requests each; p50 and p95 per way and the ratio of
the p50s (offset / cursor).

The databases are those of bench.search_scale (its data builder and cache, by `--tag`;
built when missing, PostgreSQL copied from the SQLite build with `--copy-sqlite`), served
by `hub serve` with HUB_AUTH=on, a system client's real bearer token and the audit log on,
as bench.search_scale serves them. The Encounter query runs under that client's scope (its
care provider's encounters only), so the deep offset walks rows the scope filters.

A small run (the size docs/benchmarks.md quotes):

    python -m bench.deep_page --sizes 20000 --db both --copy-sqlite --requests 30

At scale, on a quiet machine:

    python -m bench.deep_page --sizes 1000000 --db both --copy-sqlite --requests 200

Table on stdout, JSON to bench/results/deep-page-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from bench.search_scale import (
    CACHE,
    RESULTS,
    _database_exists,
    _load,
    _postgres_url,
    build,
    copy_to_postgres,
    serve_and_measure,
)

COUNT = 20
DEPTH = 0.9
QUERIES = {
    "patient-by-id": "Patient?_count=20",
    "encounter-newest-first": "Encounter?_sort=-_lastUpdated&_count=20",
}


def _get(client: httpx.Client, url: str) -> dict[str, Any]:
    answer = client.get(url)
    if answer.status_code != 200:
        raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")
    body: dict[str, Any] = answer.json()
    return body


def _link(bundle: dict[str, Any], relation: str) -> str:
    for item in bundle.get("link", []):
        if item["relation"] == relation:
            return str(item["url"])
    raise RuntimeError(f"no {relation} link")


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
    }


def deep_pages(client: httpx.Client, path: str) -> dict[str, Any]:
    """The offset URL and the cursor URL of the page at DEPTH of `path`'s result."""
    summary = _get(client, "/" + path + "&_summary=count")
    total = int(summary["total"])
    position = int(total * DEPTH) // COUNT * COUNT
    if position < COUNT:
        raise RuntimeError(f"{path}: {total} matches, too few for a deep page")
    before = _get(client, f"/{path}&_offset={position - COUNT}")
    cursor_url = _link(before, "next")
    if "_cursor=" not in cursor_url:
        raise RuntimeError(f"{path}: the next link holds no _cursor")
    offset_url = f"/{path}&_offset={position}"
    by_offset, by_cursor = _get(client, offset_url), _get(client, cursor_url)
    if _ids(by_offset) != _ids(by_cursor) or len(_ids(by_offset)) != COUNT:
        raise RuntimeError(f"{path}: the offset and cursor pages differ")
    return {"total": total, "position": position, "offset": offset_url, "cursor": cursor_url}


def measure(base: str, headers: dict[str, str], requests: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        for name, path in QUERIES.items():
            pages = deep_pages(client, path)
            samples: dict[str, list[float]] = {"offset": [], "cursor": []}
            for round_ in range(requests + 5):
                for way in ("offset", "cursor"):
                    start = time.perf_counter()
                    _get(client, pages[way])
                    if round_ >= 5:
                        samples[way].append(time.perf_counter() - start)
            offset, cursor = _stats(samples["offset"]), _stats(samples["cursor"])
            out[name] = {
                "total": pages["total"],
                "position": pages["position"],
                "offset": offset,
                "cursor": cursor,
                "ratio_p50": round(offset["p50_ms"] / cursor["p50_ms"], 2),
            }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.deep_page")
    parser.add_argument("--sizes", default="20000", help="table sizes, comma-separated")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tag", default="main", help="name part of the cached databases")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--copy-sqlite",
        action="store_true",
        help="build a missing PostgreSQL database by copying the SQLite one of the same size",
    )
    options = parser.parse_args(argv)
    kinds = ["sqlite", "postgresql"] if options.db == "both" else [options.db]
    result: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "runs": []}
    for kind in kinds:
        for size in (int(s) for s in options.sizes.split(",")):
            name = f"hub_bench_scale_{options.tag}_{size}"
            sqlite_url = f"sqlite:///{CACHE / (name + '.db')}"
            url = _postgres_url(options.postgres, name) if kind == "postgresql" else sqlite_url
            run: dict[str, Any] = {"database": kind, "size": size}
            if not _database_exists(url):
                print(f"building {kind} {size} (load {_load()})", file=sys.stderr, flush=True)
                if kind == "postgresql" and options.copy_sqlite and _database_exists(sqlite_url):
                    run["copied"] = copy_to_postgres(sqlite_url, url)
                else:
                    run["build"] = build(url, size)
            run["load_before"] = _load()
            run["pages"] = serve_and_measure(url, options.requests, measure)
            run["load_after"] = _load()
            for query, found in run["pages"].items():
                print(
                    f"{kind:10} {size:>9} {query:24} position {found['position']:>7} of"
                    f" {found['total']:>7}: offset p50 {found['offset']['p50_ms']:>8} ms,"
                    f" cursor p50 {found['cursor']['p50_ms']:>7} ms,"
                    f" ratio {found['ratio_p50']}",
                    flush=True,
                )
            result["runs"].append(run)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"deep-page-{stamp}.json").write_bytes(
        orjson.dumps(result, option=orjson.OPT_INDENT_2)
    )


if __name__ == "__main__":
    main()
