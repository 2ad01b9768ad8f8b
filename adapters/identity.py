"""Swedish person identifiers: personnummer and samordningsnummer, checked and canonicalised.

Canonical form is 12 digits YYYYMMDDNNNC. Accepted input, the forms people write: 12
digits, 12 digits with `-` or `+` before the last four (YYYYMMDD-NNNC; a `+` must agree:
aged 100 or more on the reference date), and 10 digits with `-` or `+` (YYMMDD-NNNC, `+`
from age 100), where the century follows from the separator and a reference date. Ten
digits without a separator leave the century open and are refused (CenturyNotWritten).
Checks: the date exists (samordningsnummer: day + 60) and the Luhn check digit over
YYMMDDNNN. Errors never echo the number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from adapters.errors import CenturyNotWritten, InvalidIdentifier
from mappings.systems import HSA_SYSTEM

__all__ = [
    "HSA_SYSTEM",
    "PERSONNUMMER_SYSTEM",
    "SAMORDNINGSNUMMER_SYSTEM",
    "PersonIdentity",
    "identity_from_fhir",
    "luhn_check_digit",
    "parse_person_identity",
    "person_identity_as_written",
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

_TWELVE = re.compile(r"(\d{8})([-+]?)(\d{4})")
_TEN = re.compile(r"(\d{6})([-+])(\d{4})")
_TEN_BARE = re.compile(r"\d{10}")
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


def _aged_one_hundred(born: date, reference: date) -> bool:
    try:
        hundredth = born.replace(year=born.year + 100)
    except ValueError:  # born 29 February: the birthday falls on 1 March
        hundredth = date(born.year + 100, 3, 1)
    return hundredth <= reference


def parse_person_identity(text: str, *, reference_date: date | None = None) -> PersonIdentity:
    """Check a personnummer or samordningsnummer and return it in canonical form.

    `reference_date` decides the century of a 10-digit number and whether a `+` agrees with
    the age (default: today); other 12-digit input does not depend on it.
    """
    candidate = text.strip()
    twelve = _TWELVE.fullmatch(candidate)
    if twelve is not None:
        digits = twelve.group(1) + twelve.group(3)
    elif _TEN_BARE.fullmatch(candidate):
        raise CenturyNotWritten(
            "person identifier of ten digits without '-' or '+' leaves the century open: "
            "write YYYYMMDD-NNNC, or YYMMDD-NNNC ('+' instead of '-' from age 100)"
        )
    else:
        ten = _TEN.fullmatch(candidate)
        if ten is None:
            raise InvalidIdentifier(
                "person identifier must be 12 digits (YYYYMMDDNNNC, optionally with '-' or "
                "'+' before the last four) or 10 digits with '-' or '+' (YYMMDD-NNNC)"
            )
        reference = reference_date or date.today()
        year = _century_year(ten.group(1), ten.group(2), reference)
        if year < 1:
            raise InvalidIdentifier("person identifier names a date that does not exist")
        digits = f"{year:04d}{ten.group(1)[2:]}{ten.group(3)}"
    born, kind = _birth_date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    if luhn_check_digit(digits[2:11]) != int(digits[11]):
        raise InvalidIdentifier("person identifier has a wrong check digit")
    plus = twelve is not None and twelve.group(2) == "+"
    if plus and not _aged_one_hundred(born, reference_date or date.today()):
        raise InvalidIdentifier(
            "person identifier has '+' (aged 100 or more) but its date says younger"
        )
    return PersonIdentity(kind=kind, value=digits, system=_SYSTEM_OF_KIND[kind])


def person_identity_as_written(
    system: str | None, text: str, *, reference_date: date | None = None
) -> PersonIdentity:
    """A personnummer or samordningsnummer as a person writes it (any form that
    parse_person_identity takes), under its FHIR `system` (canonical or urn:oid alias) or
    none: the number's own kind then names it. A number of the other kind than its system
    says is refused."""
    kind = None if system is None else _KIND_OF_SYSTEM.get(system)
    if system is not None and kind is None:
        raise InvalidIdentifier("identifier system is not a Swedish person identifier system")
    identity = parse_person_identity(text, reference_date=reference_date)
    if kind is not None and identity.kind != kind:
        raise InvalidIdentifier(f"identifier is a {identity.kind} but its system says {kind}")
    return identity


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
