"""Compile a SearchQuery into SQLAlchemy Core conditions over the resources table.

Every value is a bound parameter. Each criterion becomes `res_id IN (SELECT res_id FROM
search_x WHERE ...)`, so the database uses the (res_type, param, value) indexes.

Criteria on one date, number or quantity parameter that reaches at most one element per
resource (Criterion.single_valued) are tested together on one index row: `date=ge..&date=le..`
on Encounter.period is one subquery with both ends. Each range criterion also implies a
range of one value column (`ge` a lower bound on `high`, `le` an upper bound on `low`, as
low <= high on every row); with an `estimate` (the store's connection, SQLite, whose planner
keeps no value statistics) the narrowest such range found by a capped count drives the
search and every other criterion is probed per match, so a search costs what its result
costs and not what the table holds. Repeating elements keep one subquery per criterion, as
FHIR lets different values satisfy each.

Chained and `_has` criteria are subqueries over search_reference whose other end is a
subquery over the resources rows of the linked type, and the reader's ReadScope applies to
those rows at every link: a chain never passes through a row the reader may not see, so it
cannot reveal one by what it matches or counts. Deleted rows never match a link.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, not_, or_, select
from sqlalchemy.sql.elements import KeyedColumnElement

from hub.access.scope import ReadScope
from hub.errors import InvalidRequest
from hub.search.cursor import KeysetKey, keyset_keys
from hub.search.indexing import normalize_string
from hub.search.query import (
    Criterion,
    DateValue,
    NumberValue,
    ReferenceValue,
    RowsOf,
    SearchQuery,
    SortKey,
    StringValue,
    TokenValue,
    UriValue,
)
from hub.search.units import CANONICAL_SUFFIX
from hub.store.schema import (
    resources,
    search_composite,
    search_date,
    search_quantity,
    search_reference,
    search_string,
    search_token,
)

_TABLE_FOR_KIND = {
    "token": search_token,
    "string": search_string,
    "date": search_date,
    "reference": search_reference,
    "number": search_quantity,
    "quantity": search_quantity,
    "uri": search_token,
}


def param_is(columns: Any, name: str, rows: RowsOf | None) -> ColumnElement[bool]:
    """The index rows of parameter `name`; for a parameter kept in its broader twin's
    rows (RowsOf), those of the twin whose target type is one of its own."""
    if rows is None:
        return columns.param == name
    return and_(columns.param == rows.param, columns.target_type.in_(rows.targets))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def date_condition(
    low: ColumnElement[int], high: ColumnElement[int], value: DateValue
) -> ColumnElement[bool]:
    """FHIR date prefix semantics between a stored interval and a search interval."""
    contained = and_(low >= value.low, high <= value.high)
    match value.prefix:
        case "eq":
            return contained
        case "ne":
            return not_(contained)
        case "gt":
            return high > value.high
        case "lt":
            return low < value.low
        case "ge":
            return or_(high > value.high, contained)
        case "le":
            return or_(low < value.low, contained)
        case "sa":
            return low > value.high
        case "eb":
            return high < value.low
    raise InvalidRequest("unsupported date prefix")


def number_condition(
    low: ColumnElement[float], high: ColumnElement[float], value: NumberValue
) -> ColumnElement[bool]:
    """FHIR number/quantity prefixes between a stored interval (a point, or a Range) and
    the search value; eq and ne use the interval the value's written precision implies."""
    match value.prefix:
        case "eq":
            return and_(low >= value.low, high <= value.high)
        case "ne":
            return not_(and_(low >= value.low, high <= value.high))
        case "gt":
            return high > value.value
        case "lt":
            return low < value.value
        case "ge":
            return high >= value.value
        case "le":
            return low <= value.value
        case "sa":
            return low > value.value
        case "eb":
            return high < value.value
        case "ap":
            margin = abs(value.value) * 0.1
            return and_(low >= value.value - margin, high <= value.value + margin)
    raise InvalidRequest("unsupported number prefix")


@dataclass(frozen=True)
class ValueColumns:
    """Where a value kind's parts are: an index table's columns, or one component slot of
    a composite row (hub.store.schema.search_composite). For a string, `system` holds the
    exact text and `code` the normalised one; for a reference, the target type and id."""

    system: Any
    code: Any
    low: Any
    high: Any


def _table_columns(table: Any, correlated: bool) -> ValueColumns:
    c = table.c
    if table is search_string:
        return ValueColumns(c.value_exact, c.value_norm, None, None)
    if table is search_reference:
        return ValueColumns(c.target_type, c.target_id, None, None)
    if table is search_token:
        return ValueColumns(c.system, c.code, None, None)
    # `+ 0` keeps SQLite's planner on the owner index (res_type, res_id) for a correlated
    # probe instead of an OR over the value indexes of all rows.
    low, high = (c.low + 0, c.high + 0) if correlated else (c.low, c.high)
    system = c.system if table is search_quantity else None
    code = c.code if table is search_quantity else None
    return ValueColumns(system, code, low, high)


def _slot_columns(slot: int) -> ValueColumns:
    c = search_composite.c
    return ValueColumns(c[f"system{slot}"], c[f"code{slot}"], c[f"low{slot}"], c[f"high{slot}"])


def _value_condition(modifier: str | None, value: object, col: ValueColumns) -> ColumnElement[bool]:
    if isinstance(value, TokenValue):
        parts: list[ColumnElement[bool]] = []
        if value.code is not None:
            parts.append(col.code == value.code)
        if value.no_system:
            parts.append(col.system.is_(None))
        elif value.system is not None:
            parts.append(col.system == value.system)
        return and_(*parts)
    if isinstance(value, StringValue):
        if modifier == "exact":
            return col.system == value.text
        norm = _escape_like(normalize_string(value.text))
        pattern = f"%{norm}%" if modifier == "contains" else f"{norm}%"
        return col.code.like(pattern, escape="\\")
    if isinstance(value, DateValue):
        return date_condition(col.low, col.high, value)
    if isinstance(value, NumberValue):
        parts = [number_condition(col.low, col.high, value)]
        if value.code is not None:
            parts.append(col.code == value.code)
        if value.system is not None:
            parts.append(col.system == value.system)
        return and_(*parts)
    if isinstance(value, UriValue):
        code = col.code
        if modifier == "below":
            return code.like(_escape_like(value.uri) + "%", escape="\\")
        if modifier == "above":  # the stored uri is a leading part of the searched one
            return literal(value.uri).like(
                func.replace(func.replace(func.replace(code, "\\", "\\\\"), "%", "\\%"), "_", "\\_")
                + "%",
                escape="\\",
            )
        return code == value.uri
    if isinstance(value, ReferenceValue):
        condition = col.code == value.target_id
        if value.target_type is not None:
            condition = and_(condition, col.system == value.target_type)
        return condition
    raise InvalidRequest("unsupported search value")


def _composite_condition(
    resource_type: str, criterion: Criterion, rc: Any, correlated: bool
) -> ColumnElement[bool]:
    """Every component matches within ONE composite row (one repetition), for one of the
    values (alternatives)."""
    table = search_composite
    alternatives = or_(
        *[
            and_(
                *[
                    or_(
                        *[
                            _value_condition(component.modifier, v, _slot_columns(slot))
                            for v in component.values
                        ]
                    )
                    for slot, component in enumerate(part, start=1)
                ]
            )
            for part in criterion.parts
        ]
    )
    if correlated:
        return exists().where(
            table.c.res_type == rc.res_type,
            table.c.res_id == rc.res_id,
            table.c.param == criterion.name,
            alternatives,
        )
    owners = select(table.c.res_id).where(
        table.c.res_type == resource_type, table.c.param == criterion.name, alternatives
    )
    return rc.res_id.in_(owners)


def _linked_rows(resource_type: str, criterion: Criterion, scope: ReadScope | None) -> Select[Any]:
    """Ids of the live `resource_type` rows the scope shows that match `criterion`: the far
    end of one link (a fresh alias, so that nesting never correlates with an outer query)."""
    rows = resources.alias()
    conditions = [
        rows.c.res_type == resource_type,
        rows.c.deleted.is_(False),
        _criterion_condition(resource_type, criterion, rows.c, scope),
    ]
    if scope is not None:
        conditions.append(scope.condition(rows.c, resource_type))
    return select(rows.c.res_id).where(*conditions)


def _chain_condition(
    resource_type: str, criterion: Criterion, rc: Any, scope: ReadScope | None, correlated: bool
) -> ColumnElement[bool]:
    """The reference `criterion.name` points at a visible match of one of the links."""
    ref = search_reference.alias()
    targets = or_(
        *[
            and_(
                ref.c.target_type == link.resource_type,
                ref.c.target_id.in_(_linked_rows(link.resource_type, link.criterion, scope)),
            )
            for link in criterion.links
        ]
    )
    if correlated:
        return exists().where(
            ref.c.res_type == rc.res_type,
            ref.c.res_id == rc.res_id,
            param_is(ref.c, criterion.name, criterion.rows),
            targets,
        )
    owners = select(ref.c.res_id).where(
        ref.c.res_type == resource_type, param_is(ref.c, criterion.name, criterion.rows), targets
    )
    return rc.res_id.in_(owners)


def _has_condition(
    resource_type: str, criterion: Criterion, rc: Any, scope: ReadScope | None, correlated: bool
) -> ColumnElement[bool]:
    """A visible match of the link refers to the row through its parameter `criterion.name`."""
    (link,) = criterion.links
    ref = search_reference.alias()
    referrers = (
        ref.c.res_type == link.resource_type,
        param_is(ref.c, criterion.name, criterion.rows),
        ref.c.res_id.in_(_linked_rows(link.resource_type, link.criterion, scope)),
    )
    if correlated:
        return exists().where(
            ref.c.target_type == rc.res_type, ref.c.target_id == rc.res_id, *referrers
        )
    targets = select(ref.c.target_id).where(ref.c.target_type == resource_type, *referrers)
    return rc.res_id.in_(targets)


def _criterion_condition(
    resource_type: str,
    criterion: Criterion,
    rc: Any,
    scope: ReadScope | None,
    correlated: bool = False,
) -> ColumnElement[bool]:
    """One criterion over the resources columns `rc`. The driving criterion is
    `res_id IN (SELECT ...)` over the value index; the others (`correlated`) are EXISTS
    probes on the owner index of the rows it found, so an unselective criterion such as
    category=SIP never lists all its matches. `scope` filters the rows of chain links."""
    if criterion.kind == "chain":
        return _chain_condition(resource_type, criterion, rc, scope, correlated)
    if criterion.kind == "has":
        return _has_condition(resource_type, criterion, rc, scope, correlated)
    if criterion.kind == "composite":
        return _composite_condition(resource_type, criterion, rc, correlated)
    if criterion.kind == "id":
        return rc.res_id.in_(criterion.ids)
    if criterion.kind == "lastUpdated":
        return or_(
            *[
                date_condition(rc.last_updated, rc.last_updated, v)
                for v in criterion.values
                if isinstance(v, DateValue)
            ]
        )
    param_kind = criterion.kind
    if criterion.kind == "missing":
        every_table = tuple(dict.fromkeys(_TABLE_FOR_KIND.values()))
        tables = (search_reference,) if criterion.rows else every_table
        subqueries = [
            select(table.c.res_id).where(
                table.c.res_type == resource_type,
                param_is(table.c, criterion.name, criterion.rows),
            )
            for table in tables
        ]
        present = rc.res_id.in_(subqueries[0].union(*subqueries[1:]))
        return not_(present) if criterion.missing else present
    table = _TABLE_FOR_KIND[param_kind]
    matched = _matched_rows(table, criterion, correlated)
    if correlated:
        probe = exists().where(
            table.c.res_type == rc.res_type, table.c.res_id == rc.res_id, matched
        )
        return ~probe if criterion.modifier == "not" else probe
    owners = select(table.c.res_id).where(table.c.res_type == resource_type, matched)
    if criterion.modifier == "not":
        return rc.res_id.not_in(owners)
    return rc.res_id.in_(owners)


def _matched_rows(table: Any, criterion: Criterion, correlated: bool) -> ColumnElement[bool]:
    """The index rows of the criterion's parameter holding one of its values. A quantity in
    a UCUM unit the table converts is compared in canonical units with the `<param>:ucum`
    rows (hub.search.units)."""
    columns = _table_columns(table, correlated)
    plain = [v for v in criterion.values if not (isinstance(v, NumberValue) and v.canonical)]
    converted = [
        v.canonical for v in criterion.values if isinstance(v, NumberValue) and v.canonical
    ]
    groups: list[ColumnElement[bool]] = []
    if plain or not converted:
        groups.append(
            and_(
                param_is(table.c, criterion.name, criterion.rows),
                or_(*[_value_condition(criterion.modifier, v, columns) for v in plain]),
            )
        )
    if converted:
        groups.append(
            and_(
                table.c.param == criterion.name + CANONICAL_SUFFIX,
                or_(*[_value_condition(criterion.modifier, v, columns) for v in converted]),
            )
        )
    return or_(*groups)


RANGE_KINDS = ("date", "number", "quantity")
ESTIMATE_CAP = 1000
"""Index entries a capped count reads to size a range (hub.store.searching): a range with
fewer drives the search; with none under it, the criteria are intersected as before."""

Estimate = Callable[[Select[Any]], int]
"""Runs a count statement on the search's connection."""

Bound = int | float | None
Ranges = dict[str, tuple[Bound, Bound]]
"""Value column ("low" or "high") -> (lowest, highest) value its matching rows can hold."""


@dataclass(frozen=True)
class IndexRange:
    """The rows of a range criterion lie in lower <= column <= upper (None: open)."""

    column: str
    lower: Bound
    upper: Bound


def _value_ranges(value: object) -> Ranges:
    """The value-column ranges every index row matching `value` lies in. They hold because
    low <= high on every row (hub.search.indexing keeps it so)."""
    if isinstance(value, DateValue):
        lo, hi = value.low, value.high
        by_prefix: dict[str, Ranges] = {
            "eq": {"low": (lo, hi), "high": (lo, hi)},
            "gt": {"high": (hi, None)},
            "ge": {"high": (lo, None)},
            "sa": {"low": (hi, None)},
            "lt": {"low": (None, lo)},
            "le": {"low": (None, hi)},
            "eb": {"high": (None, lo)},
        }
        return by_prefix.get(value.prefix, {})
    if isinstance(value, NumberValue):
        v, margin = value.value, abs(value.value) * 0.1
        number_ranges: dict[str, Ranges] = {
            "eq": {"low": (value.low, value.high), "high": (value.low, value.high)},
            "ap": {"low": (v - margin, v + margin), "high": (v - margin, v + margin)},
            "gt": {"high": (v, None)},
            "ge": {"high": (v, None)},
            "sa": {"low": (v, None)},
            "lt": {"low": (None, v)},
            "le": {"low": (None, v)},
            "eb": {"high": (None, v)},
        }
        return number_ranges.get(value.prefix, {})
    return {}


def _loosest(a: Bound, b: Bound, pick: Callable[[Any, Any], Any]) -> Bound:
    return None if a is None or b is None else pick(a, b)


def _tightest(a: Bound, b: Bound, pick: Callable[[Any, Any], Any]) -> Bound:
    return b if a is None else a if b is None else pick(a, b)


def _criterion_ranges(criterion: Criterion) -> Ranges:
    """What every one of the criterion's values (alternatives) implies."""
    ranges: Ranges | None = None
    for value in _range_values(criterion):
        implied = _value_ranges(value)
        if ranges is None:
            ranges = implied
            continue
        ranges = {
            column: (
                _loosest(ranges[column][0], implied[column][0], min),
                _loosest(ranges[column][1], implied[column][1], max),
            )
            for column in ranges.keys() & implied.keys()
        }
    return {c: r for c, r in (ranges or {}).items() if r != (None, None)}


def index_ranges(group: tuple[Criterion, ...]) -> list[IndexRange]:
    """The value-column ranges the rows matching all of `group` (on one row) lie in."""
    ranges: Ranges = {}
    for criterion in group:
        for column, (lower, upper) in _criterion_ranges(criterion).items():
            known = ranges.get(column, (None, None))
            ranges[column] = (_tightest(known[0], lower, max), _tightest(known[1], upper, min))
    return [IndexRange(column, lower, upper) for column, (lower, upper) in sorted(ranges.items())]


def _rows_key(criterion: Criterion) -> tuple[str, str] | None:
    """(table kind, param) of the index rows a plain range criterion reads, when all its
    values read the same rows: the parameter's own, or for quantities in a UCUM unit the
    table converts, its `:ucum` rows. None for any other criterion."""
    if criterion.kind not in RANGE_KINDS or criterion.modifier is not None or criterion.rows:
        return None
    converted = {isinstance(v, NumberValue) and v.canonical is not None for v in criterion.values}
    if len(converted) != 1:
        return None
    suffix = CANONICAL_SUFFIX if converted == {True} else ""
    return criterion.kind, criterion.name + suffix


def _range_values(criterion: Criterion) -> list[object]:
    return [
        v.canonical if isinstance(v, NumberValue) and v.canonical else v for v in criterion.values
    ]


def criterion_groups(criteria: tuple[Criterion, ...]) -> list[tuple[Criterion, ...]]:
    """The criteria in order, those of one single-valued range parameter (reading the same
    rows) gathered into one group, tested on one index row; every other criterion alone."""
    groups: list[list[Criterion]] = []
    by_rows: dict[tuple[str, str], list[Criterion]] = {}
    for criterion in criteria:
        key = _rows_key(criterion) if criterion.single_valued else None
        if key is not None and key in by_rows:
            by_rows[key].append(criterion)
            continue
        group = [criterion]
        groups.append(group)
        if key is not None:
            by_rows[key] = group
    return [tuple(group) for group in groups]


def _range_terms(column: Any, index_range: IndexRange) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = []
    if index_range.lower is not None:
        terms.append(column >= index_range.lower)
    if index_range.upper is not None:
        terms.append(column <= index_range.upper)
    return terms


def _range_rows(
    resource_type: str, group: tuple[Criterion, ...], drive: IndexRange | None
) -> tuple[Any, list[ColumnElement[bool]]]:
    """The index table and the row conditions of `group` on one row, without the owner."""
    kind, param = _rows_key(group[0]) or ("", "")
    table = _TABLE_FOR_KIND[kind]
    # With a driving range only that range can use an index; without one, every implied
    # range is there for the planner to choose (PostgreSQL keeps value statistics).
    columns = _table_columns(table, correlated=drive is not None)
    ranges = [drive] if drive is not None else index_ranges(group)
    conditions = [
        table.c.res_type == resource_type,
        table.c.param == param,
        *[
            or_(*[_value_condition(None, v, columns) for v in _range_values(criterion)])
            for criterion in group
        ],
        *[term for r in ranges for term in _range_terms(table.c[r.column], r)],
    ]
    return table, conditions


def _range_condition(
    resource_type: str,
    group: tuple[Criterion, ...],
    rc: Any,
    correlated: bool,
    drive: IndexRange | None,
) -> ColumnElement[bool]:
    """A group of range criteria tested on one index row (or one criterion that drives)."""
    if correlated:
        kind, param = _rows_key(group[0]) or ("", "")
        table = _TABLE_FOR_KIND[kind]
        columns = _table_columns(table, correlated=True)
        return exists().where(
            table.c.res_type == rc.res_type,
            table.c.res_id == rc.res_id,
            table.c.param == param,
            *[
                or_(*[_value_condition(None, v, columns) for v in _range_values(criterion)])
                for criterion in group
            ],
        )
    table, conditions = _range_rows(resource_type, group, drive)
    return rc.res_id.in_(select(table.c.res_id).where(*conditions))


def _estimate_statement(
    resource_type: str, group: tuple[Criterion, ...], index_range: IndexRange
) -> Select[Any]:
    """Count the index entries in `index_range` of the group's rows, at most ESTIMATE_CAP
    (read from the value index alone)."""
    kind, param = _rows_key(group[0]) or ("", "")
    table = _TABLE_FOR_KIND[kind]
    entries = (
        select(literal(1))
        .where(
            table.c.res_type == resource_type,
            table.c.param == param,
            *_range_terms(table.c[index_range.column], index_range),
        )
        .limit(ESTIMATE_CAP)
    )
    return select(func.count()).select_from(entries.subquery())


def _range_driver(
    resource_type: str, groups: list[tuple[Criterion, ...]], estimate: Estimate
) -> tuple[tuple[Criterion, ...], IndexRange] | None:
    """The group and value-column range with the fewest index entries, under the cap."""
    best: tuple[int, tuple[Criterion, ...], IndexRange] | None = None
    for group in groups:
        if _rows_key(group[0]) is None:
            continue
        for index_range in index_ranges(group):
            found = estimate(_estimate_statement(resource_type, group, index_range))
            if found < ESTIMATE_CAP and (best is None or found < best[0]):
                best = (found, group, index_range)
    return None if best is None else (best[1], best[2])


def _selective(criterion: Criterion) -> bool:
    """Criteria that usually match few resources: ids, references, identifiers, and chains
    that end in one of those."""
    if criterion.modifier in ("not", "missing"):
        return False
    if criterion.links:
        return all(_selective(link.criterion) for link in criterion.links)
    return criterion.kind in ("id", "reference") or (
        criterion.kind == "token" and criterion.name == "identifier"
    )


def where_clauses(
    query: SearchQuery, scope: ReadScope | None, estimate: Estimate | None = None
) -> list[ColumnElement[bool]]:
    """The filter of a search: type, not deleted, what `scope` shows (None: everything,
    for internal use), and every criterion (AND), whose chain links `scope` filters too.
    With `estimate`, a range criterion can drive when no selective one does."""
    rc = resources.c
    clauses: list[ColumnElement[bool]] = [rc.res_type == query.resource_type, rc.deleted.is_(False)]
    if scope is not None:
        clauses.append(scope.condition(rc, query.resource_type))
    groups = criterion_groups(query.criteria)
    driver: tuple[Criterion, ...] | None = next(
        (g for g in groups if len(g) == 1 and _selective(g[0])), None
    )
    drive: IndexRange | None = None
    if driver is None and estimate is not None:
        driver, drive = _range_driver(query.resource_type, groups, estimate) or (None, None)
    for group in groups:
        correlated = driver is not None and group is not driver
        if len(group) > 1 or (group is driver and drive is not None):
            clauses.append(
                _range_condition(
                    query.resource_type, group, rc, correlated, drive if group is driver else None
                )
            )
        else:
            clauses.append(
                _criterion_condition(query.resource_type, group[0], rc, scope, correlated)
            )
    return clauses


def order_by(query: SearchQuery, stmt: Select[Any]) -> Select[Any]:
    """Apply _sort (with res_id as final tie-breaker so pages are stable)."""
    rc = resources.c
    orderings: list[ColumnElement[object]] = []
    for key in query.sort:
        orderings.append(_sort_expression(query.resource_type, key))
    if not any(k.kind == "id" for k in query.sort):
        orderings.append(rc.res_id.asc())
    return stmt.order_by(*orderings)


def after_condition(query: SearchQuery) -> ColumnElement[bool]:
    """Keyset paging (hub.search.cursor): the rows whose key comes after `query.after` in
    the query's order, (a > x) OR (a = x AND b > y) ..., `<` for a descending key. With
    more than one key the first is also bounded alone (a >= x), so that the planner starts
    its walk of the (res_type, last_updated) or primary-key index at the cursor."""
    keys = keyset_keys(query.sort)
    if keys is None or query.after is None or len(query.after) != len(keys):
        raise InvalidRequest("_cursor does not fit this search", expression="_cursor")
    rc = resources.c
    columns = [rc.res_id if key.column == "res_id" else rc.last_updated for key in keys]
    return keyset_condition(columns, keys, query.after)


def keyset_condition(
    columns: Sequence[ColumnElement[Any]], keys: Sequence[KeysetKey], after: Sequence[object]
) -> ColumnElement[bool]:
    """The rows whose values of `columns`, ordered by `keys`, come after `after`:
    (a > x) OR (a = x AND b > y) ..., `<` for a descending key, with the first column also
    bounded alone when there are several (the search's `after_condition`, and a history
    page after its cursor)."""
    steps: list[ColumnElement[bool]] = []
    for i, key in enumerate(keys):
        value = after[i]
        beyond = columns[i] < value if key.descending else columns[i] > value
        steps.append(and_(*[columns[j] == after[j] for j in range(i)], beyond))
    if len(steps) == 1:
        return steps[0]
    first, start = columns[0], after[0]
    leading = first <= start if keys[0].descending else first >= start
    return and_(leading, or_(*steps))


def _sort_expression(resource_type: str, key: SortKey) -> ColumnElement[object]:
    rc = resources.c
    column: KeyedColumnElement[object] | ColumnElement[object]
    if key.kind in ("id", "lastUpdated"):
        # NOT NULL columns: a plain direction, which PostgreSQL matches to the index order
        # (it does not see that DESC NULLS LAST equals DESC on a column without NULLs).
        column = rc.res_id if key.kind == "id" else rc.last_updated
        return column.desc() if key.descending else column.asc()
    table = _TABLE_FOR_KIND[key.kind]
    value_column = {
        "token": search_token.c.code,
        "string": search_string.c.value_norm,
        "date": search_date.c.low,
        "reference": search_reference.c.target_id,
        "number": search_quantity.c.low,
        "quantity": search_quantity.c.low,
    }[key.kind]
    aggregate = func.max(value_column) if key.descending else func.min(value_column)
    column = (
        select(aggregate)
        .where(
            table.c.res_type == resource_type,
            param_is(table.c, key.name, key.rows),
            table.c.res_id == rc.res_id,
        )
        .scalar_subquery()
    )
    return column.desc().nulls_last() if key.descending else column.asc().nulls_last()
