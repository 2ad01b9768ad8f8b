"""Generated from the definitions: for one official R4 example of every served type, every
search parameter that indexes a value of it finds it again with that value (SQLite; the
query compiler is shared with PostgreSQL, whose own runs are in test_store_search and
test_search_r4_parameter_types)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.search.indexing import index_resource
from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.store import open_store
from hub.store.model import WriteContext
from tests.api.test_r4_examples_every_type import _examples, _first_valid

CTX = WriteContext()


def _day(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%d")


def _queries(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(parameter, value) pairs built from the index rows of the resource: each must find it."""
    registry = default_registry()
    rows = index_resource(resource, registry)
    params = registry.for_type(resource["resourceType"])
    out: list[tuple[str, str]] = []
    for code, system, value in rows.tokens:
        if ":" in code or (params[code].type == "token" and "|" in value):
            continue
        escaped = value.replace("\\", "\\\\").replace(",", "\\,").replace("|", "\\|")
        if params[code].type == "uri":
            out.append((code, escaped))
        else:
            out.append((code, f"{system}|{escaped}" if system else escaped))
    for code, _, exact in rows.strings:
        if ":" not in code and exact.strip():
            out.append((code, exact.replace("\\", "\\\\").replace(",", "\\,")))
    for code, low, high in rows.dates:
        two_days = 2 * 86_400_000_000
        if high < 2**62:
            out.append((code, f"le{_day(high + two_days)}"))
        else:
            out.append((code, f"ge{_day(low - two_days)}"))
    for code, target_type, target_id in rows.references:
        out.append((code, f"{target_type}/{target_id}"))
    for code, _, _, low, high in rows.quantities:
        bound = high if math.isfinite(high) else low
        if math.isfinite(bound):
            prefix = "ge" if bound == high else "le"
            out.append((code, f"{prefix}{bound!r}"))
    return list(dict.fromkeys(out))


def test_every_indexed_value_of_every_type_finds_its_resource(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    registry = default_registry()
    misses: list[str] = []
    searched: set[tuple[str, str]] = set()
    try:
        for resource_type, resources in sorted(_examples().items()):
            example = _first_valid(resources)
            if example is None:
                continue
            with store.unit_of_work() as work:
                work.update(example, example["id"], CTX)
            for code, value in _queries(example):
                query = parse_search(resource_type, [(code, value)], registry)
                found = {m.id for m in store.search(query).matches}
                searched.add((resource_type, code))
                if example["id"] not in found:
                    misses.append(f"{resource_type}?{code}={value}")
    finally:
        store.close()
    assert misses == []
    assert len(searched) > 700  # parameters of all kinds over 120+ types
    assert len({t for t, _ in searched}) >= 115
