"""FHIR date, dateTime and instant values as ranges of epoch microseconds.

Every FHIR date is an interval: `2024` is all of that year, `2024-03-01T10:00:00+01:00` the
whole second. Searches compare intervals, so both stored values and search values become
(low, high) pairs, inclusive. A value without a zone is read as Swedish local time
(Europe/Stockholm), the zone every source system of the hub writes in.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MIN_US = -(2**62)
MAX_US = 2**62
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<z>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


class InvalidDate(ValueError):
    """A value is not a FHIR date, dateTime or instant."""


def _to_us(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@lru_cache(maxsize=64)
def _zone(text: str | None) -> tzinfo:
    if text is None:
        return STOCKHOLM
    if text == "Z":
        return UTC
    sign = 1 if text[0] == "+" else -1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


@lru_cache(maxsize=8192)
def date_range(value: str) -> tuple[int, int]:
    """The inclusive interval, in epoch microseconds, that a FHIR date value denotes."""
    match = _DATE_RE.match(value.strip())
    if match is None:
        raise InvalidDate("not a FHIR date, dateTime or instant")
    parts = match.groupdict()
    try:
        year = int(parts["y"])
        if parts["m"] is None:
            start, end = datetime(year, 1, 1), datetime(year + 1, 1, 1)
        elif parts["d"] is None:
            month = int(parts["m"])
            start = datetime(year, month, 1)
            end = datetime(year + (month == 12), month % 12 + 1, 1)
        else:
            start = datetime(year, int(parts["m"]), int(parts["d"]))
            if parts["H"] is None:
                end = start + timedelta(days=1)
            else:
                start = start.replace(hour=int(parts["H"]), minute=int(parts["M"]))
                if parts["S"] is None:
                    end = start + timedelta(minutes=1)
                else:
                    start = start.replace(second=int(parts["S"]))
                    if parts["f"]:
                        digits = parts["f"][1:]
                        start = start.replace(microsecond=int(digits[:6].ljust(6, "0")))
                        end = start + timedelta(microseconds=10 ** (6 - min(len(digits), 6)))
                    else:
                        end = start + timedelta(seconds=1)
    except ValueError as exc:
        raise InvalidDate("date out of range") from exc
    zone = _zone(parts["z"])
    low = start.replace(tzinfo=zone)
    high = end.replace(tzinfo=zone)
    return _to_us(low), _to_us(high) - 1


def instant_from_us(value: int) -> str:
    """Epoch microseconds as a FHIR instant in UTC."""
    global _last_instant
    last = _last_instant  # one immutable pair, read once: safe across threads
    if last[0] == value:  # a write asks twice: meta.lastUpdated, then the response
        return last[1]
    moment = _EPOCH + timedelta(microseconds=value)
    text = moment.isoformat(timespec="microseconds")[:-6] + "Z"
    _last_instant = (value, text)
    return text


_last_instant: tuple[int | None, str] = (None, "")


def now_us() -> int:
    """The current time in epoch microseconds."""
    return time.time_ns() // 1_000
