"""What a write reads from the definitions, loaded while the app starts (its lifespan),
before /ready answers 200: loaded lazily, they made each process's first write wait
5-7 s.

The official R4 definitions and the hub's guide (hub.validation.definitions), the compiled
base structure of every supported type, and one sample Patient validated and indexed
(the model machinery, the FHIRPath engine, the identifier checks, the search index plan).
All of it is kept process-wide (functools.cache), so the many apps a test process builds
load it once. A serving process (hub.app.serving_app) also imports every type's model
class, which would take every test process seconds more.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from adapters.identity import PERSONNUMMER_SYSTEM
from hub.search.indexing import index_resource
from hub.search.parameters import SearchParameterRegistry
from hub.validation.definitions import definitions
from hub.validation.resources import load_model_classes, supported_types, validate_resource
from hub.validation.structure import core_structure

__all__ = ["load_write_definitions"]

log = logging.getLogger("hub.validation")

_SAMPLE: dict[str, Any] = {
    "resourceType": "Patient",
    "identifier": [{"system": PERSONNUMMER_SYSTEM, "value": "191212121212"}],
    "name": [{"family": "Tolvansson", "given": ["Tolvan"]}],
    "birthDate": "1912-12-12",
}
"""Skatteverket's test personnummer (DOMAIN.md section 6); nothing is stored."""


def load_write_definitions(registry: SearchParameterRegistry, *, every_model: bool) -> float:
    """Load what validation and indexing read on a write; the seconds it took (about
    nothing once the process has them)."""
    started = time.perf_counter()
    definitions()
    for resource_type in sorted(supported_types()):
        core_structure(resource_type)
    if every_model:
        load_model_classes()
    sample = copy.deepcopy(_SAMPLE)
    validate_resource(sample)
    index_resource(sample, registry)
    seconds = time.perf_counter() - started
    if seconds > 0.5:
        log.info("definitions for validation and indexing loaded in %.1f s", seconds)
    return seconds
