"""Bearer token verification against a JWKS file.

``TokenVerifier`` is built from the settings ``HUB_JWKS_PATH``, ``HUB_TOKEN_ISSUER`` and
``HUB_TOKEN_AUDIENCE``. It accepts ES256 (P-256) and RS256 keys, picks the key by ``kid``
(or the only key when the token has no ``kid``), and checks signature, ``exp``, ``nbf``
and ``iat`` with a small leeway, issuer, audience and the hub's claims. Every failure
raises the same ``AuthenticationError``.

A client sends the same token with every request until it expires, so the principal of a
verified token is kept (keyed by a SHA-256 digest of the token, never the token itself)
for at most ``cache_seconds`` and never past the token's own ``exp``. ``reload`` empties
that cache, so a key removed from the JWKS file stops its tokens at once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import orjson

from hub.auth.errors import AuthenticationError, KeySetError
from hub.auth.principal import Principal, principal_from_claims

__all__ = ["ALGORITHMS", "TokenVerifier"]

ALGORITHMS: tuple[str, ...] = ("ES256", "RS256")
_KEY_TYPE_OF_ALGORITHM = {"ES256": "EC", "RS256": "RSA"}
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_MAX_TOKEN_BYTES = 16_384


class _VerifiedTokens:
    """Principals of recently verified tokens: digest -> (usable until, principal)."""

    def __init__(self, seconds: float, size: int) -> None:
        self._seconds = seconds
        self._size = size
        self._entries: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8")).digest()

    def get(self, key: bytes) -> Principal | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.time() >= entry[0]:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: bytes, principal: Principal, expires_at: float) -> None:
        if self._seconds <= 0:
            return
        with self._lock:
            self._entries[key] = (min(time.time() + self._seconds, expires_at), principal)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class TokenVerifier:
    """Verifies bearer tokens and turns them into principals."""

    def __init__(
        self,
        jwks_path: str | Path,
        issuer: str,
        audience: str,
        leeway: timedelta = timedelta(seconds=30),
        cache_seconds: float = 60.0,
        cache_size: int = 10_000,
    ) -> None:
        self._jwks_path = Path(jwks_path)
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._verified = _VerifiedTokens(cache_seconds, cache_size)
        self.reload()

    @property
    def key_ids(self) -> frozenset[str | None]:
        """The ``kid`` values of the loaded keys."""
        return frozenset(self._keys)

    def reload(self) -> None:
        """(Re)load the JWKS file; raises ``KeySetError`` if it holds no usable key."""
        try:
            document = orjson.loads(self._jwks_path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise KeySetError("The JWKS file cannot be read") from exc
        self._keys = _load_keys(document)
        self._verified.clear()

    def verify(self, token: str) -> Principal:
        """Return the principal of a valid token or raise ``AuthenticationError``."""
        if not token or len(token) > _MAX_TOKEN_BYTES:
            raise AuthenticationError()
        key = self._verified.key(token)
        known = self._verified.get(key)
        if known is not None:
            return known
        claims = self.verify_claims(token)
        principal = principal_from_claims(claims)
        self._verified.put(key, principal, float(claims["exp"]))
        return principal

    def verify_claims(self, token: str) -> dict[str, Any]:
        """Return the verified claims of a token or raise ``AuthenticationError``."""
        if not token or len(token) > _MAX_TOKEN_BYTES:
            raise AuthenticationError()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError() from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise AuthenticationError()
        key = self._select_key(header.get("kid"))
        if key.algorithm_name != algorithm:
            raise AuthenticationError()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError:
            raise AuthenticationError() from None
        return claims

    def _select_key(self, kid: object) -> jwt.PyJWK:
        if kid is None:
            if len(self._keys) != 1:
                raise AuthenticationError()
            return next(iter(self._keys.values()))
        if not isinstance(kid, str) or kid not in self._keys:
            raise AuthenticationError()
        return self._keys[kid]


def _load_keys(document: object) -> dict[str | None, jwt.PyJWK]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeySetError("The JWKS file holds no key list")
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if "d" in entry or "p" in entry:
            raise KeySetError("The JWKS file holds private key material")
        algorithm = entry.get("alg")
        if algorithm is None:
            algorithm = "ES256" if entry.get("kty") == "EC" else "RS256"
        if algorithm not in ALGORITHMS or entry.get("kty") != _KEY_TYPE_OF_ALGORITHM[algorithm]:
            continue
        if algorithm == "ES256" and entry.get("crv") != "P-256":
            continue
        try:
            key = jwt.PyJWK(entry, algorithm=algorithm)
        except jwt.PyJWTError as exc:
            raise KeySetError("The JWKS file holds a malformed key") from exc
        kid = entry.get("kid")
        if kid in keys:
            raise KeySetError("The JWKS file holds two keys with the same kid")
        keys[kid if isinstance(kid, str) else None] = key
    if not keys:
        raise KeySetError("The JWKS file holds no ES256 or RS256 signing key")
    return keys
