"""A token's assignment must hold together: its care unit belongs to its care provider.

The decision compares the token's `care_unit` and `care_provider` claims with the
directory (own-unit data, inre spärr, consents for a unit). A token naming a unit of
another provider would read that unit's data as its own, so before any request is
served the directory is asked where the unit belongs: a unit the directory places under
another provider (or whose parent it cannot place) refuses the token with 403. A unit
the directory does not know gives no unit-level rights (no care relationship can name
it), so such a token is served; its unit's Organization can then only be registered by
its own provider (hub.access.writes). Answers are kept for `ttl` seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson

from consent.directory import Directory, hsa_id_of
from hub.access.scope import ReadScope
from hub.access.writes import directory_for
from hub.auth import Principal
from hub.errors import Forbidden, Gone, NotFound
from hub.search.parameters import SearchParameterRegistry
from hub.search.query import parse_search
from hub.store.sql_store import SqlStore

__all__ = ["AssignmentCheck"]


class AssignmentCheck:
    """Checks principals against the directory; one per app."""

    def __init__(self, store: SqlStore, registry: SearchParameterRegistry, ttl: float = 30.0):
        self._store = store
        self._registry = registry
        self._ttl = ttl
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def verify(self, principal: Principal | None) -> None:
        """Raise Forbidden when the token's care unit is not its care provider's."""
        if principal is None or principal.care_unit is None or principal.care_provider is None:
            return
        key = (principal.care_unit, principal.care_provider)
        now = time.monotonic()
        with self._lock:
            cached = self._known.get(key)
        if cached is None or now - cached[0] > self._ttl:
            cached = (now, self._holds(*key))
            with self._lock:
                self._known[key] = cached
                if len(self._known) > 10_000:
                    self._known.clear()
        if not cached[1]:
            raise Forbidden(
                "The token's care_unit does not belong to its care_provider in the directory "
                "(Organization.partOf); ask the issuer for a token of the current assignment"
            )

    def _lookup(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        try:
            stored = self._store.read(resource_type, resource_id, ReadScope.directory_only())
        except (NotFound, Gone):
            return None
        return None if stored.content is None else orjson.loads(stored.content)

    def _holds(self, unit: str, provider: str) -> bool:
        query = parse_search(
            "Organization", [("identifier", unit), ("_count", "10")], self._registry
        )
        page = self._store.search(query, ReadScope.directory_only())
        found = [orjson.loads(match.content) for match in page.matches if match.content is not None]
        named = [r for r in found if hsa_id_of(r.get("identifier")) == unit]
        if not named:
            return True
        directory: Directory = directory_for(named, self._lookup)
        for resource in named:
            entry = directory.organization({"reference": f"Organization/{resource['id']}"})
            if entry is None or entry.care_provider != provider:
                return False
        return True
