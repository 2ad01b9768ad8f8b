"""Search execution: a parsed SearchQuery run on one connection under the reader's scope.

The WHERE clauses come from hub/search/sql.py; here they are run for the page (count + 1
rows decide the next link; after a `_cursor` the page is the rows past its key, never an
offset), the total when asked (every match, whatever the page), and the rounds of
_include and _revinclude, each filtered by the same ReadScope, so hidden rows are never
fetched, counted or followed. Used by the store's reads and by a unit of work (which sees
its own writes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select, true

from hub.access.scope import ReadScope
from hub.search.query import SearchQuery
from hub.search.sql import Estimate, after_condition, order_by, param_is, where_clauses
from hub.store.model import SearchPage, StoredResource
from hub.store.schema import resources, search_reference
from hub.store.statements import CURRENT, VERSION_COLUMNS, StoredRow, bound, to_stored

__all__ = ["MAX_INCLUDE_ROUNDS", "fetch_current", "page_rows", "scoped", "search_page"]

MAX_INCLUDE_ROUNDS = 4
"""Rounds of _include/_revinclude: the first over the matches, up to three more for
`:iterate` over what the round before added (each bounded by HUB_MAX_INCLUDE in total)."""

_r = resources.c


def scoped(scope: ReadScope | None, columns: Any) -> ColumnElement[bool]:
    """The reader's scope as a WHERE clause over `columns` (None: unrestricted)."""
    return true() if scope is None else scope.condition(columns)


def fetch_current(
    conn: Connection, keys: Sequence[tuple[str, str]], scope: ReadScope | None
) -> list[StoredResource]:
    """The current live versions of (type, id) keys that the scope shows, one query a type."""
    by_type: dict[str, list[str]] = {}
    for resource_type, resource_id in keys:
        by_type.setdefault(resource_type, []).append(resource_id)
    found: list[StoredResource] = []
    for resource_type, ids in by_type.items():
        stmt = (
            select(*VERSION_COLUMNS)
            .select_from(CURRENT)
            .where(
                _r.res_type == resource_type,
                _r.res_id.in_(ids),
                _r.deleted.is_(False),
                scoped(scope, _r),
            )
            .order_by(_r.res_id)
        )
        found.extend(to_stored(row) for row in conn.execute(stmt))
    return found


def _estimator(conn: Connection) -> Estimate | None:
    """SQLite's planner keeps no statistics of values (its sqlite_stat1 counts rows per
    index prefix), so it cannot tell `low <= March 1901` (20 rows) from `high >= March
    1901` (every row): a capped count on the connection tells it. PostgreSQL's histograms
    do (None: the planner chooses)."""
    if conn.dialect.name != "sqlite":
        return None
    return lambda stmt: int(conn.execute(stmt).scalar_one())


def search_page(
    conn: Connection, query: SearchQuery, scope: ReadScope | None, max_include: int
) -> SearchPage:
    """One page of matches, its total when asked or known, and its included resources."""
    clauses = where_clauses(query, scope, _estimator(conn))
    total: int | None = None
    if query.summary_count or query.count == 0 or query.total in ("accurate", "estimate"):
        total = int(
            conn.execute(select(func.count()).select_from(resources).where(*clauses)).scalar_one()
        )
    if query.summary_count or query.count == 0:
        return SearchPage(matches=[], included=[], total=total, has_next=False)
    stmt: Select[Any] = order_by(
        query, select(*VERSION_COLUMNS).select_from(CURRENT).where(*clauses)
    ).limit(query.count + 1)
    if query.after is not None:  # keyset: the rows after the cursor, none skipped
        stmt = stmt.where(after_condition(query))
    else:
        stmt = stmt.offset(query.offset)
    rows = page_rows(conn, stmt)
    matches = [to_stored(r) for r in rows[: query.count]]
    has_next = len(rows) > query.count
    if total is None and query.total != "none" and not has_next and (matches or query.offset == 0):
        total = query.offset + len(matches)
    included = _includes(conn, query, matches, scope, max_include)
    return SearchPage(matches=matches, included=included, total=total, has_next=has_next)


def page_rows(conn: Connection, stmt: Select[Any]) -> list[StoredRow]:
    """The rows of a page statement, run on the connection's DBAPI cursor with the text and
    parameters of `statements.bound` (compiled once per shape)."""
    sql, parameters = bound(stmt, conn.dialect.name)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, parameters)
        return [StoredRow(*row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _includes(
    conn: Connection,
    query: SearchQuery,
    matches: list[StoredResource],
    scope: ReadScope | None,
    max_include: int,
) -> list[StoredResource]:
    if not matches or not (query.includes or query.revincludes):
        return []
    seen = {(m.resource_type, m.id) for m in matches}
    included: list[StoredResource] = []
    frontier = matches
    for depth in range(MAX_INCLUDE_ROUNDS):
        if depth and not any(s.iterate for s in (*query.includes, *query.revincludes)):
            break
        keys = _include_keys(conn, query, frontier, scope, max_include, iterating=depth > 0)
        room = max_include - len(included)
        fresh = [k for k in dict.fromkeys(keys) if k not in seen][:room]
        if not fresh:
            break
        frontier = fetch_current(conn, fresh, scope)
        seen.update(fresh)
        included.extend(frontier)
        if len(included) >= max_include:
            break
    return included


def _include_keys(
    conn: Connection,
    query: SearchQuery,
    frontier: list[StoredResource],
    scope: ReadScope | None,
    max_include: int,
    *,
    iterating: bool,
) -> list[tuple[str, str]]:
    """What one round of _include/_revinclude adds to `frontier` (the matches, then for
    `:iterate` the resources the round before added)."""
    ids_by_type: dict[str, list[str]] = {}
    for item in frontier:
        ids_by_type.setdefault(item.resource_type, []).append(item.id)
    keys: list[tuple[str, str]] = []
    ref = search_reference.c
    for spec in query.includes:
        ids = ids_by_type.get(spec.source_type)
        if not ids or (iterating and not spec.iterate):
            continue
        stmt = select(ref.target_type, ref.target_id).where(
            ref.res_type == spec.source_type,
            param_is(ref, spec.param, spec.rows),
            ref.res_id.in_(ids),
        )
        if spec.target_type:
            stmt = stmt.where(ref.target_type == spec.target_type)
        keys.extend((row.target_type, row.target_id) for row in conn.execute(stmt))
    for spec in query.revincludes:
        if iterating and not spec.iterate:
            continue
        for target_type, ids in ids_by_type.items():
            if spec.target_type and spec.target_type != target_type:
                continue
            referring = select(ref.res_id).where(
                ref.res_type == spec.source_type,
                param_is(ref, spec.param, spec.rows),
                ref.target_type == target_type,
                ref.target_id.in_(ids),
            )
            stmt = (
                select(_r.res_type, _r.res_id)
                .where(
                    _r.res_type == spec.source_type,
                    _r.res_id.in_(referring),
                    _r.deleted.is_(False),
                    scoped(scope, _r),
                )
                .order_by(_r.res_id)
                .limit(max_include)
            )
            keys.extend((row.res_type, row.res_id) for row in conn.execute(stmt))
    return keys
