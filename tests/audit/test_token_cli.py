"""``hub token``: keys, minted tokens that the hub's verifier accepts, demo tokens."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from hub.auth import TokenVerifier
from hub.auth.cli import app, demo_tokens, parse_lifetime
from hub.settings import Settings

ISSUER = "urn:hub:test-issuer"
AUDIENCE = "https://hub.example.se/fhir"
runner = CliRunner()


@pytest.fixture
def paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    key_path = tmp_path / "keys" / "token-signing-key.pem"
    jwks_path = tmp_path / "keys" / "jwks.json"
    monkeypatch.setenv("HUB_TOKEN_SIGNING_KEY_PATH", str(key_path))
    monkeypatch.setenv("HUB_JWKS_PATH", str(jwks_path))
    monkeypatch.setenv("HUB_TOKEN_ISSUER", ISSUER)
    monkeypatch.setenv("HUB_TOKEN_AUDIENCE", AUDIENCE)
    return key_path, jwks_path


def kids(jwks_path: Path) -> list[str]:
    return [key["kid"] for key in orjson.loads(jwks_path.read_bytes())["keys"]]


def test_keygen_writes_a_private_key_and_keeps_it_unless_forced(
    paths: tuple[Path, Path],
) -> None:
    key_path, jwks_path = paths
    assert runner.invoke(app, ["keygen"]).exit_code == 0
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    original = kids(jwks_path)
    kept = runner.invoke(app, ["keygen"])
    assert "kept" in kept.output and kids(jwks_path) == original
    jwks_path.unlink()
    runner.invoke(app, ["keygen"])
    assert kids(jwks_path) == original
    runner.invoke(app, ["keygen", "--rotate"])
    rotated = kids(jwks_path)
    assert len(rotated) == 2 and rotated[0] == original[0]
    runner.invoke(app, ["keygen", "--force"])
    assert len(kids(jwks_path)) == 1 and kids(jwks_path)[0] not in rotated


def test_created_user_token_verifies(paths: tuple[Path, Path]) -> None:
    _, jwks_path = paths
    runner.invoke(app, ["keygen"])
    result = runner.invoke(
        app,
        [
            "create",
            "--sub",
            "SE2321000164-P001",
            "--care-unit",
            "SE2321000164-7381",
            "--care-provider",
            "SE2321000164-0000",
            "--role",
            "201011",
            "--scope",
            "user/*.read user/Observation.write",
            "--lifetime",
            "30m",
        ],
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    verifier = TokenVerifier(jwks_path, ISSUER, AUDIENCE)
    principal = verifier.verify(token)
    assert principal.kind == "user"
    assert principal.subject == "SE2321000164-P001"
    assert principal.role == "201011"
    assert principal.can_write("Observation") and not principal.can_write("Condition")
    claims = verifier.verify_claims(token)
    assert claims["exp"] - claims["iat"] == 1800


def test_created_token_honours_issuer_and_audience_options(paths: tuple[Path, Path]) -> None:
    _, jwks_path = paths
    runner.invoke(app, ["keygen"])
    result = runner.invoke(
        app,
        [
            "create",
            "--sub",
            "SE2120002122-S001",
            "--care-provider",
            "SE2120002122-0000",
            "--scope",
            "system/*.*",
            "--issuer",
            "urn:other",
            "--audience",
            "https://other.example.se/fhir",
        ],
    )
    assert result.exit_code == 0, result.output
    verifier = TokenVerifier(jwks_path, "urn:other", "https://other.example.se/fhir")
    assert verifier.verify(result.stdout.strip()).kind == "system"


@pytest.mark.parametrize(
    "arguments",
    [
        ["--sub", "SE2321000164-P001", "--scope", "user/*.read"],
        ["--sub", "x", "--care-unit", "nope", "--care-provider", "SE2321000164-0000"],
        ["--sub", "x", "--care-provider", "SE2321000164-0000", "--scope", "user/*.read system/*.*"],
    ],
)
def test_claims_the_hub_would_reject_are_refused(
    paths: tuple[Path, Path], arguments: list[str]
) -> None:
    runner.invoke(app, ["keygen"])
    if "--scope" not in arguments:
        arguments = [*arguments, "--scope", "user/*.read"]
    result = runner.invoke(app, ["create", *arguments])
    assert result.exit_code == 2
    assert "reject" in result.output


def test_create_without_a_key_asks_for_keygen(paths: tuple[Path, Path]) -> None:
    result = runner.invoke(
        app,
        ["create", "--sub", "s", "--care-provider", "SE2321000164-0000", "--scope", "system/*.*"],
    )
    assert result.exit_code == 2
    assert "hub token keygen" in result.output


def test_demo_tokens_verify_as_the_six_demo_callers(paths: tuple[Path, Path]) -> None:
    _, jwks_path = paths
    tokens = demo_tokens()
    assert len(tokens) == 6
    verifier = TokenVerifier(jwks_path, ISSUER, AUDIENCE)
    principals = [verifier.verify(token) for _, token in tokens]
    kinds = ["user", "user", "system", "system", "user", "representative"]
    assert [p.kind for p in principals] == kinds
    nurse, physician, region, municipality, hospital, relative = principals
    assert hospital.care_unit == "SE2321000164-7382"
    assert relative.care_unit is None and relative.care_provider is None
    assert (nurse.subject, nurse.care_unit, nurse.care_provider) == (
        "SE2120002122-P001",
        "SE2120002122-1001",
        "SE2120002122-0000",
    )
    assert nurse.can_write("Observation")
    assert (physician.care_unit, physician.role) == ("SE2321000164-7381", "201011")
    assert (region.subject, region.care_unit) == ("SE2321000164-S001", "SE2321000164-7382")
    assert (municipality.subject, municipality.care_provider) == (
        "SE2120002122-S001",
        "SE2120002122-0000",
    )
    assert "Tybble" in tokens[1][0]
    assert demo_tokens()[0][0] == tokens[0][0]  # the key is reused, not replaced
    assert len(orjson.loads(jwks_path.read_bytes())["keys"]) == 1


def test_demo_tokens_follow_the_settings_given(paths: tuple[Path, Path], tmp_path: Path) -> None:
    settings = Settings(
        base_url="https://hub.example.se/fhir",
        token_signing_key_path=str(tmp_path / "other" / "key.pem"),
        jwks_path=str(tmp_path / "other" / "jwks.json"),
        token_issuer="urn:settings",
        token_audience=None,
    )
    tokens = demo_tokens(settings)
    verifier = TokenVerifier(settings.jwks_path, "urn:settings", "https://hub.example.se/fhir")
    assert verifier.verify(tokens[0][1]).kind == "user"


def test_lifetimes() -> None:
    assert parse_lifetime("8h") == timedelta(hours=8)
    assert parse_lifetime("30m") == timedelta(minutes=30)
    assert parse_lifetime("1d") == timedelta(days=1)
    assert parse_lifetime("90") == timedelta(seconds=90)
    for bad in ("0h", "8w", "-1h", "8d", ""):
        with pytest.raises(ValueError):
            parse_lifetime(bad)
