"""Errors raised by the adapters; intake turns each into a quarantine entry.

    AdapterError                   code (stable, machine readable)
    ├── ParseError                 bytes could not be read as the source format
    │   ├── InputTooLarge            "too-large"
    │   ├── MalformedInput           "xml-malformed", "csv-malformed", "hl7-malformed", ...
    │   ├── ForbiddenEntity          "xml-forbidden-entity" (DOCTYPE, ENTITY, XXE)
    │   ├── SchemaViolation          "schema" (XSD or record-structure violation)
    │   ├── UnsupportedVersion       "unsupported-version" (another contract version)
    │   └── MissingElement           "missing-element"
    ├── InvalidValue               a single value has the wrong form (either stage)
    │   ├── InvalidIdentifier        "invalid-identifier" (personnummer, samordningsnummer, ...)
    │   │   └── CenturyNotWritten        ten digits without '-' or '+': the century is open
    │   └── InvalidTimestamp         "invalid-timestamp"
    └── TranslateError             parsed records could not become FHIR
        └── UnmappedCode             "unmapped-code" (names table, code system and code)

Every error carries `code`, `location` (file name plus line, or an XML path such as
/GetCarePlansResponse/carePlan[2]/carePlanHeader/patientId) and a human `message`.
Messages and locations never contain patient data (no personnummer, no names); codes
from code systems are not patient data and are named.
"""

from __future__ import annotations

from typing import Self

__all__ = [
    "AdapterError",
    "CenturyNotWritten",
    "ForbiddenEntity",
    "InputTooLarge",
    "InvalidIdentifier",
    "InvalidTimestamp",
    "InvalidValue",
    "MalformedInput",
    "MissingElement",
    "ParseError",
    "SchemaViolation",
    "TranslateError",
    "UnmappedCode",
    "UnsupportedVersion",
]


class AdapterError(Exception):
    """Base of every error an adapter raises for bad input."""

    default_code: str = "adapter-error"

    def __init__(self, message: str, *, code: str | None = None, location: str | None = None):
        super().__init__(message)
        self.message = message
        self.code: str = code or self.default_code
        self.location: str | None = location

    def at(self, location: str) -> Self:
        """Set the location if none is known yet; returns self so it can be re-raised."""
        if self.location is None:
            self.location = location
        return self

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location else ""
        return f"{self.code}: {self.message}{where}"

    def as_dict(self) -> dict[str, str | None]:
        """The error as JSON-ready data (what golden expected-error.json files hold)."""
        return {"code": self.code, "location": self.location, "message": self.message}


class ParseError(AdapterError):
    """The bytes could not be read as the source format."""

    default_code = "parse-error"


class InputTooLarge(ParseError):
    """The input is larger than the configured byte limit."""

    default_code = "too-large"


class MalformedInput(ParseError):
    """The input is not well-formed (XML syntax, CSV quoting, HL7 v2 segments)."""

    default_code = "xml-malformed"


class ForbiddenEntity(ParseError):
    """The XML declares a DOCTYPE or an ENTITY (XXE, billion laughs): refused outright."""

    default_code = "xml-forbidden-entity"


class SchemaViolation(ParseError):
    """The input breaks the source schema (XSD) or the expected record structure."""

    default_code = "schema"


class UnsupportedVersion(ParseError):
    """The input is another contract or format version than the adapter reads."""

    default_code = "unsupported-version"


class MissingElement(ParseError):
    """A required element or field is absent."""

    default_code = "missing-element"


class InvalidValue(AdapterError):
    """A single value has the wrong form; raised by value checks in either stage."""

    default_code = "invalid-value"


class InvalidIdentifier(InvalidValue):
    """A person identifier fails its format, date or check-digit test (never echoed)."""

    default_code = "invalid-identifier"


class CenturyNotWritten(InvalidIdentifier):
    """Ten digits without a separator: the century is not written, and only the separator
    ('-' under 100 years of age, '+' from 100) could tell it (DOMAIN.md section 6)."""


class InvalidTimestamp(InvalidValue):
    """A date or timestamp has the wrong format or names a day that does not exist."""

    default_code = "invalid-timestamp"


class TranslateError(AdapterError):
    """Parsed records could not be turned into FHIR resources."""

    default_code = "translate-error"


class UnmappedCode(TranslateError):
    """A source code has no row in its mapping table; never replaced by a default."""

    default_code = "unmapped-code"

    def __init__(
        self,
        *,
        table: str,
        code_system: str | None,
        code: str,
        location: str | None = None,
    ) -> None:
        system_text = f" of code system {code_system!r}" if code_system else ""
        super().__init__(
            f"code {code!r}{system_text} has no mapping in table {table!r}",
            location=location,
        )
        self.table = table
        self.code_system = code_system
        self.source_code = code
