"""Baseline A: how fast fhir.resources (R4B) parses and validates the same resources.

Measured in the benchmark process with no server running: for each resource,
`get_fhir_model_class(t).model_validate(d)`, the call the hub's validation makes. The
hub's whole `validate_resource` (model plus empty-element, binding and personnummer
checks) is timed on the same resources as a second, informative figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from bench.measure import Rate


def _timed(
    name: str, resources: list[dict[str, Any]], check: Callable[[dict[str, Any]], Any], limit: float
) -> Rate:
    for resource in resources[:200]:  # import model modules and warm caches, untimed
        check(resource)
    done = 0
    started = time.perf_counter()
    deadline = started + limit
    for resource in resources:
        check(resource)
        done += 1
        if done % 1000 == 0 and time.perf_counter() > deadline:
            break
    return Rate(name=name, count=done, seconds=time.perf_counter() - started, unit="resources")


def model_validate_rate(resources: list[dict[str, Any]], limit: float = 180.0) -> Rate:
    def check(resource: dict[str, Any]) -> Any:
        return get_fhir_model_class(resource["resourceType"]).model_validate(resource)

    return _timed("A: fhir.resources model_validate", resources, check, limit)


def model_validate_seconds(resources: list[dict[str, Any]]) -> float:
    """Seconds baseline A takes over `resources` (no warm-up: the models are loaded by then)."""
    started = time.perf_counter()
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return time.perf_counter() - started


def hub_validate_rate(resources: list[dict[str, Any]], limit: float = 60.0) -> Rate:
    from hub.validation.resources import validate_resource

    return _timed("hub validate_resource (info)", resources, validate_resource, limit)
