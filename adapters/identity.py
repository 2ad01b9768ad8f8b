"""Swedish person identifiers: personnummer and samordningsnummer, checked and canonicalised.

Canonical form is 12 digits YYYYMMDDNNNC. Accepted input: 12 digits, 12 digits with a
hyphen before the last four (YYYYMMDD-NNNC), and 10 digits with `-` or `+` (YYMMDD-NNNC;
`+` from age 100), where the century follows from the separator and a reference date.
Checks: the date exists (samordningsnummer: day + 60) and the Luhn check digit over
YYMMDDNNN. Errors never echo the number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from adapters.errors import InvalidIdentifier
from mappings.systems import HSA_SYSTEM

__all__ = [
    "HSA_SYSTEM",
    "PERSONNUMMER_SYSTEM",
    "SAMORDNINGSNUMMER_SYSTEM",
    "PersonIdentity",
    "identity_from_fhir",
    "luhn_check_digit",
    "parse_person_identity",
]

PERSONNUMMER_SYSTEM = "http://electronichealth.se/identifier/personnummer"
SAMORDNINGSNUMMER_SYSTEM = "http://electronichealth.se/identifier/samordningsnummer"

PersonKind = Literal["personnummer", "samordningsnummer"]

_SYSTEM_OF_KIND: dict[PersonKind, str] = {
    "personnummer": PERSONNUMMER_SYSTEM,
    "samordningsnummer": SAMORDNINGSNUMMER_SYSTEM,
}
_KIND_OF_SYSTEM: dict[str, PersonKind] = {
    PERSONNUMMER_SYSTEM: "personnummer",
    "urn:oid:1.2.752.129.2.1.3.1": "personnummer",
    SAMORDNINGSNUMMER_SYSTEM: "samordningsnummer",
    "urn:oid:1.2.752.129.2.1.3.3": "samordningsnummer",
}

_TWELVE = re.compile(r"(\d{8})-?(\d{4})")
_TEN = re.compile(r"(\d{6})([-+])(\d{4})")
_SAMORDNING_DAY_OFFSET = 60


@dataclass(frozen=True)
class PersonIdentity:
    """A checked personnummer or samordningsnummer in canonical 12-digit form."""

    kind: PersonKind
    value: str
    system: str

    def __repr__(self) -> str:
        # The value is patient data: keep it out of logs and tracebacks.
        return f"PersonIdentity(kind={self.kind!r}, value=<hidden>, system={self.system!r})"


def luhn_check_digit(nine_digits: str) -> int:
    """Check digit over YYMMDDNNN: weights 2,1,2,..., digit sums, (10 - sum mod 10) mod 10."""
    total = 0
    for index, char in enumerate(nine_digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _birth_date(year: int, month: int, day: int) -> tuple[date, PersonKind]:
    kind: PersonKind = "personnummer"
    if day > _SAMORDNING_DAY_OFFSET:
        kind = "samordningsnummer"
        day -= _SAMORDNING_DAY_OFFSET
    try:
        return date(year, month, day), kind
    except ValueError:
        raise InvalidIdentifier("person identifier names a date that does not exist") from None


def _century_year(yymmdd: str, separator: str, reference: date) -> int:
    """Full birth year for a 10-digit number: the latest year not after the reference date,
    one century earlier again for `+` (aged 100 or more)."""
    yy, month, day = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > _SAMORDNING_DAY_OFFSET:
        day -= _SAMORDNING_DAY_OFFSET
    year = reference.year - (reference.year - yy) % 100
    if (month, day) > (reference.month, reference.day) and year == reference.year:
        year -= 100
    if separator == "+":
        year -= 100
    return year


def parse_person_identity(text: str, *, reference_date: date | None = None) -> PersonIdentity:
    """Check a personnummer or samordningsnummer and return it in canonical form.

    `reference_date` decides the century of a 10-digit number (default: today); 12-digit
    input does not depend on it.
    """
    candidate = text.strip()
    twelve = _TWELVE.fullmatch(candidate)
    if twelve is not None:
        digits = twelve.group(1) + twelve.group(2)
    else:
        ten = _TEN.fullmatch(candidate)
        if ten is None:
            raise InvalidIdentifier(
                "person identifier must be 12 digits (YYYYMMDDNNNC, optionally with a hyphen)"
                " or 10 digits with '-' or '+' (YYMMDD-NNNC)"
            )
        reference = reference_date or date.today()
        year = _century_year(ten.group(1), ten.group(2), reference)
        if year < 1:
            raise InvalidIdentifier("person identifier names a date that does not exist")
        digits = f"{year:04d}{ten.group(1)[2:]}{ten.group(3)}"
    _, kind = _birth_date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    if luhn_check_digit(digits[2:11]) != int(digits[11]):
        raise InvalidIdentifier("person identifier has a wrong check digit")
    return PersonIdentity(kind=kind, value=digits, system=_SYSTEM_OF_KIND[kind])


def identity_from_fhir(system: str, value: str) -> PersonIdentity:
    """Read a FHIR Identifier (canonical system or its urn:oid alias) as a PersonIdentity.

    The value must be the canonical 12 digits, and its kind must match the system:
    a samordningsnummer under the personnummer system is refused, and vice versa.
    """
    kind = _KIND_OF_SYSTEM.get(system)
    if kind is None:
        raise InvalidIdentifier(f"identifier system {system!r} is not a Swedish person identifier")
    if not re.fullmatch(r"\d{12}", value):
        raise InvalidIdentifier("person identifier value must be 12 digits YYYYMMDDNNNC")
    identity = parse_person_identity(value)
    if identity.kind != kind:
        raise InvalidIdentifier(f"identifier is a {identity.kind} but its system says {kind}")
    return identity
