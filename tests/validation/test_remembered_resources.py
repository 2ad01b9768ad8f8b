"""Valid resources are remembered by their content (hub.validation.resources): the same
content is not checked again, anything else is, and the invariant setting is part of it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from hub.errors import HubError
from hub.settings import Settings
from hub.validation import resources
from hub.validation.on_write import configure
from hub.validation.resources import forget_verdicts, validate_resource


def _encounter() -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2024-01-01T10:00:00+01:00", "end": "2024-01-01T11:00:00+01:00"},
    }


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    forget_verdicts()
    yield
    forget_verdicts()
    configure(Settings())


def _counting_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    original = resources._check

    def counted(resource: dict[str, Any], resource_type: str, maybe_empty: bool) -> None:
        calls.append(resource_type)
        original(resource, resource_type, maybe_empty)

    monkeypatch.setattr(resources, "_check", counted)
    return calls


def test_the_same_content_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_checks(monkeypatch)
    validate_resource(_encounter())
    reordered = dict(reversed(list(_encounter().items())))
    validate_resource(reordered)
    assert calls == ["Encounter"]


def test_changed_content_is_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting_checks(monkeypatch)
    validate_resource(_encounter())
    broken = copy.deepcopy(_encounter())
    broken["status"] = "no-such-status"
    with pytest.raises(HubError):
        validate_resource(broken)
    assert calls == ["Encounter", "Encounter"]


def test_an_invalid_resource_is_never_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    late = _encounter()
    late["period"] = {"start": "2024-01-02", "end": "2024-01-01"}
    for _ in range(2):
        with pytest.raises(HubError) as raised:
            validate_resource(late)
        assert "per-1" in raised.value.message


def test_a_resource_valid_without_invariants_is_judged_again_with_them() -> None:
    late = _encounter()
    late["period"] = {"start": "2024-01-02", "end": "2024-01-01"}
    configure(Settings(validate_invariants="off"))
    validate_resource(late)
    configure(Settings(validate_invariants="on"))
    with pytest.raises(HubError):
        validate_resource(late)


def test_an_expected_type_is_checked_for_a_remembered_resource() -> None:
    validate_resource(_encounter())
    with pytest.raises(HubError):
        validate_resource(_encounter(), expected_type="Patient")
