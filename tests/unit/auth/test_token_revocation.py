"""Revocation: a revoked token, jti or subject is refused within one look (one second)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from hub.auth import AuthenticationError, SigningKey, TokenVerifier, generate_signing_key
from hub.auth.keys import mint_token
from hub.auth.revocation import RevocationList, WatchedFile, revoke, token_digest
from hub.cli import app as cli

ISSUER = "https://idp.example.se"
AUDIENCE = "https://hub.example.se/fhir"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _token(key: SigningKey, subject: str = "SE2321000016-E001", **extra: object) -> str:
    return mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=subject,
        scopes=["user/*.read"],
        care_unit="SE2321000016-U001",
        care_provider="SE2321000016-P001",
        extra_claims=dict(extra) or None,
    )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[SigningKey, TokenVerifier, Path, Clock]:
    key = generate_signing_key(tmp_path / "key.pem", tmp_path / "jwks.json")
    clock = Clock()
    revoked = tmp_path / "revoked.json"
    verifier = TokenVerifier(
        tmp_path / "jwks.json", ISSUER, AUDIENCE, revocation_path=revoked, clock=clock
    )
    return key, verifier, revoked, clock


def test_minted_tokens_carry_a_unique_jti(
    setup: tuple[SigningKey, TokenVerifier, Path, Clock],
) -> None:
    key = setup[0]
    first, second = (jwt.decode(_token(key), options={"verify_signature": False}) for _ in "ab")
    assert first["jti"] and first["jti"] != second["jti"]


def test_a_cached_token_revoked_by_jti_is_refused_after_the_next_look(
    setup: tuple[SigningKey, TokenVerifier, Path, Clock],
) -> None:
    key, verifier, revoked, clock = setup
    token = _token(key)
    assert verifier.verify(token).subject == "SE2321000016-E001"  # now cached
    claims = jwt.decode(token, options={"verify_signature": False})
    revoke(revoked, jti=claims["jti"], expires_at=claims["exp"])
    clock.now += 0.5
    assert verifier.verify(token)  # not looked at yet: inside the one-second window
    clock.now += 0.5
    with pytest.raises(AuthenticationError):
        verifier.verify(token)


def test_revoking_a_subject_refuses_its_earlier_tokens_but_not_later_ones(
    setup: tuple[SigningKey, TokenVerifier, Path, Clock],
) -> None:
    key, verifier, revoked, clock = setup
    before = _token(key, iat=int(time.time()) - 10, nbf=int(time.time()) - 10)
    other = _token(key, subject="SE2321000016-E002")
    verifier.verify(before)
    revoke(revoked, sub="SE2321000016-E001", now=time.time() - 5)
    clock.now += 1.0
    with pytest.raises(AuthenticationError):
        verifier.verify(before)
    assert verifier.verify(other).subject == "SE2321000016-E002"
    later = _token(key)
    assert verifier.verify(later).subject == "SE2321000016-E001"


def test_a_token_without_jti_is_revoked_by_its_digest(
    setup: tuple[SigningKey, TokenVerifier, Path, Clock],
) -> None:
    key, verifier, revoked, clock = setup
    claims = jwt.decode(_token(key), options={"verify_signature": False})
    del claims["jti"]  # an issuer that sets no jti
    token = jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})
    verifier.verify(token)
    revoke(revoked, digest=token_digest(token))
    clock.now += 1.0
    with pytest.raises(AuthenticationError):
        verifier.verify(token)


def test_an_unreadable_revocation_list_refuses_every_token(
    setup: tuple[SigningKey, TokenVerifier, Path, Clock],
) -> None:
    key, verifier, revoked, clock = setup
    token = _token(key)
    verifier.verify(token)
    revoked.write_text("{not json")
    clock.now += 1.0
    with pytest.raises(AuthenticationError):
        verifier.verify(token)
    revoked.unlink()
    clock.now += 1.0
    assert verifier.verify(token)


def test_a_key_removed_from_the_jwks_stops_its_cached_tokens_within_a_second(
    setup: tuple[SigningKey, TokenVerifier, Path, Clock], tmp_path: Path
) -> None:
    key, verifier, _, clock = setup
    token = _token(key)
    verifier.verify(token)
    generate_signing_key(tmp_path / "key.pem", tmp_path / "jwks.json")
    clock.now += 1.0
    with pytest.raises(AuthenticationError):
        verifier.verify(token)


def test_watched_file_looks_at_most_once_per_interval(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "watched"
    watch = WatchedFile(path, 1.0, clock)
    assert watch.changed() is False  # missing, as before
    path.write_text("a")
    assert watch.changed() is False  # inside the interval: not looked at
    clock.now += 1.0
    assert watch.changed() is True
    clock.now += 1.0
    assert watch.changed() is False
    os.utime(path, ns=(1, 1))
    clock.now += 1.0
    assert watch.changed() is True


def test_revoke_drops_entries_of_expired_tokens(tmp_path: Path) -> None:
    path = tmp_path / "revoked.json"
    revoke(path, jti="old", expires_at=100.0, now=50.0)
    revoke(path, jti="new", expires_at=10_000.0, now=200.0)
    assert RevocationList.load(path).jti == frozenset({"new"})


def test_cli_revoke_by_token_names_no_subject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_signing_key(tmp_path / "key.pem", tmp_path / "jwks.json")
    path = tmp_path / "revoked.json"
    monkeypatch.setenv("HUB_TOKEN_REVOCATION_PATH", str(path))
    token = _token(key)
    result = CliRunner().invoke(cli, ["token", "revoke", "--token", token])
    assert result.exit_code == 0, result.output
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert RevocationList.load(path).jti == frozenset({jti})
    result = CliRunner().invoke(cli, ["token", "revoke", "--sub", "19121212-1212"])
    assert result.exit_code == 0 and "19121212" not in result.output
    assert "19121212-1212" in RevocationList.load(path).subjects
    refused = CliRunner().invoke(cli, ["token", "revoke"])
    assert refused.exit_code == 2 and "exactly one" in refused.output
