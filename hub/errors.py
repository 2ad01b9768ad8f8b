"""The hub's error tree; one handler turns each into an OperationOutcome.

    HubError                      status  issue code
    ├── InvalidRequest              400   invalid
    │   └── UnknownSearchParameter  400   not-supported
    ├── Unauthorized                401   login
    ├── Forbidden                   403   forbidden
    ├── NotFound                    404   not-found
    ├── MethodNotAllowed            405   not-supported
    ├── NotAcceptable               406   not-supported
    ├── Conflict                    409   conflict
    ├── Gone                        410   deleted
    ├── PreconditionFailed          412   conflict
    ├── PayloadTooLarge             413   too-costly
    ├── UnsupportedMediaType        415   not-supported
    ├── Unprocessable               422   processing
    └── StoreUnavailable            503   transient

Messages are written for the client and never carry patient data: they name elements,
parameters and codes, not the values a client sent for a person.
"""

from __future__ import annotations

from dataclasses import dataclass

RULE_SYSTEM = "https://hub.example.se/fhir/CodeSystem/validation-rule"


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: severity, code, text and the FHIRPath of the bad element."""

    message: str
    code: str = "invalid"
    severity: str = "error"
    expression: str | None = None
    rule: str | None = None  # the validation rule broken (an invariant key, "min:<element>", ...)


class HubError(Exception):
    """Base of every error the hub answers with an OperationOutcome."""

    status: int = 500
    code: str = "exception"

    def __init__(
        self, message: str, *, expression: str | None = None, issues: list[Issue] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.issues: list[Issue] = issues or [
            Issue(message=message, code=self.code, expression=expression)
        ]


class InvalidRequest(HubError):
    """The request or its resource could not be parsed or broke basic FHIR rules."""

    status, code = 400, "invalid"


class UnknownSearchParameter(InvalidRequest):
    """A search used a parameter, modifier or prefix this server does not support."""

    code = "not-supported"


class Unauthorized(HubError):
    """No valid bearer token; `www_authenticate` is the challenge header (RFC 6750)."""

    status, code = 401, "login"
    www_authenticate = "Bearer"


class Forbidden(HubError):
    """The caller may not do this to data it can see."""

    status, code = 403, "forbidden"


class NotFound(HubError):
    """No such resource type or resource (or one the caller may not know of)."""

    status, code = 404, "not-found"


class MethodNotAllowed(HubError):
    """The interaction is not supported at this URL."""

    status, code = 405, "not-supported"


class NotAcceptable(HubError):
    """The client asked for a representation the hub cannot produce."""

    status, code = 406, "not-supported"


class Conflict(HubError):
    """A concurrent write or a resource state prevents the write."""

    status, code = 409, "conflict"


class Gone(HubError):
    """The resource was deleted; its history stays readable."""

    status, code = 410, "deleted"


class PreconditionFailed(HubError):
    """If-Match did not match, or a conditional interaction matched more than one resource."""

    status, code = 412, "conflict"


class PayloadTooLarge(HubError):
    """The request body is larger than the configured limit."""

    status, code = 413, "too-costly"


class UnsupportedMediaType(HubError):
    """The body or requested _format is not FHIR JSON."""

    status, code = 415, "not-supported"


class Unprocessable(HubError):
    """The resource is valid FHIR but breaks a business rule (e.g. a bad personnummer)."""

    status, code = 422, "processing"


class StoreUnavailable(HubError):
    """The database could not be reached or timed out."""

    status, code = 503, "transient"
