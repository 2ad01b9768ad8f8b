"""Bearer-token authentication of FHIR requests (HUB_AUTH, HUB_JWKS_PATH, HUB_TOKEN_*).

The audience is HUB_TOKEN_AUDIENCE, else the FHIR base URL (HUB_BASE_URL, else the base URL
the request came in on). In development mode (HUB_TOKEN_AUDIENCE unset and the base URL on
a loopback host) the same URL with 127.0.0.1, localhost or [::1] is accepted alike, so a
token minted for http://127.0.0.1:8000/fhir also works at http://localhost:8000/fhir.

A refused token answers 401 with an RFC 6750 challenge that says why, e.g.
`Bearer error="invalid_token", error_description="the token has expired"`, and the same
reason goes to the log (logger `hub.auth`, level INFO) with the request path; neither ever
holds the token or a claim value.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from fastapi import Request

from hub.auth import AuthenticationError, KeySetError, Principal, TokenVerifier
from hub.errors import Unauthorized
from hub.settings import Settings

log = logging.getLogger("hub.auth")

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "[::1]")


def loopback_aliases(base_url: str) -> tuple[str, ...]:
    """The base URL with each loopback host name, when its host is one; else itself."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    if shown not in LOOPBACK_HOSTS:
        return (base_url,)
    port = f":{parts.port}" if parts.port is not None else ""
    return tuple(
        urlunsplit((parts.scheme, f"{name}{port}", parts.path, parts.query, parts.fragment))
        for name in dict.fromkeys((shown, *LOOPBACK_HOSTS))
    )


def challenge(reason: str | None) -> str:
    """The WWW-Authenticate value: RFC 6750 section 3 (no error code without a token)."""
    if reason is None:
        return 'Bearer realm="hub"'
    description = reason.replace("\\", "").replace('"', "'")
    return f'Bearer realm="hub", error="invalid_token", error_description="{description}"'


def _refused(reason: str, request: Request | None) -> Unauthorized:
    if request is not None:
        log.info("401 %s %s: %s", request.method, request.url.path, reason)
    else:
        log.info("401 session token: %s", reason)
    error = Unauthorized(f"Authentication failed: {reason}")
    error.www_authenticate = challenge(reason)
    return error


class Authenticator:
    """Turns the Authorization header into a Principal, or raises Unauthorized."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._verifiers: dict[Sequence[str], TokenVerifier] = {}
        self._lock = threading.Lock()
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._settings.auth != "off"

    def audiences(self, base_url: str) -> tuple[str, ...]:
        """The accepted `aud` values for requests on this base URL."""
        if self._settings.token_audience:
            return (self._settings.token_audience,)
        return loopback_aliases(self._settings.base_url or base_url)

    def _verifier(self, audiences: tuple[str, ...], request: Request | None) -> TokenVerifier:
        verifier = self._verifiers.get(audiences)
        if verifier is not None:
            return verifier
        with self._lock:
            try:
                verifier = TokenVerifier(
                    self._settings.jwks_path,
                    self._settings.token_issuer,
                    list(audiences) if len(audiences) > 1 else audiences[0],
                    revocation_path=self._settings.token_revocation_path,
                )
            except KeySetError:
                if not self._warned:
                    log.warning(
                        "HUB_JWKS_PATH does not name a readable JWKS file; "
                        "every authenticated request is refused"
                    )
                    self._warned = True
                raise _refused(
                    "the server has no usable key set (HUB_JWKS_PATH)", request
                ) from None
            self._verifiers[audiences] = verifier
            return verifier

    def verify_token(self, token: str, base_url: str) -> Principal:
        """The principal of a bearer token given outside the Authorization header (the web
        page's session cookie); Unauthorized on any failure."""
        try:
            return self._verifier(self.audiences(base_url), None).verify(token.strip())
        except AuthenticationError as refused:
            raise _refused(refused.reason, None) from None

    def principal(self, request: Request, base_url: str) -> Principal | None:
        """The caller, or None when HUB_AUTH=off."""
        if not self.enabled:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            log.info("401 %s %s: no bearer token", request.method, request.url.path)
            error = Unauthorized("A bearer token is required")
            error.www_authenticate = challenge(None)
            raise error
        try:
            return self._verifier(self.audiences(base_url), request).verify(token.strip())
        except AuthenticationError as refused:
            raise _refused(refused.reason, request) from None
