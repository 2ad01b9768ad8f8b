"""RIVTA local timestamps become FHIR dateTimes with the Europe/Stockholm offset."""

import pytest

from adapters.errors import InvalidTimestamp
from adapters.swedish_time import local_date_to_fhir, local_timestamp_to_fhir, partial_date_to_fhir

SPRING = {2025: "20250330", 2026: "20260329", 2027: "20270328"}
AUTUMN = {2025: "20251026", 2026: "20261025", 2027: "20271031"}


def test_winter_time_has_plus_one_and_summer_time_plus_two() -> None:
    assert local_timestamp_to_fhir("20260302143000") == "2026-03-02T14:30:00+01:00"
    assert local_timestamp_to_fhir("20260504091500") == "2026-05-04T09:15:00+02:00"


@pytest.mark.parametrize("year", sorted(SPRING))
def test_the_missing_spring_hour_is_shifted_forward(year: int) -> None:
    day = SPRING[year]
    iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    assert local_timestamp_to_fhir(f"{day}023000") == f"{iso}T03:30:00+02:00"
    assert local_timestamp_to_fhir(f"{day}015959") == f"{iso}T01:59:59+01:00"
    assert local_timestamp_to_fhir(f"{day}030000") == f"{iso}T03:00:00+02:00"


@pytest.mark.parametrize("year", sorted(AUTUMN))
def test_the_repeated_autumn_hour_is_its_first_occurrence(year: int) -> None:
    day = AUTUMN[year]
    iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    assert local_timestamp_to_fhir(f"{day}023000") == f"{iso}T02:30:00+02:00"
    assert local_timestamp_to_fhir(f"{day}030000") == f"{iso}T03:00:00+01:00"
    assert local_timestamp_to_fhir(f"{day}015959") == f"{iso}T01:59:59+02:00"


@pytest.mark.parametrize(
    "value", ["2026-04-27T10:30:00", "20260230120000", "20261301000000", "20260101246000", "1", ""]
)
def test_malformed_or_impossible_timestamps_are_rejected(value: str) -> None:
    with pytest.raises(InvalidTimestamp) as caught:
        local_timestamp_to_fhir(value)
    assert caught.value.code == "invalid-timestamp"


def test_dates_become_fhir_dates_and_impossible_days_are_rejected() -> None:
    assert local_date_to_fhir("20260302") == "2026-03-02"
    with pytest.raises(InvalidTimestamp):
        local_date_to_fhir("20260230")


def test_partial_dates_follow_their_format() -> None:
    assert partial_date_to_fhir("YYYY", "1938") == "1938"
    assert partial_date_to_fhir("YYYYMM", "193808") == "1938-08"
    assert partial_date_to_fhir("YYYYMMDD", "19380814") == "1938-08-14"
    with pytest.raises(InvalidTimestamp):
        partial_date_to_fhir("YYYYMM", "1938")
