"""Load the code tables in this package; every row names its source.

A table file `<name>.json` holds:

    {"name": ..., "description": ..., "source_system": <FHIR system of the source codes>,
     "source_oid": <OID or null>, "rows": [
        {"code": ..., "display": ..., "target": {"system": ..., "code": ..., "display": ...},
         "source": <OID, code system version or document the row comes from>}, ...],
     "absent": <optional row without "code": what an absent source value maps to>}

`CodeTable.lookup` raises `NoMapping` naming the table and the code when a code has no
row; there is no default row. This package imports nothing of the project: the adapters
turn a `NoMapping` into their `UnmappedCode` (adapters/codes.py). `identifier-systems.json`
maps OIDs and alias URIs to the hub's canonical identifier systems
(`IdentifierSystems.canonical`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "CodeTable",
    "IdentifierSystem",
    "IdentifierSystems",
    "MappedCode",
    "NoMapping",
    "TargetCoding",
    "load_identifier_systems",
    "load_table",
    "table_names",
]

_IDENTIFIER_SYSTEMS = "identifier-systems"
_TABLE_DIR = Path(__file__).resolve().parent


class NoMapping(LookupError):
    """A code (or identifier system) has no row in its table; never replaced by a default."""

    def __init__(self, *, table: str, code_system: str | None, code: str) -> None:
        system_text = f" of code system {code_system!r}" if code_system else ""
        self.message = f"code {code!r}{system_text} has no mapping in table {table!r}"
        super().__init__(self.message)
        self.table = table
        self.code_system = code_system
        self.code = code


@dataclass(frozen=True)
class TargetCoding:
    """A FHIR Coding a source code maps to."""

    system: str
    code: str
    display: str | None

    def as_fhir(self) -> dict[str, str]:
        """JSON-ready FHIR Coding."""
        coding = {"system": self.system, "code": self.code}
        if self.display:
            coding["display"] = self.display
        return coding


@dataclass(frozen=True)
class MappedCode:
    """One table row: the source code, its display, the FHIR target and where it comes from."""

    code: str
    display: str | None
    target: TargetCoding
    source: str


@dataclass(frozen=True)
class CodeTable:
    """A code map from one source code system to FHIR codings."""

    name: str
    description: str
    source_system: str
    source_oid: str | None
    rows: tuple[MappedCode, ...]
    absent: MappedCode | None = None

    def lookup(self, code: str, *, system: str | None = None) -> MappedCode:
        """The row for `code`; `system` (OID or URI), when given, must be the table's system.

        Raises NoMapping naming the table, code system and code otherwise.
        """
        if system is not None and system not in (self.source_system, self.source_oid):
            raise NoMapping(table=self.name, code_system=system, code=code)
        for row in self.rows:
            if row.code == code:
                return row
        raise NoMapping(table=self.name, code_system=system or self.source_system, code=code)

    def lookup_absent(self) -> MappedCode:
        """The table's documented mapping for an absent source value; NoMapping if none."""
        if self.absent is None:
            raise NoMapping(table=self.name, code_system=self.source_system, code="(absent)")
        return self.absent

    def source_coding(self, row: MappedCode) -> dict[str, str]:
        """The original code as a FHIR Coding in the source system (to keep next to the target)."""
        return TargetCoding(self.source_system, row.code, row.display).as_fhir()


@dataclass(frozen=True)
class IdentifierSystem:
    """A canonical FHIR identifier system with the OIDs and URIs accepted for it."""

    canonical: str
    oid: str | None
    aliases: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class IdentifierSystems:
    """The hub's identifier systems; maps any accepted OID or alias to the canonical URI."""

    systems: tuple[IdentifierSystem, ...]

    def canonical(self, system_or_oid: str) -> str:
        """Canonical system for a canonical URI, an alias URI, a bare OID or a urn:oid."""
        for entry in self.systems:
            names = {entry.canonical, *entry.aliases}
            if entry.oid:
                names |= {entry.oid, f"urn:oid:{entry.oid}"}
            if system_or_oid in names:
                return entry.canonical
        raise NoMapping(table=_IDENTIFIER_SYSTEMS, code_system=None, code=system_or_oid)


def _read(name: str) -> dict[str, Any]:
    resource = _TABLE_DIR / f"{name}.json"
    if not resource.is_file():
        raise KeyError(f"no mapping table named {name!r}")
    data: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return data


def _target(data: dict[str, Any]) -> TargetCoding:
    return TargetCoding(system=data["system"], code=data["code"], display=data.get("display"))


def _row(row: dict[str, Any]) -> MappedCode:
    return MappedCode(
        code=row["code"],
        display=row.get("display"),
        target=_target(row["target"]),
        source=row["source"],
    )


@cache
def load_table(name: str) -> CodeTable:
    """Load `mappings/<name>.json` as a CodeTable (cached; tables are immutable)."""
    data = _read(name)
    rows = tuple(_row(row) for row in data["rows"])
    absent = data.get("absent")
    return CodeTable(
        name=data["name"],
        description=data["description"],
        source_system=data["source_system"],
        source_oid=data.get("source_oid"),
        rows=rows,
        absent=_row({"code": "", **absent}) if absent else None,
    )


@cache
def load_identifier_systems() -> IdentifierSystems:
    """Load `mappings/identifier-systems.json`."""
    data = _read(_IDENTIFIER_SYSTEMS)
    return IdentifierSystems(
        systems=tuple(
            IdentifierSystem(
                canonical=row["canonical"],
                oid=row.get("oid"),
                aliases=tuple(row.get("aliases", ())),
                source=row["source"],
            )
            for row in data["rows"]
        )
    )


def table_names() -> list[str]:
    """Names of all code tables in the package (identifier systems excluded)."""
    return sorted(
        entry.name.removesuffix(".json")
        for entry in _TABLE_DIR.iterdir()
        if entry.name.endswith(".json") and entry.name != f"{_IDENTIFIER_SYSTEMS}.json"
    )
