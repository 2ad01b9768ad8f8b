"""The authenticated caller of one request.

A ``Principal`` is built from verified token claims. Its ``kind`` follows the scopes:

- ``user``: an employee (``subject`` is the employee HSA-id) working in the care unit and
  care provider of the current assignment (medarbetaruppdrag); ``user/`` scopes.
- ``system``: a journal system of one care provider (``subject`` is the client id);
  ``system/`` scopes; ``care_unit`` is optional.
- ``representative``: a relative or legal representative (``subject`` is the person's
  identifier); ``patient/`` scopes; reads only through an explicit representation record.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from consent.directory import SHARED_TYPES
from hub.auth.errors import AuthenticationError
from hub.auth.scopes import Context, Interaction, Scope, parse_scopes

__all__ = ["DIRECTORY_RESOURCE_TYPES", "Principal", "PrincipalKind", "principal_from_claims"]

PrincipalKind = Literal["user", "system", "representative"]

DIRECTORY_RESOURCE_TYPES: frozenset[str] = SHARED_TYPES
"""Shared data: readable by every authenticated client (consent.directory.SHARED_TYPES)."""

_KIND_OF_CONTEXT: dict[Context, PrincipalKind] = {
    "user": "user",
    "system": "system",
    "patient": "representative",
}
_CONTEXT_OF_KIND: dict[PrincipalKind, Context] = {v: k for k, v in _KIND_OF_CONTEXT.items()}
DIRECTORY_ADMIN_SCOPE = "system/directory.admin"
"""Not a resource scope: the right to change every care provider's directory records."""
_HSA_ID = re.compile(r"^SE[0-9]{10,12}-[0-9A-Za-z]{1,40}$")
_SUBJECT = re.compile(r"^[\x21-\x7e]{1,128}$")
_ROLE = re.compile(r"^[\x20-\x7e]{1,64}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: identity, assignment and granted scopes."""

    subject: str
    care_unit: str | None
    care_provider: str | None
    role: str | None
    scopes: frozenset[Scope]
    kind: PrincipalKind
    directory_admin: bool = False
    """A system client holding the ``system/directory.admin`` scope: it may change any
    care provider's directory records (hub.access.writes)."""

    def allows(self, resource_type: str, interaction: Interaction) -> bool:
        """Whether a scope of this principal's own context grants the interaction."""
        context = _CONTEXT_OF_KIND[self.kind]
        return any(
            scope.context == context and scope.allows(resource_type, interaction)
            for scope in self.scopes
        )

    def can_read(self, resource_type: str) -> bool:
        """Read (and vread/history) of ``resource_type``; directory types need no scope."""
        if resource_type in DIRECTORY_RESOURCE_TYPES:
            return True
        return self.allows(resource_type, "read")

    def can_search(self, resource_type: str) -> bool:
        """Search of ``resource_type``; directory types need no scope."""
        if resource_type in DIRECTORY_RESOURCE_TYPES:
            return True
        return self.allows(resource_type, "search")

    def can_write(self, resource_type: str) -> bool:
        """Create and update of ``resource_type`` (both must be granted)."""
        return self.allows(resource_type, "create") and self.allows(resource_type, "update")


def _text(claims: Mapping[str, Any], name: str, pattern: re.Pattern[str]) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise AuthenticationError(reason=f"malformed claim {name}")
    return value


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build a principal from verified claims, or raise ``AuthenticationError``.

    The kind comes from the context of the resource scopes; a token mixing contexts, or
    holding no resource scope at all, is rejected. A user needs ``care_unit`` and
    ``care_provider``; a system needs ``care_provider``.
    """
    subject = _text(claims, "sub", _SUBJECT)
    care_unit = _text(claims, "care_unit", _HSA_ID)
    care_provider = _text(claims, "care_provider", _HSA_ID)
    role = _text(claims, "role", _ROLE)
    scope_text = claims.get("scope")
    if subject is None:
        raise AuthenticationError(reason="missing claim sub")
    if not isinstance(scope_text, str):
        raise AuthenticationError(reason="missing claim scope")
    scopes = parse_scopes(scope_text)
    contexts = {scope.context for scope in scopes}
    if len(contexts) != 1:
        raise AuthenticationError(
            reason="the scopes name no resource, or mix user/, system/ and patient/"
        )
    kind = _KIND_OF_CONTEXT[contexts.pop()]
    if kind == "user" and care_unit is None:
        raise AuthenticationError(reason="missing claim care_unit")
    if kind != "representative" and care_provider is None:
        raise AuthenticationError(reason="missing claim care_provider")
    if kind == "representative":
        # A representative acts for a person, not for a care unit or provider.
        care_unit = care_provider = None
    return Principal(
        subject=subject,
        care_unit=care_unit,
        care_provider=care_provider,
        role=role,
        scopes=scopes,
        kind=kind,
        directory_admin=kind == "system" and DIRECTORY_ADMIN_SCOPE in scope_text.split(),
    )
