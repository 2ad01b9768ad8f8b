"""``hub token``: development signing keys and bearer tokens; demo tokens for ``hub demo``.

Settings (``hub.settings.Settings``, from these environment variables):

- ``HUB_TOKEN_SIGNING_KEY_PATH``: private key PEM, default ``var/keys/token-signing-key.pem``
- ``HUB_JWKS_PATH``: the JWKS the hub verifies tokens with, default ``var/keys/jwks.json``
- ``HUB_TOKEN_ISSUER``: ``iss``, default ``urn:hub:dev-issuer``
- ``HUB_TOKEN_AUDIENCE``: ``aud``, default the FHIR base URL (``HUB_BASE_URL`` or
  ``http://127.0.0.1:8000/fhir``)

Tokens minted here are for local runs and tests; production tokens come from a real issuer.
Every token is checked against the hub's claim rules before it is printed.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import orjson
import typer

from hub.auth import (
    AuthenticationError,
    SigningKey,
    generate_signing_key,
    load_signing_key,
    mint_token,
    principal_from_claims,
    public_jwk,
)
from hub.auth.revocation import revoke, token_digest
from hub.demo.users import DEMO_CLIENTS, DemoClient
from hub.settings import DEFAULT_BASE_URL, Settings

__all__ = [
    "DEFAULT_BASE_URL",
    "DemoClient",
    "TokenConfig",
    "app",
    "demo_tokens",
    "ensure_signing_key",
    "parse_lifetime",
]


app = typer.Typer(
    name="token",
    help="Development signing keys and bearer tokens (not for production issuers).",
    no_args_is_help=True,
    add_completion=False,
)


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """Where the keys are and which issuer and audience tokens carry."""

    signing_key_path: Path
    jwks_path: Path
    issuer: str
    audience: str

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> TokenConfig:
        """From ``Settings`` (read from the environment when not given).

        The audience defaults to the FHIR base URL: ``HUB_BASE_URL``, else the address
        ``hub serve`` listens on by default.
        """
        current = settings if settings is not None else Settings()
        return cls(
            signing_key_path=Path(current.token_signing_key_path),
            jwks_path=Path(current.jwks_path),
            issuer=current.token_issuer,
            audience=current.command_token_audience,
        )


_LIFETIME = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "": "seconds"}


def parse_lifetime(text: str) -> timedelta:
    """``90s``, ``30m``, ``8h``, ``1d`` or plain seconds; positive, at most 7 days."""
    match = _LIFETIME.match(text)
    if match is None:
        raise ValueError("lifetime must look like 30m, 8h or 1d")
    lifetime = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < lifetime <= timedelta(days=7):
        raise ValueError("lifetime must be positive and at most 7 days")
    return lifetime


def _write_jwks(path: Path, key: SigningKey) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        orjson.dumps({"keys": [public_jwk(key.private_key)]}, option=orjson.OPT_INDENT_2)
    )


def ensure_signing_key(
    config: TokenConfig, *, force: bool = False, rotate: bool = False
) -> tuple[SigningKey, bool]:
    """The signing key, created (with its JWKS) when absent or when forced.

    Returns the key and whether a new one was made. An existing key whose JWKS file is
    missing gets the file back. ``rotate`` makes a new key and keeps the old public keys
    in the JWKS so that tokens already issued stay valid.
    """
    if config.signing_key_path.exists() and not (force or rotate):
        key = load_signing_key(config.signing_key_path)
        if not config.jwks_path.exists():
            _write_jwks(config.jwks_path, key)
        return key, False
    key = generate_signing_key(config.signing_key_path, config.jwks_path, keep_existing=rotate)
    return key, True


def _check_claims(
    subject: str,
    scopes: list[str],
    care_unit: str | None,
    care_provider: str | None,
    role: str | None,
) -> None:
    """Raise ``AuthenticationError`` if the hub would reject a token with these claims."""
    claims: dict[str, Any] = {"sub": subject, "scope": " ".join(scopes)}
    optional = {"care_unit": care_unit, "care_provider": care_provider, "role": role}
    claims.update({name: value for name, value in optional.items() if value is not None})
    principal_from_claims(claims)


def demo_tokens(
    settings: Settings | None = None,
    lifetime: timedelta = timedelta(hours=8),
    audience: str | None = None,
) -> list[tuple[str, str]]:
    """(label, token) for each demo client (hub.demo.users.DEMO_CLIENTS, in that order);
    creates the signing key and JWKS if absent. `audience` (e.g. the base URL `hub serve`
    listens on) wins over the settings'."""
    config = TokenConfig.from_settings(settings)
    if audience is not None:
        config = dataclasses.replace(config, audience=audience)
    key, _ = ensure_signing_key(config)
    tokens: list[tuple[str, str]] = []
    for client in DEMO_CLIENTS:
        _check_claims(
            client.subject, list(client.scopes), client.care_unit, client.care_provider, client.role
        )
        token = mint_token(
            key,
            issuer=config.issuer,
            audience=config.audience,
            subject=client.subject,
            scopes=client.scopes,
            care_unit=client.care_unit,
            care_provider=client.care_provider,
            role=client.role,
            lifetime=lifetime,
        )
        tokens.append((client.label, token))
    return tokens


@app.command("keygen")
def keygen_command(
    force: bool = typer.Option(False, "--force", help="Replace an existing key and JWKS."),
    rotate: bool = typer.Option(
        False, "--rotate", help="Make a new key but keep the old public keys in the JWKS."
    ),
) -> None:
    """Write the signing key (HUB_TOKEN_SIGNING_KEY_PATH) and the JWKS (HUB_JWKS_PATH)."""
    config = TokenConfig.from_settings()
    key, created = ensure_signing_key(config, force=force, rotate=rotate)
    if created:
        typer.echo(f"signing key written: {config.signing_key_path} (kid {key.kid})")
    else:
        typer.echo(f"signing key kept: {config.signing_key_path} (kid {key.kid}); --force replaces")
    typer.echo(f"JWKS: {config.jwks_path}")


@app.command("create")
def create_command(
    sub: str = typer.Option(..., "--sub", help="Employee HSA-id or system client id."),
    scope: str = typer.Option(..., "--scope", help='Space-separated, e.g. "user/*.read".'),
    care_unit: str | None = typer.Option(None, "--care-unit", help="Care unit HSA-id."),
    care_provider: str | None = typer.Option(None, "--care-provider", help="Care provider HSA-id."),
    role: str | None = typer.Option(None, "--role", help="Role code (befattningskod)."),
    lifetime: str = typer.Option("8h", "--lifetime", help="e.g. 30m, 8h, 1d (at most 7d)."),
    audience: str | None = typer.Option(None, "--audience", help="Default HUB_TOKEN_AUDIENCE."),
    issuer: str | None = typer.Option(None, "--issuer", help="Default HUB_TOKEN_ISSUER."),
) -> None:
    """Print a signed bearer token (run `hub token keygen` first)."""
    config = TokenConfig.from_settings()
    try:
        duration = parse_lifetime(lifetime)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--lifetime") from None
    scopes = scope.split()
    try:
        _check_claims(sub, scopes, care_unit, care_provider, role)
    except AuthenticationError:
        typer.echo(
            "the hub would reject these claims: a user needs --care-unit and --care-provider "
            "(HSA-ids like SE2321000164-7381), a system --care-provider, and all scopes "
            "must share one context (user/, system/ or patient/)",
            err=True,
        )
        raise typer.Exit(2) from None
    if not config.signing_key_path.exists():
        typer.echo(
            f"signing key not found: {config.signing_key_path}; run `hub token keygen`", err=True
        )
        raise typer.Exit(2)
    token = mint_token(
        load_signing_key(config.signing_key_path),
        issuer=issuer or config.issuer,
        audience=audience or config.audience,
        subject=sub,
        scopes=scopes,
        care_unit=care_unit,
        care_provider=care_provider,
        role=role,
        lifetime=duration,
    )
    typer.echo(token)


@app.command("revoke")
def revoke_command(
    token: str | None = typer.Option(
        None, "--token", help="The token to revoke (by its jti, else by its digest)."
    ),
    jti: str | None = typer.Option(None, "--jti", help="Revoke the token with this jti."),
    sub: str | None = typer.Option(
        None, "--sub", help="Revoke every token of this subject issued until now."
    ),
) -> None:
    """Add to the revocation list (HUB_TOKEN_REVOCATION_PATH); the hub refuses within 1 s."""
    if sum(value is not None for value in (token, jti, sub)) != 1:
        typer.echo("give exactly one of --token, --jti or --sub", err=True)
        raise typer.Exit(2)
    path = Path(Settings().token_revocation_path)
    if token is not None:
        try:
            claims = jwt.decode(token.strip(), options={"verify_signature": False})
        except jwt.PyJWTError:
            typer.echo("--token is not a JWT", err=True)
            raise typer.Exit(2) from None
        expires = claims.get("exp")
        expires_at = float(expires) if isinstance(expires, int | float) else None
        token_jti = claims.get("jti")
        if isinstance(token_jti, str) and token_jti:
            revoke(path, jti=token_jti, expires_at=expires_at)
            typer.echo(f"revoked: jti {token_jti} ({path})")
        else:
            revoke(path, digest=token_digest(token.strip()), expires_at=expires_at)
            typer.echo(f"revoked: the token without jti, by its digest ({path})")
        return
    revoke(path, jti=jti, sub=sub)
    what = f"jti {jti}" if jti is not None else "every token of that subject issued until now"
    typer.echo(f"revoked: {what} ({path})")
