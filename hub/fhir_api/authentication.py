"""Bearer-token authentication of FHIR requests (HUB_AUTH, HUB_JWKS_PATH, HUB_TOKEN_*).

The audience is HUB_TOKEN_AUDIENCE, else the FHIR base URL (HUB_BASE_URL, else the base URL
the request came in on). Any failure is one 401 with a generic message: the client learns
nothing about why its token was refused, and nothing about the token is logged.
"""

from __future__ import annotations

import logging
import threading

from fastapi import Request

from hub.auth import AuthenticationError, KeySetError, Principal, TokenVerifier
from hub.errors import Unauthorized
from hub.settings import Settings

log = logging.getLogger("hub.auth")


class Authenticator:
    """Turns the Authorization header into a Principal, or raises Unauthorized."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._verifiers: dict[str, TokenVerifier] = {}
        self._lock = threading.Lock()
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self._settings.auth != "off"

    def _verifier(self, audience: str) -> TokenVerifier:
        verifier = self._verifiers.get(audience)
        if verifier is not None:
            return verifier
        with self._lock:
            try:
                verifier = TokenVerifier(
                    self._settings.jwks_path,
                    self._settings.token_issuer,
                    audience,
                    revocation_path=self._settings.token_revocation_path,
                )
            except KeySetError:
                if not self._warned:
                    log.warning(
                        "HUB_JWKS_PATH does not name a readable JWKS file; "
                        "every authenticated request is refused"
                    )
                    self._warned = True
                raise Unauthorized("Authentication failed") from None
            self._verifiers[audience] = verifier
            return verifier

    def verify_token(self, token: str, base_url: str) -> Principal:
        """The principal of a bearer token given outside the Authorization header (the web
        page's session cookie); Unauthorized on any failure."""
        audience = self._settings.token_audience or base_url
        try:
            return self._verifier(audience).verify(token.strip())
        except AuthenticationError:
            raise Unauthorized("Authentication failed") from None

    def principal(self, request: Request, base_url: str) -> Principal | None:
        """The caller, or None when HUB_AUTH=off."""
        if not self.enabled:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("A bearer token is required")
        audience = self._settings.token_audience or base_url
        try:
            return self._verifier(audience).verify(token.strip())
        except AuthenticationError:
            raise Unauthorized("Authentication failed") from None
