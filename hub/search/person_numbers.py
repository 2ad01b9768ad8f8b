"""Personnummer and samordningsnummer in token searches (DOMAIN.md section 6).

A value under the personnummer or samordningsnummer system (or its urn:oid alias) may be
written in any form adapters.identity.parse_person_identity takes: YYYYMMDDNNNC,
YYYYMMDD-NNNC, YYMMDD-NNNC or YYMMDD+NNNC (`+`: aged 100 or more); it is searched in the
stored twelve-digit form under both the canonical system and its alias. A value that fails
the date or check digit, or ten digits without a separator (the century is open), is kept
as written (it matches nothing) and the search says so in a warning that never repeats the
number. This holds for every token value under these systems wherever the search holds it
(a chain's last link, `_has`, `ref:identifier`, a composite's component): hub.search.query
parses them all alike.

An identifier searched without a system (`identifier=19121212-1212`) that is written like a
person number with its separator is searched in its twelve digits (still under any system);
one that fails its date or check digit is searched as written, with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from adapters.errors import CenturyNotWritten, InvalidIdentifier
from adapters.identity import (
    PERSONNUMMER_SYSTEM,
    SAMORDNINGSNUMMER_SYSTEM,
    luhn_check_digit,
    person_identity_as_written,
)

_PERSONNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.1"
_SAMORDNINGSNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.3"

PERSON_NUMBER_SYSTEMS: dict[str, tuple[str, str]] = {
    PERSONNUMMER_SYSTEM: (PERSONNUMMER_SYSTEM, _PERSONNUMMER_OID),
    _PERSONNUMMER_OID: (PERSONNUMMER_SYSTEM, _PERSONNUMMER_OID),
    SAMORDNINGSNUMMER_SYSTEM: (SAMORDNINGSNUMMER_SYSTEM, _SAMORDNINGSNUMMER_OID),
    _SAMORDNINGSNUMMER_OID: (SAMORDNINGSNUMMER_SYSTEM, _SAMORDNINGSNUMMER_OID),
}
"""Each person-number system: (hub canonical system, its urn:oid alias)."""

_WRITTEN_WITH_SEPARATOR = re.compile(r"\d{6}(?:\d{2})?[-+]\d{4}")
_TEN_DIGITS = re.compile(r"\d{10}")
_STOCKHOLM = ZoneInfo("Europe/Stockholm")

INVALID_WARNING = (
    "The value of '{name}' is not a valid personnummer or samordningsnummer for its system "
    "(format, date or check digit), so nothing can match it"
)
CENTURY_WARNING = (
    "The value of '{name}' is ten digits without '-' or '+', which leaves the century of a "
    "personnummer or samordningsnummer open, so it is searched as written: write "
    "YYYYMMDD-NNNC, or YYMMDD-NNNC ('+' instead of '-' from age 100)"
)
SYSTEMLESS_WARNING = (
    "The value of '{name}' is written like a personnummer or samordningsnummer but fails "
    "its date or check digit, so it is searched as written"
)

Problem = Literal["invalid", "century", "systemless-invalid"]
WARNINGS: dict[Problem, str] = {
    "invalid": INVALID_WARNING,
    "century": CENTURY_WARNING,
    "systemless-invalid": SYSTEMLESS_WARNING,
}


@dataclass(frozen=True)
class PersonNumberReading:
    """How a token value reads as a person number: its twelve digits, or the problem the
    search warns about; both None for a value that is no person number at all."""

    canonical: str | None = None
    problem: Problem | None = None


def _today() -> date:
    return datetime.now(_STOCKHOLM).date()


def canonical_person_number(system: str, code: str, *, today: date | None = None) -> str | None:
    """The twelve digits YYYYMMDDNNNC of `code` under the person-number `system`, or None
    when it is not a valid number of the system's kind (format, date, check digit, century)."""
    return read_person_number(system, code, today=today).canonical


def read_person_number(
    system: str | None, code: str, *, today: date | None = None
) -> PersonNumberReading:
    """`code` under a person-number `system`, or under no system (an identifier search
    without one); any other system is no person number."""
    if system is not None and system not in PERSON_NUMBER_SYSTEMS:
        return PersonNumberReading()
    candidate = code.strip()
    if system is None:
        if _TEN_DIGITS.fullmatch(candidate):
            luhn_fits = luhn_check_digit(candidate[:9]) == int(candidate[9])
            return PersonNumberReading(problem="century" if luhn_fits else None)
        if not _WRITTEN_WITH_SEPARATOR.fullmatch(candidate):
            return PersonNumberReading()  # twelve bare digits are searched as they are
    try:
        identity = person_identity_as_written(system, candidate, reference_date=today or _today())
    except CenturyNotWritten:
        return PersonNumberReading(problem="century")
    except InvalidIdentifier:
        return PersonNumberReading(problem="invalid" if system else "systemless-invalid")
    return PersonNumberReading(canonical=identity.value)
