"""The benchmark's ratios: creates are set against baseline A measured in turns with the
same database's load when there is such a figure."""

from __future__ import annotations

from bench.measure import Rate
from bench.report import A_DURING_LOAD, BARE, BUNDLE, READ, ratios

START_A = Rate(name="A: fhir.resources model_validate", count=10_000, seconds=1.0)


def test_creates_are_set_against_a_measured_in_turns_with_the_load() -> None:
    rates = {
        BUNDLE: Rate(name=BUNDLE, count=6_000, seconds=1.0),
        A_DURING_LOAD: Rate(name=A_DURING_LOAD, count=6_000, seconds=0.5),  # 12,000/s
    }
    found = ratios(START_A, rates)
    assert found[BUNDLE]["ratio"] == 0.5
    assert found[BUNDLE]["met"] is True
    assert A_DURING_LOAD not in found


def test_without_a_figure_from_the_load_the_run_start_a_is_used() -> None:
    rates = {
        BUNDLE: Rate(name=BUNDLE, count=4_000, seconds=1.0),
        READ: Rate(name=READ, count=700, seconds=1.0),
        BARE: Rate(name=BARE, count=1_000, seconds=1.0),
    }
    found = ratios(START_A, rates)
    assert found[BUNDLE]["ratio"] == 0.4
    assert found[BUNDLE]["met"] is False
    assert found[READ] == {"baseline": "B", "ratio": 0.7, "target": 0.7, "met": True}
