"""Time periods read from FHIR ``dateTime`` values.

FHIR allows partial dates (``2025``, ``2025-03``, ``2025-03-30``) and full date-times with
an offset. A partial value stands for an interval: a period *start* takes the beginning of
it, a period *end* the end of it, so ``end = 2025-03-30`` lasts through that whole day.
Partial dates and date-times without an offset are read in Europe/Stockholm. A ``Period``
contains ``start <= t < end``; a missing bound is open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["STOCKHOLM", "Period", "PeriodError", "parse_fhir_datetime", "period_from_fhir"]

STOCKHOLM = ZoneInfo("Europe/Stockholm")

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


class PeriodError(ValueError):
    """Raised when a FHIR date, dateTime or Period cannot be read."""


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval ``[start, end)`` of aware datetimes; ``None`` is open."""

    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        for bound in (self.start, self.end):
            if bound is not None and bound.tzinfo is None:
                raise PeriodError("Period bounds must carry a time zone")

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` lies inside the period."""
        if self.start is not None and moment < self.start:
            return False
        return self.end is None or moment < self.end

    def widened(self, before: timedelta, after: timedelta) -> Period:
        """The same period with its bounds moved outwards (open bounds stay open)."""
        return Period(
            start=None if self.start is None else self.start - before,
            end=None if self.end is None else self.end + after,
        )


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def parse_fhir_datetime(value: str, *, as_end: bool = False) -> datetime:
    """Read a FHIR date or dateTime; ``as_end`` gives the end of a partial value."""
    if not isinstance(value, str):
        raise PeriodError("A FHIR dateTime must be a string")
    match = _DATE.match(value)
    try:
        if match is not None:
            year = int(match.group(1))
            month = int(match.group(2) or 1)
            day = int(match.group(3) or 1)
            start = datetime(year, month, day, tzinfo=STOCKHOLM)
            if not as_end:
                return start
            if match.group(3):
                following = start.date() + timedelta(days=1)
                return datetime(following.year, following.month, following.day, tzinfo=STOCKHOLM)
            if match.group(2):
                next_year, next_month = _next_month(year, month)
                return datetime(next_year, next_month, 1, tzinfo=STOCKHOLM)
            return datetime(year + 1, 1, 1, tzinfo=STOCKHOLM)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PeriodError("Unreadable FHIR dateTime") from exc
    if "T" not in value:
        raise PeriodError("Unreadable FHIR dateTime")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=STOCKHOLM)
    return moment


def period_from_fhir(period: Any) -> Period:
    """Read a FHIR ``Period`` element (``None`` or absent bounds are open)."""
    if period is None:
        return Period()
    if not isinstance(period, dict):
        raise PeriodError("A FHIR Period must be an object")
    start_text = period.get("start")
    end_text = period.get("end")
    start = None if start_text is None else parse_fhir_datetime(start_text)
    end = None if end_text is None else parse_fhir_datetime(end_text, as_end=True)
    if start is not None and end is not None and end < start:
        raise PeriodError("A FHIR Period ends before it starts")
    return Period(start=start, end=end)
