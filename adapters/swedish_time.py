"""RIVTA times (Swedish local time, no zone) as FHIR date and dateTime values.

TimeStampType `YYYYMMDDhhmmss` is read in Europe/Stockholm. The hub's rule for DST days
(DOMAIN.md section 6): a repeated hour (last Sunday of October, 02:00-02:59 twice) is the
first occurrence, +02:00; a missing hour (last Sunday of March, 02:00-02:59 does not exist)
is shifted forward by the gap, so 02:30 reads as 03:30+02:00. Output always has an offset.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from adapters.errors import InvalidTimestamp

__all__ = [
    "STOCKHOLM",
    "local_date_to_fhir",
    "local_datetime",
    "local_timestamp_to_fhir",
    "partial_date_to_fhir",
]

STOCKHOLM = ZoneInfo("Europe/Stockholm")

_TIMESTAMP = re.compile(r"(19|20)\d{12}")
_DATE = re.compile(r"(19|20)\d{6}")


def local_datetime(value: str) -> datetime:
    """An aware datetime in Europe/Stockholm for a TimeStampType value, DST rule applied."""
    if not _TIMESTAMP.fullmatch(value):
        raise InvalidTimestamp("timestamp must be YYYYMMDDhhmmss (years 1900-2099)")
    try:
        if value.isascii():  # strptime's answer, without its per-call format parsing
            naive = datetime(
                int(value[:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[8:10]),
                int(value[10:12]),
                int(value[12:14]),
            )
        else:
            naive = datetime.strptime(value, "%Y%m%d%H%M%S")
    except ValueError:
        raise InvalidTimestamp("timestamp names a date or time that does not exist") from None
    # fold=0 picks the first occurrence of a repeated hour. For a missing hour, fold=0 uses
    # the offset in force before the change (+01:00); the round trip through UTC then moves
    # the wall time forward by the gap (02:30 -> 03:30+02:00).
    aware = naive.replace(tzinfo=STOCKHOLM, fold=0)
    return aware.astimezone(UTC).astimezone(STOCKHOLM)


def local_timestamp_to_fhir(value: str) -> str:
    """FHIR dateTime with the Europe/Stockholm offset, e.g. 2026-03-02T14:30:00+01:00."""
    return local_datetime(value).isoformat(timespec="seconds")


def local_date_to_fhir(value: str) -> str:
    """FHIR date for a DateType value YYYYMMDD, e.g. 2026-03-02."""
    if not _DATE.fullmatch(value):
        raise InvalidTimestamp("date must be YYYYMMDD (years 1900-2099)")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
    except ValueError:
        raise InvalidTimestamp("date names a day that does not exist") from None


def partial_date_to_fhir(fmt: str, value: str) -> str:
    """FHIR date (YYYY, YYYY-MM or YYYY-MM-DD) for a RIVTA PartialDateType."""
    if fmt == "YYYYMMDD":
        return local_date_to_fhir(value)
    if fmt == "YYYYMM" and re.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])", value):
        return f"{value[:4]}-{value[4:]}"
    if fmt == "YYYY" and re.fullmatch(r"(19|20)\d{2}", value):
        return value
    raise InvalidTimestamp("partial date must be YYYY, YYYYMM or YYYYMMDD and match its format")
