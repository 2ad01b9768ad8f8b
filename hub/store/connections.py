"""How the store's reads take a connection, with driver errors mapped (driver_errors.py).

- `reading(engine)`: a SQLAlchemy connection without a BEGIN/ROLLBACK bracket.
- `driver_cursor(engine)`: the hot paths' compiled statements (hub/store/statements.py)
  run on one pooled DBAPI connection in autocommit, one round trip each.
- `run_together(engine, statements)`: several such SELECTs sent at once (PostgreSQL's
  pipeline mode): one round trip for all of them.
- `generic_plans(conn, ...)`: PostgreSQL plans a block's prepared statements once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from hub.store.driver_errors import driver_errors_mapped

__all__ = [
    "GENERIC_PLANS_OFF",
    "GENERIC_PLANS_ON",
    "Run",
    "driver_cursor",
    "fetch_one",
    "generic_plans",
    "read_options",
    "reading",
    "run_together",
]

Run = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]
"""run(sql, params): the rows of one DBAPI statement."""

GENERIC_PLANS_ON = "SET plan_cache_mode = force_generic_plan"
GENERIC_PLANS_OFF = "RESET plan_cache_mode"


def read_options(dialect: str) -> dict[str, Any]:
    """Execution options of a read outside a BEGIN/ROLLBACK bracket: on SQLite each SELECT
    reads its own WAL snapshot, and PostgreSQL's READ COMMITTED gives every statement its
    own snapshot inside a transaction too, so the bracket would only cost round trips."""
    options: dict[str, Any] = {"sqlite_begin": "NONE"}
    if dialect == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    return options


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads, without a BEGIN/ROLLBACK bracket (`read_options`)."""
    with driver_errors_mapped(), engine.connect() as conn:
        yield conn.execution_options(**read_options(engine.dialect.name))


def _rows(raw: Any, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
    cursor = raw.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _autocommit(engine: Engine, raw: Any) -> bool:
    """Switch a pooled psycopg connection to autocommit; whether it was switched (and
    must be switched back before it returns to the pool)."""
    driver: Any = raw.driver_connection
    if engine.dialect.name == "postgresql" and not driver.autocommit:
        driver.autocommit = True
        return True
    return False


def _autocommit_off(raw: Any) -> None:
    driver: Any = raw.driver_connection
    driver.autocommit = False


@contextmanager
def driver_cursor(engine: Engine) -> Iterator[Run]:
    """Compiled SELECTs on one pooled DBAPI connection in autocommit: one round trip each,
    no statement building, no BEGIN/ROLLBACK bracket. Yields run(sql, params)."""
    with driver_errors_mapped():
        raw = engine.raw_connection()
        switched = False
        try:
            switched = _autocommit(engine, raw)
            yield lambda sql, params: _rows(raw, sql, params)
        finally:
            if switched:
                _autocommit_off(raw)
            raw.close()


def _pipelined(driver: Any, statements: Sequence[tuple[str, Sequence[object]]]) -> list[Any]:
    """psycopg's pipeline mode: every statement is sent before the first answer is read,
    so the server runs them one after another in one wake-up and the client waits once."""
    with driver.pipeline():
        cursors = []
        for sql, params in statements:
            cursor = driver.cursor()
            cursor.execute(sql, tuple(params))
            cursors.append(cursor)
        try:
            return [[tuple(row) for row in cursor.fetchall()] for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()


def run_together(
    engine: Engine, statements: Sequence[tuple[str, Sequence[object]]]
) -> list[list[tuple[Any, ...]]]:
    """The rows of each of several SELECTs, run in order on one pooled DBAPI connection in
    autocommit (as `driver_cursor`): on PostgreSQL sent together in one round trip
    (pipeline mode), each statement still its own snapshot, as one after another would
    be; on SQLite, whose statements cost no round trip, one after another."""
    with driver_errors_mapped():
        raw = engine.raw_connection()
        switched = False
        try:
            switched = _autocommit(engine, raw)
            if engine.dialect.name == "postgresql":
                return _pipelined(raw.driver_connection, statements)
            return [_rows(raw, sql, params) for sql, params in statements]
        finally:
            if switched:
                _autocommit_off(raw)
            raw.close()


def fetch_one(engine: Engine, sql: str, params: Sequence[object]) -> tuple[Any, ...] | None:
    """One compiled SELECT as `driver_cursor` runs it (written out: the hot path of a
    read by id); its first row or None."""
    with driver_errors_mapped():
        raw = engine.raw_connection()
        switched = False
        try:
            switched = _autocommit(engine, raw)
            found = _rows(raw, sql, params)
        finally:
            if switched:
                _autocommit_off(raw)
            raw.close()
    return found[0] if found else None


@contextmanager
def generic_plans(conn: Connection, wanted: bool = True) -> Iterator[None]:
    """PostgreSQL: plan this connection's prepared statements once (generic plans) while
    the block runs. `$everything`'s scoped statement, with the PDL scope's OR branches,
    costs twice as much to plan as to run and would otherwise be planned anew on every
    execution (unscoped, its plain form is cheap to plan). Only for statements keyed by a
    patient id, whose one plan fits every patient; the session setting is reset before the
    connection goes back to the pool."""
    if conn.dialect.name != "postgresql" or not wanted:
        yield
        return
    conn.exec_driver_sql(GENERIC_PLANS_ON)
    try:
        yield
    finally:
        conn.exec_driver_sql(GENERIC_PLANS_OFF)
