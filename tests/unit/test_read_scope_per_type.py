"""ReadScope.condition with a known resource type selects exactly the rows of that type
that the general condition selects (the type tests decided in Python, not in SQL)."""

from __future__ import annotations

import itertools

from sqlalchemy import Column, MetaData, String, Table, create_engine, insert, select

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
)


def test_the_condition_for_one_type_selects_what_the_general_one_selects() -> None:
    engine = create_engine("sqlite://")
    _metadata.create_all(engine)
    values = itertools.product(
        TYPES, ("pat1", "pat2", None), ("P1", "P2", None), ("U1", "U2", None)
    )
    rows = [
        {"n": str(i), "res_type": t, "patient_id": p, "care_provider": c, "care_unit": u}
        for i, (t, p, c, u) in enumerate(values)
    ]
    with engine.begin() as conn:
        conn.execute(insert(ROWS), rows)
        for scope, resource_type in itertools.product(SCOPES, TYPES):
            of_type = ROWS.c.res_type == resource_type
            general = conn.execute(select(ROWS.c.n).where(of_type, scope.condition(ROWS.c)))
            typed = conn.execute(
                select(ROWS.c.n).where(of_type, scope.condition(ROWS.c, resource_type))
            )
            assert sorted(typed.scalars()) == sorted(general.scalars()), (scope, resource_type)
