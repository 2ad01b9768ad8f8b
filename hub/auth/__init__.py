"""Authentication: bearer tokens, the request principal and SMART scopes.

The setting names ``HUB_JWKS_PATH``, ``HUB_TOKEN_ISSUER``, ``HUB_TOKEN_AUDIENCE`` and
``HUB_AUTH`` are part of the hub's interface; ``hub.settings`` reads them and passes plain
values to ``TokenVerifier``.
"""

from hub.auth.errors import AuthenticationError, KeySetError
from hub.auth.keys import (
    SigningAlgorithm,
    SigningKey,
    generate_signing_key,
    load_signing_key,
    mint_token,
    public_jwk,
)
from hub.auth.principal import (
    DIRECTORY_RESOURCE_TYPES,
    Principal,
    PrincipalKind,
    principal_from_claims,
)
from hub.auth.scopes import Context, Interaction, Scope, parse_scope, parse_scopes
from hub.auth.tokens import ALGORITHMS, TokenVerifier

__all__ = [
    "ALGORITHMS",
    "DIRECTORY_RESOURCE_TYPES",
    "AuthenticationError",
    "Context",
    "Interaction",
    "KeySetError",
    "Principal",
    "PrincipalKind",
    "Scope",
    "SigningAlgorithm",
    "SigningKey",
    "TokenVerifier",
    "generate_signing_key",
    "load_signing_key",
    "mint_token",
    "parse_scope",
    "parse_scopes",
    "principal_from_claims",
    "public_jwk",
]
