"""Code lookups for the adapters: the mappings/ tables, a missing row as UnmappedCode.

mappings/ is data and imports nothing of the project, so its lookups raise its own
`NoMapping`; every adapter looks codes up through these functions, which raise the
adapters' `UnmappedCode` (a TranslateError naming table, code system and code) instead.
"""

from __future__ import annotations

from adapters.errors import UnmappedCode
from mappings.loader import CodeTable, MappedCode, NoMapping, load_identifier_systems

__all__ = ["canonical_system", "lookup", "lookup_absent"]


def _unmapped(error: NoMapping) -> UnmappedCode:
    return UnmappedCode(table=error.table, code_system=error.code_system, code=error.code)


def lookup(table: CodeTable, code: str, *, system: str | None = None) -> MappedCode:
    """The table's row for `code` (and `system`, when given); UnmappedCode otherwise."""
    try:
        return table.lookup(code, system=system)
    except NoMapping as error:
        raise _unmapped(error) from None


def lookup_absent(table: CodeTable) -> MappedCode:
    """The table's documented row for an absent source value; UnmappedCode if it has none."""
    try:
        return table.lookup_absent()
    except NoMapping as error:
        raise _unmapped(error) from None


def canonical_system(system_or_oid: str) -> str:
    """The hub's canonical identifier system for an OID, urn:oid or alias URI."""
    try:
        return load_identifier_systems().canonical(system_or_oid)
    except NoMapping as error:
        raise _unmapped(error) from None
