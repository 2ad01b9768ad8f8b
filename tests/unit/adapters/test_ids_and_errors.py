"""Deterministic ids, keyed patient ids, and the adapter error tree."""

import inspect
import re

import pytest

import adapters.errors as errors_module
from adapters.errors import AdapterError, UnmappedCode
from adapters.identity import parse_person_identity
from adapters.ids import patient_id, resource_id, source_uri


def test_resource_ids_are_deterministic_and_differ_per_part() -> None:
    first = resource_id("SE2321000016-S001", "CarePlan", "SIP-1")
    assert first == resource_id("SE2321000016-S001", "CarePlan", "SIP-1")
    assert first != resource_id("SE2321000016-S002", "CarePlan", "SIP-1")
    assert first != resource_id("SE2321000016-S001", "Encounter", "SIP-1")
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", first)


def test_separators_inside_parts_cannot_make_two_ids_collide() -> None:
    assert resource_id("a|b", "CarePlan", "c") != resource_id("a", "CarePlan", "b|c")


def test_patient_id_is_a_keyed_hash_that_does_not_contain_the_number() -> None:
    identity = parse_person_identity("191212121212")
    pid = patient_id(identity, b"secret-one")
    assert pid == patient_id(identity, b"secret-one")
    assert pid != patient_id(identity, b"secret-two")
    assert len(pid) <= 64 and "191212121212" not in pid


def test_patient_id_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        patient_id(parse_person_identity("191212121212"), b"")


def test_source_uri_keeps_uris_and_wraps_hsa_ids() -> None:
    assert source_uri("urn:oid:1.2.3") == "urn:oid:1.2.3"
    assert source_uri("SE2321000016-S001").endswith("/source/SE2321000016-S001")


def test_every_adapter_error_class_has_a_code_and_is_drawn_in_the_docstring() -> None:
    doc = errors_module.__doc__ or ""
    classes = [
        obj
        for _, obj in inspect.getmembers(errors_module, inspect.isclass)
        if issubclass(obj, AdapterError)
    ]
    assert len(classes) >= 10
    for cls in classes:
        assert cls.__name__ in doc
        assert cls.default_code
        assert cls.__name__ in errors_module.__all__


def test_unmapped_code_names_table_system_and_code() -> None:
    error = UnmappedCode(table="t", code_system="1.2.3", code="X9", location="/a/b")
    assert error.code == "unmapped-code"
    assert "X9" in str(error) and "1.2.3" in str(error) and "'t'" in str(error)
    assert error.as_dict()["location"] == "/a/b"


def test_at_sets_a_location_only_once() -> None:
    error = AdapterError("m", code="c").at("/first").at("/second")
    assert error.location == "/first"
