"""ReadScope.condition with a known resource type selects exactly the rows of that type
that the general condition selects (the type tests decided in Python, not in SQL), and
ReadScope.everything (HUB_AUTH=off) selects every row, and both select exactly the rows
ReadScope.allows allows, rows without a patient, provider or unit included."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Connection, MetaData, String, Table, create_engine, insert, select

from hub.access.scope import ReadScope

_metadata = MetaData()
ROWS = Table(
    "rows",
    _metadata,
    Column("n", String(8)),
    Column("res_type", String(64)),
    Column("patient_id", String(64)),
    Column("care_provider", String(64)),
    Column("care_unit", String(64)),
)
TYPES = ("Patient", "Organization", "CarePlan", "Encounter", "Observation")
SCOPES = (
    ReadScope.everything(),
    ReadScope.directory_only(),
    ReadScope(provider="P1"),
    ReadScope(provider="P1", excluded={"pat1": frozenset({"U1", None})}),
    ReadScope(provider="P1", types=frozenset({"Encounter", "Patient"})),
    ReadScope(grants={"pat1": frozenset({("P1", "U1"), ("P2", None)})}),
    ReadScope(grants={"pat2": frozenset({("P2", "U2")})}, types=frozenset({"CarePlan"})),
    ReadScope(provider="P1", excluded={"pat1": frozenset({"U1"}), "pat2": frozenset({None})}),
    ReadScope(provider="P2", excluded={"pat2": frozenset()}, grants={"pat1": frozenset()}),
    ReadScope(provider="P1", grants={"pat2": frozenset({("P2", "U2"), ("P2", None)})}),
    ReadScope(types=frozenset()),
)


def _sources() -> Iterator[tuple[str, str | None, str | None, str | None]]:
    return itertools.product(TYPES, ("pat1", "pat2", None), ("P1", "P2", None), ("U1", "U2", None))


def _rows() -> list[dict[str, str | None]]:
    return [
        {"n": str(i), "res_type": t, "patient_id": p, "care_provider": c, "care_unit": u}
        for i, (t, p, c, u) in enumerate(_sources())
    ]


@pytest.fixture
def conn() -> Iterator[Connection]:
    """An in-memory table holding every row of `_rows()`."""
    engine = create_engine("sqlite://")
    _metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(ROWS), _rows())
        yield connection


def test_everything_selects_every_row_and_directory_only_the_directory_types(
    conn: Connection,
) -> None:
    rows = _rows()
    everything, directory = ReadScope.everything(), ReadScope.directory_only()
    assert everything.unrestricted is True
    for resource_type in (None, *TYPES):
        of_type = [ROWS.c.res_type == resource_type] if resource_type else []
        expected = [r["n"] for r in rows if resource_type in (None, r["res_type"])]
        shown = conn.execute(
            select(ROWS.c.n).where(*of_type, everything.condition(ROWS.c, resource_type))
        )
        assert sorted(shown.scalars()) == sorted(expected), resource_type
    for kind, patient, provider, unit in _sources():
        assert everything.allows(kind, patient, provider, unit)
        in_directory = kind in ("Patient", "Organization")
        assert directory.allows(kind, patient, provider, unit) == in_directory


def test_the_condition_for_one_type_selects_what_the_general_one_selects(
    conn: Connection,
) -> None:
    for scope, resource_type in itertools.product(SCOPES, TYPES):
        of_type = ROWS.c.res_type == resource_type
        general = conn.execute(select(ROWS.c.n).where(of_type, scope.condition(ROWS.c)))
        typed = conn.execute(
            select(ROWS.c.n).where(of_type, scope.condition(ROWS.c, resource_type))
        )
        assert sorted(typed.scalars()) == sorted(general.scalars()), (scope, resource_type)


def test_the_condition_selects_exactly_the_rows_allows_allows(conn: Connection) -> None:
    rows = _rows()
    for scope, resource_type in itertools.product(SCOPES, (None, *TYPES)):
        expected = [
            r["n"]
            for r in rows
            if resource_type in (None, r["res_type"])
            and scope.allows(
                str(r["res_type"]), r["patient_id"], r["care_provider"], r["care_unit"]
            )
        ]
        of_type = [ROWS.c.res_type == resource_type] if resource_type else []
        shown = conn.execute(
            select(ROWS.c.n).where(*of_type, scope.condition(ROWS.c, resource_type))
        )
        assert sorted(shown.scalars()) == sorted(expected), (scope, resource_type)
