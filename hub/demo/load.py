"""Load the whole demo (source exports, then the extra parts) into a store, once.

A database that already holds the demo (its first invented Patient is there, or was
deleted there) is left as it is, so nothing a user wrote is reverted; `reload=True`
writes the demo again, dated today, over the demo records (`hub demo --reload`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from adapters.identity import parse_person_identity
from adapters.ids import patient_id
from hub.demo.exports import Person, demo_people, load_demo_exports, swedish_today
from hub.demo.exports import write_demo_exports as write_exports
from hub.demo.parts import DemoContext, default_parts
from hub.errors import Gone, NotFound
from hub.ingest.intake import IngestSummary
from hub.store.sql_store import SqlStore

__all__ = ["DemoLoad", "demo_patient_id", "holds_demo", "load_demo"]


@dataclass(frozen=True)
class DemoLoad:
    """What a load did: nothing (the database held the demo), or these files and parts."""

    already_loaded: bool
    today: date
    summaries: list[IngestSummary] = field(default_factory=list)
    parts: dict[str, int] = field(default_factory=dict)


def _secret(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def demo_patient_id(person: Person, secret: bytes | str) -> str:
    """The hub's Patient id of a demo person."""
    return patient_id(parse_person_identity(person.number), _secret(secret))


def holds_demo(store: SqlStore, secret: bytes | str, seed: int = 0) -> bool:
    """Whether the store holds (or held) the demo of this seed: its first Patient."""
    first = demo_people(1, seed)[0]
    try:
        store.read("Patient", demo_patient_id(first, secret))
    except Gone:
        return True
    except NotFound:
        return False
    return True


def load_demo(
    store: SqlStore,
    folder: Path,
    secret: bytes | str,
    *,
    patients: int = 12,
    seed: int = 0,
    today: date | None = None,
    reload: bool = False,
) -> DemoLoad:
    """Write the exports under `folder` and load them and the parts; or, when the store
    holds the demo already and `reload` is false, do nothing."""
    today = today or swedish_today()
    if not reload and holds_demo(store, secret, seed):
        return DemoLoad(already_loaded=True, today=today)
    write_exports(folder, patients, seed=seed, today=today)
    summaries = load_demo_exports(store, folder, secret)
    context = DemoContext(store, demo_people(patients, seed), today, _secret(secret), folder)
    parts = {name: part(context) for name, part in default_parts()}
    return DemoLoad(already_loaded=False, today=today, summaries=summaries, parts=parts)
