"""Reading FHIR dates and periods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consent.periods import STOCKHOLM, Period, PeriodError, parse_fhir_datetime, period_from_fhir


def test_a_date_as_end_lasts_through_that_stockholm_day() -> None:
    end = parse_fhir_datetime("2025-03-30", as_end=True)
    assert end == datetime(2025, 3, 31, tzinfo=STOCKHOLM)


def test_a_month_and_a_year_cover_their_whole_interval() -> None:
    assert parse_fhir_datetime("2025-12", as_end=True) == datetime(2026, 1, 1, tzinfo=STOCKHOLM)
    assert parse_fhir_datetime("2025", as_end=True) == datetime(2026, 1, 1, tzinfo=STOCKHOLM)
    assert parse_fhir_datetime("2025-02") == datetime(2025, 2, 1, tzinfo=STOCKHOLM)


def test_a_datetime_with_offset_keeps_its_instant() -> None:
    moment = parse_fhir_datetime("2025-10-26T02:30:00+02:00")
    assert moment == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["soon", "2025-02-30", "2025-13", "20250101"])
def test_unreadable_values_raise_a_period_error(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_fhir_datetime(text)


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(PeriodError):
        period_from_fhir({"start": "2025-02-01", "end": "2025-01-01"})


def test_a_period_is_half_open() -> None:
    period = Period(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))
    assert period.contains(datetime(2025, 1, 1, tzinfo=UTC))
    assert not period.contains(datetime(2025, 1, 2, tzinfo=UTC))
    assert Period().contains(datetime(1900, 1, 1, tzinfo=UTC))


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(PeriodError):
        Period(start=datetime(2025, 1, 1))
