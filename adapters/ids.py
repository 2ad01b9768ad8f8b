"""Deterministic resource ids, and the hub's URIs for source systems and record identifiers.

Resource ids are uuid5 over (source system, resource type, source id), so translating the
same export twice gives the same ids. Patient ids are an HMAC-SHA256 of the identifier keyed
by the hub secret: a plain hash of a personnummer can be reversed by trying all numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from functools import lru_cache
from urllib.parse import quote

from adapters.identity import PersonIdentity

__all__ = [
    "HUB_NAMING_BASE",
    "patient_id",
    "record_identifier_system",
    "resource_id",
    "source_uri",
]

HUB_NAMING_BASE = "https://hub.example.se/fhir/sid"
"""Base of the URIs the hub mints for source systems and their record identifiers."""

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, HUB_NAMING_BASE)
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S+")


@lru_cache(maxsize=65_536)
def resource_id(source_system: str, resource_type: str, source_id: str) -> str:
    """uuid5 over the three parts (JSON-encoded, so no separator can make two inputs collide)."""
    name = json.dumps([source_system, resource_type, source_id], ensure_ascii=False)
    return str(uuid.uuid5(_ID_NAMESPACE, name))


def patient_id(identity: PersonIdentity, secret: bytes) -> str:
    """Hex HMAC-SHA256 of `system|value` keyed by the hub secret (64 characters)."""
    if not secret:
        raise ValueError("the patient id secret must not be empty")
    message = f"{identity.system}|{identity.value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@lru_cache(maxsize=4_096)
def source_uri(source_system: str) -> str:
    """meta.source for a source system: a URI as given, else a hub URI naming the id."""
    if _URI_SCHEME.fullmatch(source_system):
        return source_system
    return f"{HUB_NAMING_BASE}/source/{quote(source_system, safe='')}"


@lru_cache(maxsize=4_096)
def record_identifier_system(kind: str, source_system: str) -> str:
    """Identifier.system for record ids unique only within one source system (RIVTA documentId)."""
    return f"{HUB_NAMING_BASE}/{quote(kind, safe='')}/{quote(source_system, safe='')}"
