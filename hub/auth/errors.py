"""Errors raised while authenticating a request.

Exception tree::

    AuthenticationError      any token problem: missing, malformed, expired, bad signature,
                             wrong issuer or audience, missing or malformed claims
    KeySetError              the configured JWKS file cannot be loaded (a setup problem)

``AuthenticationError.reason`` says why in a few words safe to return to a client and to
log (RFC 6750 ``error_description``: "the token has expired", "wrong audience", ...):
never the token, and no claim value.
"""

from __future__ import annotations

__all__ = ["AuthenticationError", "KeySetError"]


class AuthenticationError(Exception):
    """Raised when a request cannot be authenticated; maps to HTTP 401."""

    status_code = 401
    issue_code = "login"
    www_authenticate = 'Bearer error="invalid_token"'

    def __init__(
        self, message: str = "Authentication failed", reason: str = "the token is not valid"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class KeySetError(Exception):
    """Raised when the JWKS file is missing, unreadable or holds no usable key."""
