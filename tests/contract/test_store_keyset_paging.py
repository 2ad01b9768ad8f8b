"""Store contract: keyset paging (`_cursor`, ADR 0006) on both databases.

A search ordered by _id and _lastUpdated pages by the last row's key: following cursors
visits every match once, in the order offset paging gives, rows written between two pages
never shift the next one, and under a reader's scope the cursor only moves among the rows
that scope shows (a key taken from a hidden row finds what any key there would find).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.access.scope import ReadScope
from hub.search.cursor import encode_cursor, fingerprint
from hub.search.parameters import default_registry
from hub.search.query import SearchQuery, next_cursor, parse_search
from hub.store.model import SearchPage, StoredResource, WriteContext
from hub.store.sql_store import SqlStore

PROVIDER_A, PROVIDER_B = "SE2120002122-0000", "SE2120000001-0000"
UNIT_A, UNIT_B = "SE2120002122-1001", "SE2120000001-2001"
REGISTRY = default_registry()


def _plan(plan_id: str, patient_id: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": plan_id,
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient_id}"},
    }


def _put(store: SqlStore, plan_ids: list[str], ctx: WriteContext | None = None) -> None:
    with store.unit_of_work() as work:
        for plan_id in plan_ids:
            work.update(_plan(plan_id), plan_id, ctx or WriteContext(PROVIDER_A, UNIT_A))


def _query(params: list[tuple[str, str]], cursor: str | None = None) -> SearchQuery:
    extra = [("_cursor", cursor)] if cursor else []
    return parse_search("CarePlan", [*params, *extra], REGISTRY)


def _following(query: SearchQuery, page: SearchPage) -> str | None:
    if not page.has_next:
        return None
    last: StoredResource = page.matches[-1]
    return next_cursor(query, last.id, last.last_updated)


def _pages(
    store: SqlStore, params: list[tuple[str, str]], scope: ReadScope | None = None
) -> Iterator[SearchPage]:
    query = _query(params)
    for _ in range(100):
        page = store.search(query, scope)
        yield page
        cursor = _following(query, page)
        if cursor is None:
            return
        query = _query(params, cursor)
    raise AssertionError("cursors never ended")


def _by_offset(
    store: SqlStore, params: list[tuple[str, str]], scope: ReadScope | None = None
) -> list[str]:
    seen: list[str] = []
    offset = 0
    while True:
        page = store.search(_query([*params, ("_offset", str(offset))]), scope)
        seen.extend(m.id for m in page.matches)
        if not page.has_next:
            return seen
        offset += len(page.matches)


@pytest.mark.parametrize(
    "sort",
    [
        None,
        "_id",
        "-_id",
        "_lastUpdated",
        "-_lastUpdated",
        "-_lastUpdated,_id",
        "_lastUpdated,-_id",
    ],
)
def test_cursors_visit_every_match_once_in_the_offset_order(store: SqlStore, sort: str) -> None:
    _put(store, [f"plan-{n:02d}" for n in (7, 3, 11, 1, 9, 5, 0, 12, 2, 8, 4, 10, 6)])
    params = [("_count", "4"), *([("_sort", sort)] if sort else [])]
    seen = [m.id for page in _pages(store, params) for m in page.matches]
    assert len(seen) == len(set(seen)) == 13
    assert seen == _by_offset(store, params)


def test_lastupdated_ties_are_broken_by_the_id(store: SqlStore) -> None:
    """Rows written in one transaction may share their lastUpdated: the id orders them,
    and the cursor's (lastUpdated, id) pair never skips or repeats one."""
    _put(store, [f"tie-{n}" for n in range(9)])
    for sort in ("_lastUpdated", "-_lastUpdated"):
        params = [("_count", "2"), ("_sort", sort)]
        seen = [m.id for page in _pages(store, params) for m in page.matches]
        assert seen == _by_offset(store, params)
        assert sorted(seen) == [f"tie-{n}" for n in range(9)]


def test_rows_written_before_the_cursor_do_not_shift_the_next_page(store: SqlStore) -> None:
    _put(store, [f"m-{n}" for n in range(10)])
    params = [("_count", "4")]
    query = _query(params)
    first = store.search(query)
    assert [m.id for m in first.matches] == ["m-0", "m-1", "m-2", "m-3"]
    cursor = _following(query, first)
    _put(store, ["a-new", "b-new", "m-0a"])  # all sort before the cursor's row m-3
    second = store.search(_query(params, cursor))
    assert [m.id for m in second.matches] == ["m-4", "m-5", "m-6", "m-7"]
    offset_page = store.search(_query([*params, ("_offset", "4")]))
    assert [m.id for m in offset_page.matches] == ["m-1", "m-2", "m-3", "m-4"], "offsets shift"


def test_newest_first_paging_ignores_rows_written_meanwhile(store: SqlStore) -> None:
    for n in range(7):
        _put(store, [f"old-{n}"])
    params = [("_count", "3"), ("_sort", "-_lastUpdated")]
    query = _query(params)
    first = store.search(query)
    assert [m.id for m in first.matches] == ["old-6", "old-5", "old-4"]
    cursor = _following(query, first)
    _put(store, ["new-0"])
    _put(store, ["new-1"])
    rest = [m.id for page in _pages_from(store, params, cursor) for m in page.matches]
    assert rest == ["old-3", "old-2", "old-1", "old-0"]


def _pages_from(store: SqlStore, params: list[tuple[str, str]], cursor: str) -> list[SearchPage]:
    pages: list[SearchPage] = []
    next_token: str | None = cursor
    while next_token is not None:
        query = _query(params, next_token)
        pages.append(store.search(query))
        next_token = _following(query, pages[-1])
    return pages


def test_total_and_includes_on_a_cursor_page(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        work.update({"resourceType": "Patient", "id": "p1"}, "p1", WriteContext(PROVIDER_A))
    _put(store, [f"inc-{n}" for n in range(5)])
    params = [("_count", "2"), ("_total", "accurate"), ("_include", "CarePlan:subject")]
    pages = list(_pages(store, params))
    assert [p.total for p in pages] == [5, 5, 5]
    assert all([i.id for i in p.included] == ["p1"] for p in pages)
    plain = [("_count", "2")]
    last = list(_pages(store, plain))[-1]
    assert last.total == 5, "the last page's position plus its rows"


def test_a_scoped_search_pages_over_visible_rows_and_a_cursor_reveals_no_hidden_row(
    store: SqlStore,
) -> None:
    visible = [f"v-{n:02d}" for n in range(0, 20, 2)]
    hidden = [f"v-{n:02d}" for n in range(1, 20, 2)]
    _put(store, visible, WriteContext(PROVIDER_A, UNIT_A))
    _put(store, hidden, WriteContext(PROVIDER_B, UNIT_B))
    scope = ReadScope(provider=PROVIDER_A)
    params = [("_count", "3")]
    seen = [m.id for page in _pages(store, params, scope) for m in page.matches]
    assert seen == visible == _by_offset(store, params, scope)
    # A crafted key at a hidden row finds what a key at a row that does not exist finds:
    # the visible rows after it, and an accurate total of visible rows only.
    marker = fingerprint("CarePlan", (), ())
    for hidden_id in hidden:
        for key in (hidden_id, hidden_id + "-missing"):
            query = _query([*params, ("_total", "accurate")], encode_cursor(marker, [key], 3))
            page = store.search(query, scope)
            assert [m.id for m in page.matches] == [v for v in visible if v > key][:3]
            assert page.total == len(visible)
