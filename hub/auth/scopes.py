"""SMART on FHIR scopes: parsing and matching.

Supported forms (resource scopes only; ``openid``, ``fhirUser``, ``launch`` and other
non-resource scopes are ignored):

- v1: ``<context>/<Type|*>.<read|write|*>``
- v2: ``<context>/<Type|*>.<letters>`` where letters are an ordered, non-empty subset of
  ``cruds`` (create, read, update, delete, search).

``context`` is ``user``, ``system`` or ``patient``. v1 ``read`` grants read and search,
``write`` grants create, update and delete, ``*`` grants all five. A v2 scope with query
parameters (``user/Observation.rs?category=...``) narrows access in a way this hub does not
enforce, so it is dropped rather than widened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Context", "Interaction", "Scope", "parse_scope", "parse_scopes"]

Context = Literal["user", "system", "patient"]
Interaction = Literal["create", "read", "update", "delete", "search"]

_LETTERS: dict[str, Interaction] = {
    "c": "create",
    "r": "read",
    "u": "update",
    "d": "delete",
    "s": "search",
}
_V1: dict[str, frozenset[Interaction]] = {
    "read": frozenset({"read", "search"}),
    "write": frozenset({"create", "update", "delete"}),
    "*": frozenset(_LETTERS.values()),
}
_SCOPE = re.compile(r"^(user|system|patient)/(\*|[A-Z][A-Za-z]{0,63})\.([a-z*]{1,5})$")
_V2 = re.compile(r"^c?r?u?d?s?$")


@dataclass(frozen=True, slots=True)
class Scope:
    """One resource scope: who it is for, which resource type, which interactions."""

    context: Context
    resource_type: str
    interactions: frozenset[Interaction]

    def allows(self, resource_type: str, interaction: Interaction) -> bool:
        """Whether this scope grants ``interaction`` on ``resource_type``."""
        type_matches = self.resource_type in ("*", resource_type)
        return type_matches and interaction in self.interactions


def parse_scope(text: str) -> Scope | None:
    """Parse one scope string; ``None`` for non-resource or unsupported scopes."""
    match = _SCOPE.match(text)
    if match is None:
        return None
    context_text, resource_type, access = match.groups()
    context: Context
    if context_text == "user":
        context = "user"
    elif context_text == "system":
        context = "system"
    else:
        context = "patient"
    if access in _V1:
        interactions = _V1[access]
    elif _V2.match(access):
        interactions = frozenset(_LETTERS[letter] for letter in access)
    else:
        return None
    return Scope(context=context, resource_type=resource_type, interactions=interactions)


def parse_scopes(text: str) -> frozenset[Scope]:
    """Parse a space-separated ``scope`` claim, keeping the resource scopes only."""
    parsed = (parse_scope(part) for part in text.split())
    return frozenset(scope for scope in parsed if scope is not None)
