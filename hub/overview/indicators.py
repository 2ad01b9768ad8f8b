"""Indicators of DOMAIN section 4 from a patient's visible encounters.

ED visits (a visit at a unit listed in mappings/hsa-emergency-units.json, or class EMER),
admissions (class IMP starting in the window), bed-days (per stay starting in the window,
the difference of its calendar dates in Europe/Stockholm; an ongoing stay counts to today)
and 30-day readmissions (an admission starting at most 30 days after the previous
discharge). Windows: the last 12 months, and 12 months before vs after the start of the
latest enrolment episode (the "after" window ends today while it is shorter). Planned,
cancelled, entered-in-error and unknown-status encounters never count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Protocol

from hub.fhir_dates import STOCKHOLM
from mappings.loader import load_table

__all__ = ["IndicatorValue", "Window", "emergency_units", "enrolment_windows", "indicators_for"]

YEAR = timedelta(days=365)
COUNTED = frozenset({"arrived", "triaged", "in-progress", "onleave", "finished"})
INDICATORS = {
    "ed-visits": "Akutbesök",
    "admissions": "Inläggningar",
    "bed-days": "Vårddygn",
    "readmissions-30d": "Återinläggningar inom 30 dagar",
}
WINDOWS = {
    "last-12-months": "Senaste 12 månaderna",
    "before-enrolment": "12 månader före inskrivning",
    "after-enrolment": "Efter inskrivning",
}


class _HeldEncounter(Protocol):
    @property
    def resource(self) -> dict[str, Any]: ...

    @property
    def care_unit(self) -> str | None: ...


@dataclass(frozen=True)
class Window:
    code: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class IndicatorValue:
    code: str
    window: str
    start: date
    end: date
    value: int

    @property
    def label(self) -> str:
        return INDICATORS[self.code]

    @property
    def window_label(self) -> str:
        return WINDOWS[self.window]


@cache
def emergency_units() -> frozenset[str]:
    """HSA-ids of emergency units, from the cited mapping table."""
    table = load_table("hsa-emergency-units")
    return frozenset(row.code for row in table.rows)


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=STOCKHOLM)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=STOCKHOLM)


def _local_date(moment: datetime) -> date:
    return moment.astimezone(STOCKHOLM).date()


def enrolment_windows(episodes: Sequence[dict[str, Any]], now: datetime) -> list[Window]:
    """The last 12 months, then before/after the newest enrolment episode (newest first)."""
    windows = [Window("last-12-months", now - YEAR, now)]
    starts = [_moment((e.get("period") or {}).get("start")) for e in episodes]
    start = next((s for s in starts if s is not None and s <= now), None)
    if start is not None:
        windows.append(Window("before-enrolment", start - YEAR, start))
        windows.append(Window("after-enrolment", start, min(start + YEAR, now)))
    return windows


@dataclass(frozen=True)
class _Stay:
    start: datetime
    end: datetime | None


def indicators_for(
    encounters: Iterable[_HeldEncounter], windows: list[Window]
) -> list[IndicatorValue]:
    """Every indicator for every window."""
    ed: list[datetime] = []
    stays: list[_Stay] = []
    units = emergency_units()
    for held in encounters:
        encounter = held.resource
        if encounter.get("status") not in COUNTED:
            continue
        period = encounter.get("period") or {}
        start = _moment(period.get("start"))
        if start is None:
            continue
        klass = (encounter.get("class") or {}).get("code")
        if klass == "IMP":
            stays.append(_Stay(start, _moment(period.get("end"))))
        elif klass == "EMER" or held.care_unit in units:
            ed.append(start)
    stays.sort(key=lambda s: s.start)
    values: list[IndicatorValue] = []
    for window in windows:
        inside = [s for s in stays if window.start <= s.start < window.end]
        bed_days = sum(
            (_local_date(min(s.end or window.end, window.end)) - _local_date(s.start)).days
            for s in inside
        )
        readmissions = 0
        for index, stay in enumerate(stays):
            if index == 0 or not window.start <= stay.start < window.end:
                continue
            previous_end = stays[index - 1].end
            if previous_end is not None and timedelta(0) <= stay.start - previous_end <= timedelta(
                days=30
            ):
                readmissions += 1
        counts = {
            "ed-visits": sum(1 for moment in ed if window.start <= moment < window.end),
            "admissions": len(inside),
            "bed-days": bed_days,
            "readmissions-30d": readmissions,
        }
        values += [
            IndicatorValue(
                code, window.code, _local_date(window.start), _local_date(window.end), value
            )
            for code, value in counts.items()
        ]
    return values
