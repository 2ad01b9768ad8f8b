"""Personnummer and samordningsnummer in token searches (DOMAIN.md section 6).

A value under the personnummer or samordningsnummer system (or its urn:oid alias) may be
written YYYYMMDD-NNNC, YYMMDD-NNNC, YYMMDD+NNNC (`+`: aged 100 or more) or as ten digits;
it is searched in the stored twelve-digit form under both the canonical system and its
alias. A value that fails the date or check digit is kept as written (it matches nothing)
and the search says so in a warning that never repeats the number. This holds for every
token value under these systems wherever the search holds it (a chain's last link, `_has`,
`ref:identifier`, a composite's component): hub.search.query parses them all alike.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from adapters.errors import InvalidIdentifier
from adapters.identity import PERSONNUMMER_SYSTEM, SAMORDNINGSNUMMER_SYSTEM, parse_person_identity

_PERSONNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.1"
_SAMORDNINGSNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.3"

PERSON_NUMBER_SYSTEMS: dict[str, tuple[str, str]] = {
    PERSONNUMMER_SYSTEM: (PERSONNUMMER_SYSTEM, _PERSONNUMMER_OID),
    _PERSONNUMMER_OID: (PERSONNUMMER_SYSTEM, _PERSONNUMMER_OID),
    SAMORDNINGSNUMMER_SYSTEM: (SAMORDNINGSNUMMER_SYSTEM, _SAMORDNINGSNUMMER_OID),
    _SAMORDNINGSNUMMER_OID: (SAMORDNINGSNUMMER_SYSTEM, _SAMORDNINGSNUMMER_OID),
}
"""Each person-number system: (hub canonical system, its urn:oid alias)."""

_TEN_DIGITS = re.compile(r"\d{10}")
_STOCKHOLM = ZoneInfo("Europe/Stockholm")

INVALID_WARNING = (
    "The value of '{name}' is not a valid personnummer or samordningsnummer for its system "
    "(format, date or check digit), so nothing can match it"
)


def _today() -> date:
    return datetime.now(_STOCKHOLM).date()


def canonical_person_number(system: str, code: str, *, today: date | None = None) -> str | None:
    """The twelve digits YYYYMMDDNNNC of `code` under the person-number `system`, or None
    when it is not a valid number of the system's kind (format, date, check digit)."""
    candidate = code.strip()
    if _TEN_DIGITS.fullmatch(candidate):
        candidate = f"{candidate[:6]}-{candidate[6:]}"
    try:
        identity = parse_person_identity(candidate, reference_date=today or _today())
    except InvalidIdentifier:
        return None
    if identity.system != PERSON_NUMBER_SYSTEMS[system][0]:
        return None  # a samordningsnummer under the personnummer system, or vice versa
    return identity.value
