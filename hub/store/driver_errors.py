"""One map from the database drivers' errors to the hub's errors, used by every store path.

sqlite3 and psycopg raise PEP 249 exceptions; SQLAlchemy wraps those it sees in its own
classes of the same names (`sqlalchemy.exc.IntegrityError` holds the driver's error in
`.orig`). Whichever arrives, `hub_error_for` answers the HubError it stands for:

    driver error                                        HubError              status
    IntegrityError (unique key, foreign key, NOT NULL)  Conflict               409
    serialization failure / deadlock (40001, 40P01)     Conflict               409
    DataError (SQLSTATE class 22: NUL in text, a        InvalidRequest         400
      number out of range), OverflowError (sqlite3:
      an integer past 2^63)
    OperationalError, InterfaceError (connection        StoreUnavailable       503
      lost, database locked or busy), no pooled
      connection free in time (SQLAlchemy's TimeoutError)
    any other driver error                              StoreUnavailable       503

Messages never carry the driver's text: it can quote the values that were sent.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Literal

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from hub.errors import Conflict, HubError, InvalidRequest, StoreUnavailable

__all__ = ["DRIVER_ERRORS", "driver_errors_mapped", "hub_error_for"]

DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    DBAPIError,
    PoolTimeout,
    sqlite3.Error,
    psycopg.Error,
    OverflowError,
)
"""What `driver_errors_mapped` catches: SQLAlchemy's wrapper and its pool's timeout, each
driver's base class, and the OverflowError sqlite3 raises for an integer it cannot bind."""

RETRY_STATES = frozenset({"40001", "40P01"})
"""PostgreSQL's serialization_failure and deadlock_detected: a concurrent writer won."""

CONCURRENT_WRITE = "A concurrent write conflicted with this one; retry"
BAD_VALUE = "A value cannot be stored: a number out of range or a character the database refuses"
UNAVAILABLE = "The database is unavailable or busy; retry"
REJECTED = "The database rejected the operation"


def _driver_error(error: BaseException) -> BaseException:
    """The driver's own exception (SQLAlchemy's wrapper holds it in `.orig`)."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        return error.orig
    return error


def hub_error_for(error: BaseException) -> HubError:
    """The HubError a driver error (wrapped by SQLAlchemy or not) stands for."""
    driver = _driver_error(error)
    if isinstance(driver, OverflowError):
        return InvalidRequest(BAD_VALUE)
    if isinstance(driver, psycopg.Error) and driver.sqlstate in RETRY_STATES:
        return Conflict(CONCURRENT_WRITE)
    if isinstance(driver, (sqlite3.IntegrityError, psycopg.IntegrityError)):
        return Conflict(CONCURRENT_WRITE)
    if isinstance(driver, (sqlite3.DataError, psycopg.DataError)):
        return InvalidRequest(BAD_VALUE)
    if isinstance(
        driver,
        (
            PoolTimeout,
            sqlite3.OperationalError,
            sqlite3.InterfaceError,
            psycopg.OperationalError,
            psycopg.InterfaceError,
        ),
    ):
        return StoreUnavailable(UNAVAILABLE)
    return StoreUnavailable(REJECTED)


class _DriverErrorsMapped:
    """The context manager of `driver_errors_mapped` (a class: it sits on every read)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        if error is not None and isinstance(error, DRIVER_ERRORS):
            raise hub_error_for(error) from None
        return False


_MAPPED = _DriverErrorsMapped()


def driver_errors_mapped() -> AbstractContextManager[None]:
    """Raise the mapped HubError in place of a driver error met inside the block (without
    the driver's error as its cause: its text may quote stored values)."""
    return _MAPPED
