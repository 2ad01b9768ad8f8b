"""The hot paths' statements are SQLAlchemy Core compiled per dialect: each binds only the
named values its caller passes (plus the literals it fixes), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from hub.store import compartment, statements
from hub.store.schema import INDEX_TABLES, resource_versions, resources
from hub.store.sqlite import BACKSTOP_PAGES, CONNECTION_PRAGMAS

NAMED = {
    statements.read_newest: {"res_type", "res_id"},
    statements.security_and_version: {"res_type", "res_id"},
    statements.patient_version: {"patient_id"},
}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("build", list(NAMED), ids=[f.__name__ for f in NAMED])
def test_each_hot_statement_binds_its_named_values_and_fixes_the_rest(dialect, build):
    statement = build(dialect)
    assert set(statement.names) == NAMED[build]
    mark = "?" if dialect == "sqlite" else "%s"
    values = statement.values(dict.fromkeys(NAMED[build], "x"))
    assert statement.sql.count(mark) == len(values) == len(statement.names + statement.tail)
    assert values[: len(statement.names)] == ("x",) * len(statement.names)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_list_statements_take_one_placeholder_per_item(dialect):
    contents = statements.current_contents(dialect, 2)
    assert contents.names == ("res_type", "id_0", "id_1")
    sql, params = compartment.patients_facts(["p1", "p2"], ["Consent", "CareTeam"], dialect)
    mark = "?" if dialect == "sqlite" else "%s"
    assert sql.count(mark) == 4 and params == ("p1", "p2", "Consent", "CareTeam")


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("table", [resources, resource_versions, *INDEX_TABLES])
def test_the_batch_insert_takes_every_column_in_table_order(dialect, table):
    statement = statements.batch_insert(table, dialect)
    assert statement.names == tuple(column.name for column in table.columns)
    assert statement.sql.startswith(f"INSERT INTO {table.name} (")


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_bind_puts_the_callers_values_before_the_fixed_ones(dialect):
    newest = statements.read_newest(dialect)
    assert newest.names == ("res_type", "res_id")
    assert newest.bind("Patient", "p1")[:2] == ("Patient", "p1")
    assert newest.bind("Patient", "p1")[2:] == newest.tail and 1 in newest.tail


def test_the_connection_pragmas_set_the_backstop_checkpoint():
    assert f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}" in CONNECTION_PRAGMAS
