"""The store's SQL, built with SQLAlchemy Core from the tables of hub/store/schema.py.

Statements run through SQLAlchemy are built where they are used. The hot paths (read by
id, what the access rules read about a patient, a transaction's batched INSERTs) skip
SQLAlchemy's execution layer: their statements are built here once, compiled once per
dialect to DBAPI text with positional placeholders (qmark for sqlite3, format for psycopg),
and run on the driver's cursor with their values bound (`DriverStatement`).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    exists,
    false,
    func,
    insert,
    literal_column,
    null,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import Compiled
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ClauseElement
from sqlalchemy.util import LRUCache

from hub.store.model import StoredResource
from hub.store.schema import consent_blocks, emergency_grants, resource_versions, resources

__all__ = [
    "CURRENT",
    "VERSION_COLUMNS",
    "DriverStatement",
    "StoredRow",
    "batch_insert",
    "bound",
    "compiled",
    "current_contents",
    "current_with_facts",
    "patient_version",
    "read_newest",
    "security_and_version",
    "to_stored",
]

_r = resources.c
_v = resource_versions.c

CURRENT = resources.join(
    resource_versions,
    and_(_v.res_type == _r.res_type, _v.res_id == _r.res_id, _v.version_id == _r.version_id),
)
"""A resource joined to its current version."""

VERSION_COLUMNS = (
    _v.res_type,
    _v.res_id,
    _v.version_id,
    _v.last_updated,
    _v.deleted,
    _v.content,
    _v.method,
    _v.patient_id,
    _v.care_provider,
    _v.care_unit,
)
"""The columns of a StoredResource, in the order of `StoredRow`."""


class StoredRow(NamedTuple):
    """A row of VERSION_COLUMNS fetched on the driver's cursor."""

    res_type: str
    res_id: str
    version_id: int
    last_updated: int
    deleted: bool
    content: bytes | None
    method: str
    patient_id: str | None
    care_provider: str | None
    care_unit: str | None


def to_stored(row: Any) -> StoredResource:
    """The StoredResource of a row of VERSION_COLUMNS (a SQLAlchemy Row or a StoredRow)."""
    return StoredResource(
        resource_type=row.res_type,
        id=row.res_id,
        version_id=row.version_id,
        last_updated=row.last_updated,
        deleted=bool(row.deleted),
        content=row.content,
        method=row.method,
        patient_id=row.patient_id,
        care_provider=row.care_provider,
        care_unit=row.care_unit,
    )


_POSITIONAL: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(),
    "postgresql": postgresql.psycopg.dialect(paramstyle="format"),
}


@dataclass(frozen=True)
class DriverStatement:
    """DBAPI text of a Core statement for one dialect: the names of the caller's parameters
    in placeholder order, then the values of those the statement fixes itself (a LIMIT),
    whose placeholders come last."""

    sql: str
    names: tuple[str, ...]
    tail: tuple[object, ...]

    def bind(self, *values: object) -> tuple[object, ...]:
        """The DBAPI parameters: `values` of `names`, in that order."""
        return values + self.tail

    def values(self, values: Mapping[str, object]) -> tuple[object, ...]:
        """The DBAPI parameters: `values` (name -> value) of `names`."""
        return tuple(values[name] for name in self.names) + self.tail


_SHAPES: LRUCache[Any, Compiled] = LRUCache(1000)
"""Compiled statements by their shape (SQLAlchemy's cache key: the statement's structure
without its values) and dialect, shared by every connection of the process."""


def bound(statement: ClauseElement, dialect: str) -> tuple[str, tuple[object, ...]]:
    """DBAPI text (positional placeholders) and parameters of a Core statement for
    `dialect`, as SQLAlchemy's own execution makes them (``_compile_w_cache``: the same
    cache key, this statement's values extracted as bound parameters and run through the
    types' bind processors, IN lists expanded), without its execution context and result
    rows, which cost several times a small query itself. A statement is compiled once per
    shape, so a reader's scope of the same shape (hub.access.scope) reuses the text; values
    always stay bound parameters."""
    found, extracted, collected, _stats = statement._compile_w_cache(
        _POSITIONAL[dialect], compiled_cache=_SHAPES, column_keys=[]
    )
    compiler = cast(SQLCompiler, found)
    values: MutableMapping[str, Any] = compiler.construct_params(
        extracted_parameters=extracted, escape_names=False, _collected_params=collected
    )
    sql = compiler.string
    processors: Mapping[str, Any] = compiler._bind_processors
    order: Sequence[str] = compiler.positiontup or ()
    if compiler.literal_execute_params or compiler.post_compile_params:
        expanded = compiler._process_parameters_for_postcompile(values)
        sql, order = expanded.statement, expanded.positiontup or ()
        processors = {**processors, **expanded.processors}
        values = dict(expanded.parameters)  # the IN lists' values under their own names
    return sql, tuple(
        processors[key](values[key]) if key in processors else values[key] for key in order
    )


def compiled(statement: Select[Any] | Insert | Update, dialect: str) -> DriverStatement:
    """`statement` as DBAPI text for `dialect`. The caller's parameters are
    `bindparam(name, None)`; literals keep their values."""
    compiler = statement.compile(dialect=_POSITIONAL[dialect])
    order = tuple(compiler.positiontup or ())
    params = compiler.params  # built anew on every access: once, not once per placeholder
    given = tuple(name for name in order if params[name] is None)
    tail = order[len(given) :]
    if order[: len(given)] != given:
        raise ValueError("a fixed value's placeholder comes before a parameter's")
    return DriverStatement(str(compiler), given, tuple(params[n] for n in tail))


def _by_key(columns: Any) -> list[ColumnElement[bool]]:
    return [
        columns.res_type == bindparam("res_type", None),
        columns.res_id == bindparam("res_id", None),
    ]


@cache
def read_newest(dialect: str) -> DriverStatement:
    """The unfiltered read: the newest version is the current one (a write adds version n+1
    and moves `resources` to it in one transaction), found with one backward probe of the
    versions' primary key instead of a join. Not for scoped reads: a scope must judge the
    current version, not pick the newest one it may see."""
    stmt = select(*VERSION_COLUMNS).where(*_by_key(_v)).order_by(_v.version_id.desc()).limit(1)
    return compiled(stmt, dialect)


def _patient_version_columns(patient: ColumnElement[Any] | BindParameter[Any]) -> list[Any]:
    """The three values of `patient_version` for the patient id expression `patient`."""
    p = resources.alias("p")
    g = emergency_grants.alias("g")
    return [
        select(func.max(p.c.last_updated)).where(p.c.patient_id == patient).scalar_subquery(),
        select(func.count()).select_from(p).where(p.c.patient_id == patient).scalar_subquery(),
        select(func.max(g.c.created_us)).where(g.c.patient_id == patient).scalar_subquery(),
    ]


@cache
def patient_version(dialect: str) -> DriverStatement:
    """(latest write, number of resources, latest emergency grant) of one patient."""
    return compiled(select(*_patient_version_columns(bindparam("patient_id", None))), dialect)


@cache
def security_and_version(dialect: str) -> DriverStatement:
    """A row's metadata and security columns (no content) with its patient's
    `patient_version`, in one statement (one snapshot)."""
    r = resources.alias("r")
    stmt = select(
        r.c.res_type,
        r.c.res_id,
        r.c.version_id,
        r.c.last_updated,
        r.c.deleted,
        null(),
        literal_column("'PUT'"),
        r.c.patient_id,
        r.c.care_provider,
        r.c.care_unit,
        *_patient_version_columns(r.c.patient_id),
    ).where(*_by_key(r.c), r.c.version_id > literal_column("0"))
    return compiled(stmt, dialect)


@cache
def current_with_facts(dialect: str, *, version: bool) -> DriverStatement:
    """The current version of (res_type, res_id), deletions included, content and all
    (the columns of `StoredRow`; the security columns from `resources`, which every scoped
    statement judges), followed by what a read's access decision needs about the row's
    patient, in one statement (one snapshot): with `version`, that patient's
    `patient_version` (three values); without, whether the patient has a record in the
    index of blocks (one value)."""
    r = resources.alias("r")
    v = resource_versions.alias("v")
    facts: list[Any] = (
        _patient_version_columns(r.c.patient_id)
        if version
        else [exists().where(consent_blocks.c.patient_id == r.c.patient_id)]
    )
    security = {"patient_id", "care_provider", "care_unit"}
    row = [(r if column.name in security else v).c[column.name] for column in VERSION_COLUMNS]
    stmt = (
        select(*row, *facts)
        .select_from(
            r.join(
                v,
                and_(
                    v.c.res_type == r.c.res_type,
                    v.c.res_id == r.c.res_id,
                    v.c.version_id == r.c.version_id,
                ),
            )
        )
        .where(*_by_key(r.c), r.c.version_id > literal_column("0"))
    )
    return compiled(stmt, dialect)


def _current_content() -> Select[Any]:
    return select(_v.content).select_from(CURRENT).where(_r.deleted == false())


@lru_cache(maxsize=512)
def current_contents(dialect: str, ids: int) -> DriverStatement:
    """Current live contents of `ids` resources of one type (parameters res_type, id_0 ...)."""
    stmt = _current_content().where(
        _r.res_type == bindparam("res_type", None),
        _r.res_id.in_([bindparam(f"id_{i}", None) for i in range(ids)]),
    )
    return compiled(stmt, dialect)


@cache
def batch_insert(table: Table, dialect: str) -> DriverStatement:
    """INSERT of one row of every column of `table`, in column order (the batch path of a
    transaction's writes: executemany on SQLite; COPY takes the same column order)."""
    columns: dict[str, Any] = {c.name: bindparam(c.name, None) for c in table.columns}
    return compiled(insert(table).values(columns), dialect)
