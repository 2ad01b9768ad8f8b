"""A ReadScope's condition compiled once per shape: the placeholders `condition` names, in
the order it names them, carry exactly the values `parameters` gives them, and two scopes
of one shape compile to the same text (hub/store/compartment.py relies on both)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import select

from hub.access.scope import DIRECTORY_TYPES, Placeholders, ReadScope
from hub.store.schema import resources
from hub.store.statements import compiled

PROVIDERS = ["SE2120002122-0000", "SE2120000001-0000", "SE2321000016-0000"]
UNITS = ["SE2120002122-1001", "SE2120002122-1002", "SE2120000001-2001", None]
PATIENTS = ["p-1", "p-2", "p-3", "p-4"]
TYPES = ["CarePlan", "Encounter", "Patient", "Observation", "Organization"]


def _random_scope(rng: random.Random) -> ReadScope:
    kind = rng.choice(["directory", "everything", "provider", "grants"])
    types = frozenset(rng.sample(TYPES, rng.randint(0, len(TYPES)))) if rng.random() < 0.4 else None
    if kind == "directory":
        return ReadScope(types=types)
    if kind == "everything":
        return ReadScope(unrestricted=True, types=types)
    if kind == "provider":
        excluded = {
            p: frozenset(rng.sample(UNITS, rng.randint(0, 3)))
            for p in rng.sample(PATIENTS, rng.randint(0, 3))
        }
        return ReadScope(provider=rng.choice(PROVIDERS), excluded=excluded, types=types)
    grants = {
        p: frozenset((rng.choice(PROVIDERS), rng.choice(UNITS)) for _ in range(rng.randint(0, 4)))
        for p in rng.sample(PATIENTS, rng.randint(0, 4))
    }
    return ReadScope(grants=grants, types=types)


class _Recording(Placeholders):
    """Placeholders that also keep each value by the name it was given."""

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        self.seen: dict[str, str] = {}

    def __call__(self, value: str) -> Any:
        placeholder = super().__call__(value)
        self.seen[placeholder.key] = value
        return placeholder


def _text(scope: ReadScope, dialect: str) -> str:
    condition = scope.condition(resources.c, value=Placeholders("s"))
    return compiled(select(resources.c.res_id).where(condition), dialect).sql


@pytest.mark.parametrize("seed", range(200))
def test_parameters_name_the_values_the_condition_compares_with(seed: int) -> None:
    scope = _random_scope(random.Random(seed))
    recording = _Recording("s")
    scope.condition(resources.c, value=recording)
    assert scope.parameters("s") == recording.seen


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_scopes_of_one_shape_compile_to_one_text_and_others_do_not(dialect: str) -> None:
    rng = random.Random(7)
    texts: dict[Any, str] = {}
    for _ in range(400):
        scope = _random_scope(rng)
        text = _text(scope, dialect)
        assert texts.setdefault(scope.shape(), text) == text, scope
    assert len(set(texts.values())) == len(texts)


def test_every_value_is_a_placeholder_never_text_of_the_statement() -> None:
    scope = ReadScope(
        grants={"p-'1": frozenset({("SE2120002122-0000", "x' OR '1'='1")})},
        provider=None,
    )
    text = _text(scope, "postgresql")
    assert "p-'1" not in text and "OR '1'='1" not in text
    assert set(scope.parameters("s").values()) >= {"p-'1", "x' OR '1'='1"}
    assert set(DIRECTORY_TYPES) <= set(scope.parameters("s").values())
