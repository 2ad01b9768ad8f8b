"""The one map of driver errors: every PEP 249 class of sqlite3 and psycopg, raw or wrapped
by SQLAlchemy, becomes a HubError of the right kind, and no driver text reaches it."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy import exc as sa_exc

from hub.errors import Conflict, HubError, InvalidRequest, StoreUnavailable
from hub.store.driver_errors import driver_errors_mapped, hub_error_for

PEP_249 = [
    ("IntegrityError", Conflict),
    ("DataError", InvalidRequest),
    ("OperationalError", StoreUnavailable),
    ("InterfaceError", StoreUnavailable),
    ("ProgrammingError", StoreUnavailable),
    ("InternalError", StoreUnavailable),
    ("NotSupportedError", StoreUnavailable),
    ("DatabaseError", StoreUnavailable),
    ("Error", StoreUnavailable),
]
SECRET = "199001012384"


def _raw(driver: object, name: str) -> BaseException:
    error: BaseException = getattr(driver, name)(f"value {SECRET} refused")
    return error


def _wrapped(error: BaseException, name: str) -> BaseException:
    wrapper = getattr(sa_exc, name if name not in ("Error",) else "DBAPIError")
    wrapped: BaseException = wrapper("SELECT 1", None, error)
    return wrapped


@pytest.mark.parametrize("driver", [sqlite3, psycopg], ids=["sqlite3", "psycopg"])
@pytest.mark.parametrize(("name", "expected"), PEP_249, ids=[n for n, _ in PEP_249])
def test_each_pep_249_error_maps_to_its_hub_error_raw_and_wrapped(driver, name, expected):
    raw = _raw(driver, name)
    for error in (raw, _wrapped(raw, name)):
        mapped = hub_error_for(error)
        assert type(mapped) is expected, (driver.__name__, name, type(error))
        assert SECRET not in mapped.message


@pytest.mark.parametrize(
    "error",
    [pg_errors.SerializationFailure("x"), pg_errors.DeadlockDetected("x")],
    ids=["40001", "40P01"],
)
def test_postgresql_serialization_failures_and_deadlocks_are_conflicts(error):
    assert error.sqlstate in ("40001", "40P01")
    assert type(hub_error_for(error)) is Conflict
    assert type(hub_error_for(sa_exc.OperationalError("COMMIT", None, error))) is Conflict


@pytest.mark.parametrize(
    "error",
    [pg_errors.StringDataRightTruncation("x"), pg_errors.NumericValueOutOfRange("x")],
    ids=["22001", "22003"],
)
def test_postgresql_data_exceptions_are_bad_input(error):
    assert type(hub_error_for(error)) is InvalidRequest


def test_sqlite3s_overflow_past_2_63_is_bad_input():
    with pytest.raises(OverflowError) as caught:
        sqlite3.connect(":memory:").execute("SELECT ?", (2**63,))
    assert type(hub_error_for(caught.value)) is InvalidRequest


def test_the_block_raises_the_mapped_error_without_the_driver_error_as_cause():
    with pytest.raises(HubError) as caught, driver_errors_mapped():
        raise sa_exc.IntegrityError("INSERT", None, sqlite3.IntegrityError(SECRET))
    assert type(caught.value) is Conflict
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_errors_that_are_not_the_drivers_pass_unchanged():
    with pytest.raises(KeyError), driver_errors_mapped():
        raise KeyError("not a database error")


def test_no_free_pooled_connection_in_time_is_unavailable():
    assert type(hub_error_for(sa_exc.TimeoutError("QueuePool limit"))) is StoreUnavailable
