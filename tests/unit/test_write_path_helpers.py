"""The small helpers on a transaction's write path give what their plain versions give:
server ids, string normalisation, the reference walk, the validation workers' count, and
their pre-check for empty elements."""

from __future__ import annotations

import multiprocessing
import time
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.fhir_api.bundles import _reference_holders
from hub.fhir_dates import instant_from_us, now_us
from hub.search.indexing import MAX_STRING_INDEX, normalize_string
from hub.store.sql_store import new_id
from hub.validation import pool as validation_pool
from hub.validation.pool import ValidationPool, chunk_size, default_workers
from hub.validation.resources import _has_empty, may_hold_empty_elements

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "r4-examples"


def _normalized_slowly(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))[:MAX_STRING_INDEX]


@settings(max_examples=400)
@given(st.text(max_size=300) | st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
def test_normalize_string_equals_the_unicode_form(value: str) -> None:
    assert normalize_string(value) == _normalized_slowly(value)


def test_normalize_string_folds_swedish_letters_and_case() -> None:
    assert normalize_string("Åsa ÖSTLUND") == "asa ostlund"
    assert normalize_string("ANDERSSON") == "andersson"


def test_new_ids_are_version_7_uuids_in_creation_order() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(2000)]
    after_ms = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids[:50]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before_ms <= parsed.int >> 80 <= after_ms
    stamps = [uuid.UUID(text).int >> 80 for text in ids]
    assert stamps == sorted(stamps)


def test_now_us_is_the_clock_in_microseconds() -> None:
    assert abs(now_us() - time.time() * 1_000_000) < 1_000_000


def _holders_walked(node: Any) -> list[int]:
    found: list[int] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                found.append(id(item))
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return found


def _examples() -> list[dict[str, Any]]:
    return [orjson.loads(path.read_bytes()) for path in sorted(EXAMPLES.glob("*.json"))]


def test_reference_holders_are_every_object_with_a_reference_string() -> None:
    examples = _examples()
    assert examples
    for resource in examples:
        found = [id(holder) for holder in _reference_holders(resource)]
        assert len(found) == len(set(found))
        assert sorted(found) == sorted(_holders_walked(resource))
    care_plan = next(r for r in examples if r["resourceType"] == "CarePlan")
    assert len(_reference_holders(care_plan)) >= 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["reference", "a", "b", "display"]), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["reference", "subject", "x"]), json_values, max_size=4))
def test_reference_holders_match_a_plain_walk(resource: dict[str, Any]) -> None:
    found = [id(holder) for holder in _reference_holders(resource)]
    assert sorted(found) == sorted(_holders_walked(resource))


@pytest.mark.parametrize(("cores", "workers"), [(None, 0), (1, 0), (2, 1), (3, 2), (16, 4)])
def test_default_workers_leave_a_core_to_the_request_thread(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, workers: int
) -> None:
    monkeypatch.setattr(validation_pool.os, "cpu_count", lambda: cores)
    assert default_workers() == workers


def test_start_workers_spawns_the_pool_before_the_first_bundle() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    pool = ValidationPool(1)
    try:
        pool.start_workers()
        deadline = time.monotonic() + 60
        spawned: set[int | None] = set()
        while time.monotonic() < deadline and not spawned:
            spawned = {p.pid for p in multiprocessing.active_children()} - before
            time.sleep(0.05)
        assert len(spawned) == 1
    finally:
        pool.close()


def test_start_workers_without_workers_spawns_nothing() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    ValidationPool(0).start_workers()
    assert {p.pid for p in multiprocessing.active_children()} == before


@pytest.mark.parametrize(
    ("resources", "workers", "size"), [(495, 1, 495), (495, 2, 248), (64, 4, 16), (10, 3, 4)]
)
def test_a_bundle_is_one_task_per_worker(resources: int, workers: int, size: int) -> None:
    assert chunk_size(resources, workers) == size
    tasks = -(-resources // size)
    assert tasks == min(workers, resources)


@given(st.integers(min_value=-(10**15), max_value=4 * 10**15))
def test_instant_from_us_is_the_iso_instant_also_when_asked_twice(value: int) -> None:
    expected = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)).isoformat(
        timespec="microseconds"
    )[:-6] + "Z"
    assert instant_from_us(value) == expected
    assert instant_from_us(value) == expected
    assert instant_from_us(value + 1) != expected


json_documents = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=30,
)


@settings(max_examples=400)
@given(json_documents)
def test_compact_json_without_empty_pairs_has_no_empty_element(value: Any) -> None:
    if _has_empty(value):
        assert may_hold_empty_elements(orjson.dumps(value))


def test_empty_pairs_inside_strings_are_only_a_false_alarm() -> None:
    resource = {"resourceType": "Patient", "name": [{"text": 'x"" [] {}'}]}
    assert may_hold_empty_elements(orjson.dumps(resource))
    assert not _has_empty(resource)
    assert not may_hold_empty_elements(orjson.dumps({"resourceType": "Patient", "active": True}))
