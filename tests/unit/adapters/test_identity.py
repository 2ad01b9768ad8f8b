"""Personnummer and samordningsnummer: format, date, check digit, century, FHIR systems."""

from datetime import date

import pytest

from adapters.errors import AdapterError, CenturyNotWritten, InvalidIdentifier
from adapters.identity import (
    PERSONNUMMER_SYSTEM,
    SAMORDNINGSNUMMER_SYSTEM,
    identity_from_fhir,
    luhn_check_digit,
    parse_person_identity,
    person_identity_as_written,
)


def test_skatteverkets_test_number_has_check_digit_2() -> None:
    assert luhn_check_digit("121212121") == 2


@pytest.mark.parametrize("text", ["191212121212", "19121212-1212", " 191212121212 "])
def test_twelve_digit_forms_become_the_canonical_personnummer(text: str) -> None:
    identity = parse_person_identity(text)
    assert (identity.kind, identity.value, identity.system) == (
        "personnummer",
        "191212121212",
        PERSONNUMMER_SYSTEM,
    )


def test_day_plus_sixty_is_read_as_a_samordningsnummer() -> None:
    identity = parse_person_identity("191212721219")
    assert identity.kind == "samordningsnummer"
    assert identity.system == SAMORDNINGSNUMMER_SYSTEM


def test_ten_digits_with_hyphen_take_the_latest_century_before_the_reference_date() -> None:
    assert (
        parse_person_identity("121212-1212", reference_date=date(2026, 1, 1)).value
        == "201212121212"
    )
    assert (
        parse_person_identity("380814-9821", reference_date=date(2026, 1, 1)).value
        == "193808149821"
    )


def test_ten_digits_with_plus_mean_a_person_aged_one_hundred_or_more() -> None:
    identity = parse_person_identity("121212+1212", reference_date=date(2026, 1, 1))
    assert identity.value == "191212121212"


def test_a_birthday_later_this_year_belongs_to_the_previous_century() -> None:
    nine = "261231000"
    text = f"{nine[:6]}-{nine[6:]}{luhn_check_digit(nine)}"
    identity = parse_person_identity(text, reference_date=date(2026, 6, 1))
    assert identity.value.startswith("1926")


@pytest.mark.parametrize(
    "text",
    ["191212121213", "19120230-1234", "191213721213", "1912121212", "20121212+1212", "abc", ""],
)
def test_invalid_numbers_are_rejected_without_echoing_them(text: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_person_identity(text)
    assert caught.value.code == "invalid-identifier"
    if text:
        assert text not in str(caught.value)
        assert text[-4:] not in str(caught.value)


def test_february_thirtieth_is_not_a_date() -> None:
    # 20260230 with a correct check digit for its nine digits: only the date check can fail.
    nine = "260230123"
    with pytest.raises(InvalidIdentifier, match="does not exist"):
        parse_person_identity(f"20{nine}{luhn_check_digit(nine)}")


def test_identity_from_fhir_accepts_the_urn_oid_alias() -> None:
    identity = identity_from_fhir("urn:oid:1.2.752.129.2.1.3.1", "191212121212")
    assert identity.system == PERSONNUMMER_SYSTEM


def test_identity_from_fhir_refuses_a_samordningsnummer_under_the_personnummer_system() -> None:
    with pytest.raises(InvalidIdentifier):
        identity_from_fhir(PERSONNUMMER_SYSTEM, "191212721219")


def test_identity_from_fhir_refuses_unknown_systems() -> None:
    with pytest.raises(AdapterError):
        identity_from_fhir("urn:oid:1.2.3", "191212121212")


def test_the_repr_of_an_identity_hides_the_number() -> None:
    assert "191212121212" not in repr(parse_person_identity("191212121212"))


def test_twelve_digits_with_plus_are_read_when_the_person_is_one_hundred_or_more() -> None:
    reference = date(2026, 12, 7)
    assert parse_person_identity("19121212+1212", reference_date=reference).value == (
        "191212121212"
    )
    nine = "261207123"
    hundred_today = f"19{nine[:6]}+{nine[6:]}{luhn_check_digit(nine)}"
    assert parse_person_identity(hundred_today, reference_date=reference).value.startswith(
        "19261207"
    )
    nine = "261208123"
    hundred_tomorrow = f"19{nine[:6]}+{nine[6:]}{luhn_check_digit(nine)}"
    with pytest.raises(InvalidIdentifier, match="younger"):
        parse_person_identity(hundred_tomorrow, reference_date=reference)


def test_ten_digits_without_a_separator_leave_the_century_open() -> None:
    with pytest.raises(CenturyNotWritten) as caught:
        parse_person_identity("1212121212")
    assert caught.value.code == "invalid-identifier"
    assert "century" in caught.value.message
    assert "1212" not in caught.value.message


def test_written_forms_under_a_system_or_none() -> None:
    reference = date(2026, 12, 7)
    for system in (None, PERSONNUMMER_SYSTEM, "urn:oid:1.2.752.129.2.1.3.1"):
        for text in ("19121212-1212", "121212+1212", "191212121212", "19121212+1212"):
            identity = person_identity_as_written(system, text, reference_date=reference)
            assert identity.value == "191212121212"
    assert person_identity_as_written(None, "19121272-1219").system == SAMORDNINGSNUMMER_SYSTEM
    with pytest.raises(InvalidIdentifier, match="its system says"):
        person_identity_as_written(SAMORDNINGSNUMMER_SYSTEM, "19121212-1212")
    with pytest.raises(InvalidIdentifier, match="not a Swedish person identifier"):
        person_identity_as_written("urn:oid:1.2.3", "19121212-1212")
