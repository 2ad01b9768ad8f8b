"""Development signing keys and tokens (``hub token``, ``hub demo``).

``generate_signing_key`` writes a private key PEM (mode 0600) and a JWKS file holding the
public key, with the RFC 7638 thumbprint as ``kid``. ``mint_token`` signs a token with the
claims ``TokenVerifier`` expects. Production tokens come from a real issuer; these helpers
only serve local runs and tests.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = [
    "SigningAlgorithm",
    "SigningKey",
    "generate_signing_key",
    "load_signing_key",
    "mint_token",
    "public_jwk",
]

SigningAlgorithm = Literal["ES256", "RS256"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key with its algorithm and key id."""

    private_key: PrivateKey
    algorithm: SigningAlgorithm
    kid: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(value: int, length: int | None = None) -> bytes:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(size, "big")


def public_jwk(private_key: PrivateKey) -> dict[str, str]:
    """The public JWK of a key, with ``kid`` (RFC 7638 thumbprint), ``alg`` and ``use``."""
    members: dict[str, str]
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("ES256 needs a P-256 key")
        numbers = private_key.public_key().public_numbers()
        members = {
            "crv": "P-256",
            "kty": "EC",
            "x": _b64(_int_bytes(numbers.x, 32)),
            "y": _b64(_int_bytes(numbers.y, 32)),
        }
        algorithm = "ES256"
    else:
        rsa_numbers = private_key.public_key().public_numbers()
        members = {
            "e": _b64(_int_bytes(rsa_numbers.e)),
            "kty": "RSA",
            "n": _b64(_int_bytes(rsa_numbers.n)),
        }
        algorithm = "RS256"
    thumbprint = _b64(hashlib.sha256(orjson.dumps(members, option=orjson.OPT_SORT_KEYS)).digest())
    return {**members, "kid": thumbprint, "alg": algorithm, "use": "sig"}


def _signing_key(private_key: PrivateKey) -> SigningKey:
    jwk = public_jwk(private_key)
    algorithm: SigningAlgorithm = "ES256" if jwk["alg"] == "ES256" else "RS256"
    return SigningKey(private_key=private_key, algorithm=algorithm, kid=jwk["kid"])


def generate_signing_key(
    private_key_path: str | Path,
    jwks_path: str | Path | None = None,
    algorithm: SigningAlgorithm = "ES256",
    keep_existing: bool = False,
) -> SigningKey:
    """Create a key pair; write the private PEM and a JWKS file with the public key.

    ``jwks_path`` defaults to the private key path with the suffix ``.jwks.json``. With
    ``keep_existing`` the keys already in that JWKS file are kept (key rotation).
    """
    private_path = Path(private_key_path)
    public_path = (
        Path(jwks_path) if jwks_path is not None else private_path.with_suffix(".jwks.json")
    )
    private_key: PrivateKey
    if algorithm == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    else:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    os.chmod(private_path, 0o600)
    keys: list[Any] = []
    if keep_existing and public_path.exists():
        existing = orjson.loads(public_path.read_bytes())
        keys = [key for key in existing.get("keys", []) if isinstance(key, dict)]
    keys.append(public_jwk(private_key))
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(orjson.dumps({"keys": keys}, option=orjson.OPT_INDENT_2))
    return _signing_key(private_key)


def load_signing_key(private_key_path: str | Path) -> SigningKey:
    """Load a private key PEM written by ``generate_signing_key``."""
    loaded = serialization.load_pem_private_key(Path(private_key_path).read_bytes(), None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("Only EC P-256 and RSA keys are supported")
    return _signing_key(loaded)


def mint_token(
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    subject: str,
    scopes: Iterable[str],
    care_unit: str | None = None,
    care_provider: str | None = None,
    role: str | None = None,
    lifetime: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """Sign a development token with the hub's claims."""
    issued = now if now is not None else datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
        "scope": " ".join(scopes),
    }
    optional = {"care_unit": care_unit, "care_provider": care_provider, "role": role}
    claims.update({name: value for name, value in optional.items() if value is not None})
    if extra_claims:
        claims.update(extra_claims)
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})
