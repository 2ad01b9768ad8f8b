"""`python -m bench.indexing`: what index extraction costs per resource, against fhir.resources
validation of the same resources in the same run.

Over the synthetic Swedish records (bench.synthetic_records, `--resources`, default 20,000),
interleaved in `--rounds` rounds, in process:
- A: fhir.resources R4B `model_validate` of each resource (what a write validates);
- index, by plan: `index_resource` as the store calls it (only the parameters whose first
  element the resource has, SearchParameterRegistry.indexing_plan);
- index, every parameter: the same extraction asking every parameter of the type, as the
  indexer did before the plan (kept here as the comparison).
Prints microseconds per resource (the best round) and the ratios to A.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from bench.synthetic_records import demo_records
from hub.search.indexing import index_resource
from hub.search.parameters import IndexingPlan, SearchParameterRegistry, load_registry


def _every_parameter(registry: SearchParameterRegistry) -> SearchParameterRegistry:
    """A registry whose plan asks every parameter of the type, whatever the resource has."""
    unplanned = load_registry()
    for resource_type in registry.resource_types:
        params = [p for p in registry.for_type(resource_type).values() if p.rows_of is None]
        unplanned._plans[resource_type] = IndexingPlan(tuple(params), {})
    return unplanned


def _seconds(resources: list[dict[str, Any]], work: Callable[[dict[str, Any]], Any]) -> float:
    started = time.perf_counter()
    for resource in resources:
        work(resource)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.indexing")
    parser.add_argument("--resources", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    resources = [r.resource for r in demo_records(patients=max(1, options.resources // 9))]
    planned = load_registry()
    unplanned = _every_parameter(planned)
    arms: dict[str, Callable[[dict[str, Any]], Any]] = {
        "A: fhir.resources model_validate": lambda r: get_fhir_model_class(
            r["resourceType"]
        ).model_validate(r),
        "index, by plan": lambda r: index_resource(r, planned),
        "index, every parameter": lambda r: index_resource(r, unplanned),
    }
    for work in arms.values():  # warm-up: models and plans built
        _seconds(resources[:200], work)
    best = dict.fromkeys(arms, float("inf"))
    for _ in range(options.rounds):
        for name, work in arms.items():
            best[name] = min(best[name], _seconds(resources, work))
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{len(resources)} resources, best of {options.rounds} rounds, load average {load}")
    baseline = best["A: fhir.resources model_validate"]
    for name, seconds in best.items():
        per = seconds / len(resources) * 1e6
        print(f"  {name:36s} {per:8.1f} us/resource  {seconds / baseline:5.2f}x A")


if __name__ == "__main__":
    main()
