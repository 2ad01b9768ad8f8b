"""What the demo loads besides the source exports: parts that write FHIR records directly.

A part is a function of a `DemoContext` that writes its records (each in its own
transaction) and returns how many it created or changed. `DEMO_PARTS` lists them in load
order; a module under hub/demo/ adds its own by appending to the list in `default_parts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from hub.store.sql_store import SqlStore

if TYPE_CHECKING:
    from hub.demo.exports import Person

__all__ = ["DemoContext", "DemoPart", "default_parts"]


@dataclass(frozen=True)
class DemoContext:
    """What a demo part may use: the store, the invented persons, the export date."""

    store: SqlStore
    people: list[Person]
    today: date
    secret: bytes
    folder: Path


DemoPart = Callable[[DemoContext], int]


def _clinical(context: DemoContext) -> int:
    from hub.demo.clinical import add_clinical_content

    return add_clinical_content(context.store, context.people, context.secret, context.today)


def default_parts() -> list[tuple[str, DemoPart]]:
    """(name, part) in load order, after the source exports."""
    return [("clinical", _clinical)]
