"""SMART scope parsing and the principal's scope helpers."""

from __future__ import annotations

import pytest

from hub.auth import Principal, parse_scope, parse_scopes


def _user(scope: str) -> Principal:
    return Principal(
        subject="SE2321000016-E001",
        care_unit="SE2321000016-U001",
        care_provider="SE2321000016-P001",
        role=None,
        scopes=parse_scopes(scope),
        kind="user",
    )


def test_v1_read_scope_grants_read_and_search_only() -> None:
    scope = parse_scope("user/CarePlan.read")
    assert scope is not None
    assert scope.interactions == frozenset({"read", "search"})


def test_v1_write_scope_grants_create_update_delete() -> None:
    scope = parse_scope("system/CarePlan.write")
    assert scope is not None
    assert scope.interactions == frozenset({"create", "update", "delete"})


def test_v1_star_scope_grants_every_interaction() -> None:
    scope = parse_scope("system/*.*")
    assert scope is not None
    assert scope.resource_type == "*"
    assert len(scope.interactions) == 5


def test_v2_letters_grant_exactly_the_named_interactions() -> None:
    scope = parse_scope("user/Encounter.rs")
    assert scope is not None
    assert scope.interactions == frozenset({"read", "search"})


@pytest.mark.parametrize(
    "text",
    [
        "user/Encounter.sr",
        "user/Encounter.rr",
        "user/Encounter.x",
        "openid",
        "fhirUser",
        "user/Observation.rs?category=laboratory",
        "admin/*.read",
        "user/encounter.read",
    ],
)
def test_unsupported_or_malformed_scopes_are_dropped(text: str) -> None:
    assert parse_scope(text) is None


def test_wildcard_read_scope_lets_a_user_read_any_type() -> None:
    principal = _user("user/*.read")
    assert principal.can_read("CarePlan")
    assert principal.can_search("Encounter")
    assert not principal.can_write("CarePlan")


def test_type_scope_does_not_extend_to_other_types() -> None:
    principal = _user("user/CarePlan.read")
    assert principal.can_read("CarePlan")
    assert not principal.can_read("Encounter")


def test_scopes_of_another_context_grant_nothing() -> None:
    principal = _user("system/*.*")
    assert not principal.can_read("CarePlan")


def test_directory_types_are_readable_without_a_scope() -> None:
    principal = _user("user/CarePlan.read")
    for resource_type in ("Patient", "Organization", "Practitioner", "PractitionerRole"):
        assert principal.can_read(resource_type)
        assert principal.can_search(resource_type)
    assert not principal.can_write("Patient")


def test_write_needs_both_create_and_update() -> None:
    assert not _user("user/CarePlan.c").can_write("CarePlan")
    assert _user("user/CarePlan.cu").can_write("CarePlan")
