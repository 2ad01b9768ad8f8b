"""The benchmark's synthetic patients each get their own valid personnummer, at any size
the benchmarks use."""

from __future__ import annotations

from adapters.identity import PERSONNUMMER_SYSTEM, parse_person_identity
from bench.synthetic_records import MAX_PATIENTS, iter_demo_records, personnummer_for


def test_two_hundred_thousand_generated_personnummer_are_distinct_and_valid() -> None:
    numbers = [personnummer_for(index, female=index % 3 != 0) for index in range(200_000)]
    assert len(set(numbers)) == len(numbers)
    for index, number in enumerate(numbers):
        identity = parse_person_identity(number)
        assert identity.kind == "personnummer"
        assert identity.value == number
        assert int(number[10]) % 2 == (0 if index % 3 != 0 else 1)  # even: woman


def test_the_sex_never_makes_two_patients_share_a_number() -> None:
    for index in (0, 1, 14_609, 14_610, MAX_PATIENTS - 2):
        assert personnummer_for(index, female=True) != personnummer_for(index, female=False)
        assert personnummer_for(index, female=True) != personnummer_for(index + 1, female=True)


def test_the_demo_records_of_many_patients_hold_no_personnummer_twice() -> None:
    numbers = [
        identifier["value"]
        for record in iter_demo_records(patients=6_000)
        if record.resource["resourceType"] == "Patient"
        for identifier in record.resource["identifier"]
        if identifier["system"] == PERSONNUMMER_SYSTEM
    ]
    assert len(numbers) == 6_000
    assert len(set(numbers)) == 6_000
