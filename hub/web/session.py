"""Sign-in for the clinician page: the bearer token lives in a cookie the page cannot read.

The cookie `hub_session` holds the token (HttpOnly, SameSite=Strict, Secure over https,
Path=/). Every POST form carries a CSRF token: an HMAC of the session token under a key
derived from HUB_PATIENT_ID_SECRET, compared in constant time. With HUB_WEB_DEMO_USERS the
sign-in page offers the demo users, whose tokens are signed with the development key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from fastapi import Request

from hub.auth import load_signing_key, mint_token
from hub.errors import Forbidden, Unauthorized
from hub.settings import Settings

__all__ = [
    "COOKIE",
    "DEMO_USERS",
    "DemoUser",
    "csrf_token",
    "demo_token",
    "require_csrf",
    "session_token",
]

COOKIE = "hub_session"
SESSION_HOURS = 8


@dataclass(frozen=True)
class DemoUser:
    key: str
    label: str
    subject: str
    scopes: tuple[str, ...]
    care_provider: str | None
    care_unit: str | None
    role: str | None = None


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(
        "sjukskoterska",
        "Kommunsjuksköterska, Hemsjukvård Väster Örebro",
        "SE2120002122-P001",
        ("user/*.read", "user/*.write"),
        "SE2120002122-0000",
        "SE2120002122-1001",
    ),
    DemoUser(
        "distriktslakare",
        "Distriktsläkare, Vårdcentral Tybble",
        "SE2321000164-P001",
        ("user/*.read", "user/*.write"),
        "SE2321000164-0000",
        "SE2321000164-7381",
        "201011",
    ),
    DemoUser(
        "sjukhuslakare",
        "Sjukhusläkare, USÖ geriatrisk avdelning 73",
        "SE2321000164-P004",
        ("user/*.read", "user/*.write"),
        "SE2321000164-0000",
        "SE2321000164-7382",
        "201010",
    ),
    DemoUser(
        "anhorig",
        "Anhörig med samtycke (dotter)",
        "194508141233",
        ("patient/*.read",),
        None,
        None,
    ),
)


def _csrf_key(settings: Settings) -> bytes:
    return hashlib.sha256(b"hub-web-csrf\x00" + settings.patient_id_secret.encode()).digest()


def csrf_token(settings: Settings, session: str) -> str:
    return hmac.new(_csrf_key(settings), session.encode(), hashlib.sha256).hexdigest()[:40]


def session_token(request: Request) -> str | None:
    token = request.cookies.get(COOKIE)
    return token if token else None


def require_csrf(request: Request, settings: Settings, given: str | None) -> str:
    """The session token, if the form's CSRF token matches it; else 403."""
    session = session_token(request)
    if session is None:
        raise Unauthorized("Sign in first")
    if not given or not hmac.compare_digest(csrf_token(settings, session), given):
        raise Forbidden("The form is out of date; reload the page and try again")
    return session


def demo_token(settings: Settings, user: DemoUser, served_base_url: str) -> str:
    """A development token for a demo user (HUB_WEB_DEMO_USERS only), for the audience
    this server checks: HUB_TOKEN_AUDIENCE, else the FHIR base URL it serves."""
    key = load_signing_key(Path(settings.token_signing_key_path))
    audience = settings.token_audience or settings.base_url or served_base_url
    return mint_token(
        key,
        issuer=settings.token_issuer,
        audience=audience,
        subject=user.subject,
        scopes=user.scopes,
        care_unit=user.care_unit,
        care_provider=user.care_provider,
        role=user.role,
        lifetime=timedelta(hours=SESSION_HOURS),
    )
