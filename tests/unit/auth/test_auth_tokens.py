"""Token verification: every bad token gets the same AuthenticationError."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hub.auth import (
    AuthenticationError,
    KeySetError,
    SigningKey,
    TokenVerifier,
    generate_signing_key,
    load_signing_key,
    mint_token,
)

ISSUER = "https://idp.example.se"
AUDIENCE = "https://hub.example.se/fhir"
UNIT = "SE2321000016-U001"
PROVIDER = "SE2321000016-P001"
EMPLOYEE = "SE2321000016-E001"


@dataclass(frozen=True)
class Keys:
    es256: SigningKey
    rs256: SigningKey
    jwks_path: Path
    private_path: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    folder = tmp_path_factory.mktemp("keys")
    jwks = folder / "jwks.json"
    es256 = generate_signing_key(folder / "es256.pem", jwks, "ES256")
    rs256 = generate_signing_key(folder / "rs256.pem", jwks, "RS256", keep_existing=True)
    yield Keys(es256, rs256, jwks, folder / "es256.pem")


@pytest.fixture(scope="module")
def verifier(keys: Keys) -> TokenVerifier:
    return TokenVerifier(keys.jwks_path, ISSUER, AUDIENCE)


def _user_token(key: SigningKey, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": EMPLOYEE,
        "scopes": ["user/*.read"],
        "care_unit": UNIT,
        "care_provider": PROVIDER,
        "role": "201011",
    }
    arguments.update(overrides)
    return mint_token(key, **arguments)  # type: ignore[arg-type]


def test_es256_user_token_gives_a_user_principal(keys: Keys, verifier: TokenVerifier) -> None:
    principal = verifier.verify(_user_token(keys.es256))
    assert principal.kind == "user"
    assert (principal.subject, principal.care_unit, principal.care_provider) == (
        EMPLOYEE,
        UNIT,
        PROVIDER,
    )
    assert principal.role == "201011"
    assert principal.can_read("CarePlan")


def test_rs256_system_token_gives_a_system_principal(keys: Keys, verifier: TokenVerifier) -> None:
    token = _user_token(
        keys.rs256, subject="journal-client", scopes=["system/*.*"], care_unit=None, role=None
    )
    principal = verifier.verify(token)
    assert principal.kind == "system"
    assert principal.care_unit is None
    assert principal.can_write("CarePlan")


def test_representative_token_carries_no_assignment(keys: Keys, verifier: TokenVerifier) -> None:
    token = _user_token(keys.es256, subject="191212121212", scopes=["patient/*.read"])
    principal = verifier.verify(token)
    assert principal.kind == "representative"
    assert principal.care_unit is None and principal.care_provider is None


def test_key_written_to_disk_loads_with_the_same_kid(keys: Keys) -> None:
    loaded = load_signing_key(keys.private_path)
    assert loaded.kid == keys.es256.kid
    assert loaded.algorithm == "ES256"


def test_private_key_file_is_readable_by_the_owner_only(keys: Keys) -> None:
    assert keys.private_path.stat().st_mode & 0o077 == 0


def test_jwks_file_holds_public_keys_only(keys: Keys) -> None:
    document = orjson.loads(keys.jwks_path.read_bytes())
    assert {key["kid"] for key in document["keys"]} == {keys.es256.kid, keys.rs256.kid}
    assert all("d" not in key for key in document["keys"])


def _rejected(verifier: TokenVerifier, token: str) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        verifier.verify(token)
    return caught.value


def test_expired_token_is_rejected(keys: Keys, verifier: TokenVerifier) -> None:
    past = datetime.now(UTC) - timedelta(hours=3)
    error = _rejected(verifier, _user_token(keys.es256, now=past))
    assert error.status_code == 401


def test_token_issued_in_the_future_is_rejected(keys: Keys, verifier: TokenVerifier) -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    assert _rejected(verifier, _user_token(keys.es256, now=future)).status_code == 401


def test_token_within_the_leeway_is_accepted(keys: Keys, verifier: TokenVerifier) -> None:
    slightly_ahead = datetime.now(UTC) + timedelta(seconds=10)
    assert verifier.verify(_user_token(keys.es256, now=slightly_ahead)).subject == EMPLOYEE


def test_wrong_audience_is_rejected(keys: Keys, verifier: TokenVerifier) -> None:
    _rejected(verifier, _user_token(keys.es256, audience="https://other.example.se/fhir"))


def test_wrong_issuer_is_rejected(keys: Keys, verifier: TokenVerifier) -> None:
    _rejected(verifier, _user_token(keys.es256, issuer="https://evil.example.se"))


def test_token_signed_by_an_unknown_key_is_rejected(
    keys: Keys, verifier: TokenVerifier, tmp_path: Path
) -> None:
    stranger = generate_signing_key(tmp_path / "other.pem")
    forged = SigningKey(stranger.private_key, "ES256", keys.es256.kid)
    _rejected(verifier, _user_token(forged))
    _rejected(verifier, _user_token(stranger))


def test_tampered_payload_is_rejected(keys: Keys, verifier: TokenVerifier) -> None:
    header, payload, signature = _user_token(keys.es256).split(".")
    claims = orjson.loads(jwt.utils.base64url_decode(payload))
    claims["care_unit"] = "SE2321000016-U999"
    forged_payload = jwt.utils.base64url_encode(orjson.dumps(claims)).decode()
    _rejected(verifier, f"{header}.{forged_payload}.{signature}")


def test_unsigned_token_is_rejected(verifier: TokenVerifier) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": EMPLOYEE, "scope": "user/*.read"}
    _rejected(verifier, jwt.encode(claims, key="", algorithm="none"))


def test_hs256_token_using_the_public_key_as_secret_is_rejected(
    keys: Keys, verifier: TokenVerifier
) -> None:
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": EMPLOYEE, "iat": now, "exp": now + 60}
    token = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": keys.es256.kid})
    _rejected(verifier, token)


def test_algorithm_not_matching_the_key_is_rejected(keys: Keys, verifier: TokenVerifier) -> None:
    mismatched = SigningKey(keys.rs256.private_key, "RS256", keys.es256.kid)
    _rejected(verifier, _user_token(mismatched))


@pytest.mark.parametrize("missing", ["care_unit", "care_provider"])
def test_user_token_without_assignment_is_rejected(
    keys: Keys, verifier: TokenVerifier, missing: str
) -> None:
    _rejected(verifier, _user_token(keys.es256, **{missing: None}))


def test_token_mixing_user_and_system_scopes_is_rejected(
    keys: Keys, verifier: TokenVerifier
) -> None:
    _rejected(verifier, _user_token(keys.es256, scopes=["user/*.read", "system/*.*"]))


def test_token_without_resource_scopes_is_rejected(keys: Keys, verifier: TokenVerifier) -> None:
    _rejected(verifier, _user_token(keys.es256, scopes=["openid"]))


def test_malformed_care_unit_is_rejected(keys: Keys, verifier: TokenVerifier) -> None:
    _rejected(verifier, _user_token(keys.es256, care_unit="<script>"))


def test_token_without_expiry_is_rejected(keys: Keys, verifier: TokenVerifier) -> None:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": EMPLOYEE,
        "iat": int(datetime.now(UTC).timestamp()),
        "scope": "user/*.read",
        "care_unit": UNIT,
        "care_provider": PROVIDER,
    }
    token = jwt.encode(
        claims, keys.es256.private_key, algorithm="ES256", headers={"kid": keys.es256.kid}
    )
    _rejected(verifier, token)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "x" * 20_000])
def test_garbage_is_rejected(verifier: TokenVerifier, garbage: str) -> None:
    _rejected(verifier, garbage)


def test_error_message_is_generic_and_never_echoes_the_token(
    keys: Keys, verifier: TokenVerifier
) -> None:
    token = _user_token(keys.es256, audience="https://other.example.se")
    error = _rejected(verifier, token)
    assert str(error) == "Authentication failed"
    assert token not in repr(error.args)
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_missing_jwks_file_is_a_key_set_error(tmp_path: Path) -> None:
    with pytest.raises(KeySetError):
        TokenVerifier(tmp_path / "absent.json", ISSUER, AUDIENCE)


def test_jwks_with_private_material_is_refused(keys: Keys, tmp_path: Path) -> None:
    private_key = keys.es256.private_key
    assert isinstance(private_key, ec.EllipticCurvePrivateKey)
    private_jwk = orjson.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key))
    path = tmp_path / "jwks.json"
    path.write_bytes(orjson.dumps({"keys": [private_jwk]}))
    with pytest.raises(KeySetError):
        TokenVerifier(path, ISSUER, AUDIENCE)


def test_token_without_kid_uses_the_only_key(tmp_path: Path) -> None:
    key = generate_signing_key(tmp_path / "solo.pem", tmp_path / "solo.json")
    document = orjson.loads((tmp_path / "solo.json").read_bytes())
    del document["keys"][0]["kid"]
    (tmp_path / "solo.json").write_bytes(orjson.dumps(document))
    verifier = TokenVerifier(tmp_path / "solo.json", ISSUER, AUDIENCE)
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": EMPLOYEE,
        "iat": now,
        "exp": now + 60,
        "scope": "user/*.read",
        "care_unit": UNIT,
        "care_provider": PROVIDER,
    }
    token = jwt.encode(claims, key.private_key, algorithm="ES256")
    assert verifier.verify(token).subject == EMPLOYEE


def test_reload_picks_up_a_rotated_key(keys: Keys, tmp_path: Path) -> None:
    jwks = tmp_path / "rotating.json"
    generate_signing_key(tmp_path / "old.pem", jwks)
    verifier = TokenVerifier(jwks, ISSUER, AUDIENCE)
    new = generate_signing_key(tmp_path / "new.pem", jwks, keep_existing=True)
    _rejected(verifier, _user_token(new))
    verifier.reload()
    assert verifier.verify(_user_token(new)).subject == EMPLOYEE


def test_a_cached_token_is_refused_once_it_expires(keys: Keys) -> None:
    verifier = TokenVerifier(
        keys.jwks_path, ISSUER, AUDIENCE, leeway=timedelta(0), cache_seconds=3600
    )
    issued = datetime.now(UTC) - timedelta(seconds=59)
    token = _user_token(keys.es256, now=issued, lifetime=timedelta(seconds=61))
    assert verifier.verify(token).subject == EMPLOYEE
    assert verifier.verify(token).subject == EMPLOYEE  # served from the cache
    time.sleep(max(0.0, issued.timestamp() + 61 - time.time()) + 0.2)
    _rejected(verifier, token)


def test_reload_forgets_tokens_of_a_removed_key(keys: Keys, tmp_path: Path) -> None:
    jwks = tmp_path / "shrinking.json"
    old = generate_signing_key(tmp_path / "old.pem", jwks)
    verifier = TokenVerifier(jwks, ISSUER, AUDIENCE, cache_seconds=3600)
    token = _user_token(old)
    assert verifier.verify(token).subject == EMPLOYEE
    generate_signing_key(tmp_path / "replacement.pem", jwks)  # the file now holds only the new key
    verifier.reload()
    _rejected(verifier, token)


def test_a_token_is_verified_once_and_then_served_from_the_cache(
    keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(keys.jwks_path, ISSUER, AUDIENCE)
    token = _user_token(keys.es256)
    checks: list[str] = []
    full_check = verifier.verify_claims

    def counted(text: str) -> dict[str, object]:
        checks.append(text)
        return full_check(text)

    monkeypatch.setattr(verifier, "verify_claims", counted)
    for _ in range(5):
        assert verifier.verify(token).subject == EMPLOYEE
    assert len(checks) == 1
    _rejected(verifier, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert len(checks) == 2, "a different token is checked in full, never taken from the cache"
