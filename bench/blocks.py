"""`python -m bench.blocks [--consents N] [--postgres URL]`: the patients with blocks, found
by the index of blocks against reading every Consent.

A system client's every read needs the patients that may have a block (docs/access-rules.md
S3). The store answers from its index (`SqlStore.patients_with_blocks`, hub/store/blocks.py);
the baseline is the way it was found before the index, in the same run: every Consent read
page by page (1000 a page) and its provision parsed. The store holds N Consents, one in a
hundred a block (deny); the rest are permits.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import psycopg

from hub.access.scope import ReadScope
from hub.search.query import SearchQuery
from hub.store import open_store
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore


def scan_every_consent(store: SqlStore) -> list[str]:
    """The baseline: every Consent read and parsed, as before the index."""
    found: dict[str, None] = {}
    offset, size = 0, 1000
    while True:
        query = SearchQuery("Consent", count=size, offset=offset, total="none")
        page = store.search(query, ReadScope.everything())
        for stored in page.matches:
            if stored.patient_id is None or not stored.content:
                continue
            provision = orjson.loads(stored.content).get("provision")
            if not isinstance(provision, dict) or provision.get("type") != "permit":
                found[stored.patient_id] = None
        if not page.has_next:
            return sorted(found)
        offset += size


def populate(store: SqlStore, consents: int) -> None:
    context = WriteContext("SE2321000164-0000", "SE2321000164-7381")
    with store.unit_of_work() as work:
        for n in range(consents):
            resource = {
                "resourceType": "Consent",
                "id": f"c{n}",
                "status": "active",
                "patient": {"reference": f"Patient/p{n}"},
                "provision": {"type": "deny" if n % 100 == 0 else "permit"},
            }
            work.update(resource, f"c{n}", context)


def per_call_ms(action: Callable[[], object], seconds: float = 3.0) -> float:
    action()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        action()
        count += 1
    return (time.perf_counter() - start) / count * 1000


def measure(url: str, consents: int) -> dict[str, float]:
    store = open_store(url)
    try:
        populate(store, consents)
        assert store.patients_with_blocks() == scan_every_consent(store)
        index = per_call_ms(store.patients_with_blocks)
        scan = per_call_ms(lambda: scan_every_consent(store))
        return {
            "index_ms": round(index, 3),
            "scan_ms": round(scan, 3),
            "speedup": round(scan / index, 1),
        }
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--consents", type=int, nargs="+", default=[100, 2000])
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", ""))
    options = parser.parse_args()
    result: dict[str, object] = {"load_average_at_start": os.getloadavg()}
    for consents in options.consents:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'hub.db'}"
            result[f"sqlite, {consents} consents"] = measure(url, consents)
        if options.postgres:
            schema = f"bench_speed_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(options.postgres, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                url = f"{options.postgres}?options=-csearch_path%3D{schema}"
                result[f"postgresql, {consents} consents"] = measure(url, consents)
            finally:
                with psycopg.connect(options.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    result["load_average_at_end"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
