"""Bearer token verification against a JWKS file.

``TokenVerifier`` is built from the settings ``HUB_JWKS_PATH``, ``HUB_TOKEN_ISSUER`` and
``HUB_TOKEN_AUDIENCE``. It accepts ES256 (P-256) and RS256 keys, picks the key by ``kid``
(or the only key when the token has no ``kid``), and checks signature, ``exp``, ``nbf``
and ``iat`` with a small leeway, issuer, audience and the hub's claims. Every failure
raises ``AuthenticationError`` with a short reason (expired, audience, signature, missing
claim, revoked, ...) that never holds the token or a claim value.

A client sends the same token with every request until it expires, so the principal of a
verified token is kept (keyed by a SHA-256 digest of the token, never the token itself)
until the token's own ``exp`` (or ``cache_seconds``, when given). The JWKS file and the
revocation list (``hub.auth.revocation``) are looked at once a second: a key removed from
the JWKS empties the cache, and a revoked token, subject or ``jti`` is refused within a
second of ``hub token revoke``, cached or not. An unreadable revocation list refuses every
token until it is readable again (fail closed).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import orjson

from hub.auth.errors import AuthenticationError, KeySetError
from hub.auth.principal import Principal, principal_from_claims
from hub.auth.revocation import Clock, RevocationList, WatchedFile

log = logging.getLogger("hub.auth")

__all__ = ["ALGORITHMS", "TokenVerifier"]

ALGORITHMS: tuple[str, ...] = ("ES256", "RS256")
_KEY_TYPE_OF_ALGORITHM = {"ES256": "EC", "RS256": "RSA"}
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_MAX_TOKEN_BYTES = 16_384


@dataclass(frozen=True, slots=True)
class _Verified:
    """A verified token's principal with the claims revocation is decided on."""

    usable_until: float
    principal: Principal
    jti: object
    sub: object
    iat: object


class _VerifiedTokens:
    """Principals of recently verified tokens, keyed by the token's digest."""

    def __init__(self, seconds: float | None, size: int) -> None:
        self._seconds = seconds
        self._size = size
        self._entries: OrderedDict[bytes, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.sha256(token.encode("utf-8")).digest()

    def get(self, key: bytes) -> _Verified | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if time.time() >= entry.usable_until:
                del self._entries[key]
                return None
            return entry

    def put(self, key: bytes, principal: Principal, claims: dict[str, Any]) -> None:
        if self._seconds is not None and self._seconds <= 0:
            return
        expires_at = float(claims["exp"])
        if self._seconds is not None:
            expires_at = min(time.time() + self._seconds, expires_at)
        entry = _Verified(expires_at, principal, claims.get("jti"), claims["sub"], claims["iat"])
        with self._lock:
            self._entries[key] = entry
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
        audience: str | Sequence[str],
        leeway: timedelta = timedelta(seconds=30),
        cache_seconds: float | None = None,
        cache_size: int = 10_000,
        revocation_path: str | Path | None = None,
        watch_interval: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._jwks_path = Path(jwks_path)
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._verified = _VerifiedTokens(cache_seconds, cache_size)
        self._refresh_lock = threading.Lock()
        self._jwks_watch = WatchedFile(self._jwks_path, watch_interval, clock)
        self._revocation_watch = (
            WatchedFile(Path(revocation_path), watch_interval, clock)
            if revocation_path is not None
            else None
        )
        self._revocations: RevocationList | None = RevocationList()
        self._jwks_watch.changed()
        self.reload()
        self._refresh_revocations()

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
        """Return the principal of a valid, unrevoked token or raise ``AuthenticationError``."""
        if not token or len(token) > _MAX_TOKEN_BYTES:
            raise AuthenticationError(reason="the token is empty or too long")
        self._refresh()
        key = self._verified.key(token)
        known = self._verified.get(key)
        if known is None:
            claims = self.verify_claims(token)
            principal = principal_from_claims(claims)
            self._verified.put(key, principal, claims)
            known = self._verified.get(key)
            if known is None:  # caching is off
                self._refuse_if_revoked(key, claims.get("jti"), claims["sub"], claims["iat"])
                return principal
        self._refuse_if_revoked(key, known.jti, known.sub, known.iat)
        return known.principal

    def _refuse_if_revoked(self, key: bytes, jti: object, sub: object, iat: object) -> None:
        revocations = self._revocations
        if revocations is None:
            raise AuthenticationError(reason="the revocation list cannot be read")
        if revocations.revokes(jti=jti, digest=key.hex(), sub=sub, iat=iat):
            raise AuthenticationError(reason="the token has been revoked")

    def _refresh(self) -> None:
        """Reload the JWKS and the revocation list when they changed (looked at once a second)."""
        with self._refresh_lock:
            if self._jwks_watch.changed():
                try:
                    self.reload()
                except KeySetError:
                    log.warning("HUB_JWKS_PATH cannot be loaded; every token is refused")
                    self._keys = {}
                    self._verified.clear()
            self._refresh_revocations()

    def _refresh_revocations(self) -> None:
        watch = self._revocation_watch
        if watch is None or not watch.changed():
            return
        try:
            self._revocations = RevocationList.load(watch.path)
        except (OSError, ValueError):
            log.warning("HUB_TOKEN_REVOCATION_PATH cannot be read; every token is refused")
            self._revocations = None

    def verify_claims(self, token: str) -> dict[str, Any]:
        """Return the verified claims of a token or raise ``AuthenticationError``."""
        if not token or len(token) > _MAX_TOKEN_BYTES:
            raise AuthenticationError(reason="the token is empty or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError(reason="the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise AuthenticationError(reason="the signing algorithm is not ES256 or RS256")
        key = self._select_key(header.get("kid"))
        if key.algorithm_name != algorithm:
            raise AuthenticationError(reason="the algorithm does not fit the signing key")
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
        except jwt.PyJWTError as error:
            raise AuthenticationError(reason=_reason(error)) from None
        return claims

    def _select_key(self, kid: object) -> jwt.PyJWK:
        if kid is None:
            if len(self._keys) != 1:
                raise AuthenticationError(reason="the token names no key (kid)")
            return next(iter(self._keys.values()))
        if not isinstance(kid, str) or kid not in self._keys:
            raise AuthenticationError(reason="the token's key (kid) is not in the JWKS")
        return self._keys[kid]


def _reason(error: jwt.PyJWTError) -> str:
    """A short reason for a refused token, without the token or any claim value."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return "the token has expired"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "the token is not valid yet (nbf or iat in the future)"
    if isinstance(error, jwt.InvalidAudienceError):
        return "wrong audience (aud is not this server's FHIR base URL)"
    if isinstance(error, jwt.InvalidIssuerError):
        return "wrong issuer (iss)"
    if isinstance(error, jwt.InvalidSignatureError):
        return "the signature does not verify"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"missing claim {error.claim}"
    if isinstance(error, jwt.DecodeError):
        return "the token is not a well-formed JWT"
    return "the token is not valid"


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
