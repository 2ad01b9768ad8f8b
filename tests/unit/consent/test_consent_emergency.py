"""N1 and N2 of docs/access-rules.md: the $emergency-access request and its grant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consent import EmergencyRequestError, grant_emergency_access, reason_from_parameters
from consent.emergency import grant_from_dict, grant_to_dict
from hub.auth import Principal, parse_scopes

NOW = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
NURSE = Principal(
    "SE2120000001-E1",
    "SE2120000001-HSV",
    "SE2120000001-K",
    None,
    parse_scopes("user/*.read"),
    "user",
)


def parameters(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(entries)}


def test_n1_the_reason_is_read_from_the_parameters_resource() -> None:
    body = parameters({"name": "reason", "valueString": "  Unconscious, needs medication list "})
    assert reason_from_parameters(body) == "Unconscious, needs medication list"


def test_n1_a_grant_is_for_this_employee_at_this_unit_for_four_hours() -> None:
    grant = grant_emergency_access(NURSE, "pat-1", "Unconscious", NOW)
    assert (grant.employee, grant.care_unit, grant.care_provider) == (
        "SE2120000001-E1",
        "SE2120000001-HSV",
        "SE2120000001-K",
    )
    assert grant.end - grant.start == timedelta(hours=4)
    assert grant.active_for("SE2120000001-E1", "SE2120000001-HSV", NOW + timedelta(hours=3))
    assert not grant.active_for("SE2120000001-E1", "SE2120000001-HSV", NOW + timedelta(hours=4))
    assert not grant.active_for("SE2120000001-E1", "SE2120000001-HT", NOW)


def test_n1_the_duration_is_a_setting() -> None:
    grant = grant_emergency_access(NURSE, "pat-1", "x", NOW, duration=timedelta(minutes=30))
    assert grant.end == NOW + timedelta(minutes=30)


def test_n1_a_grant_survives_storage_as_a_dict() -> None:
    grant = grant_emergency_access(NURSE, "pat-1", "x", NOW)
    assert grant_from_dict(grant_to_dict(grant)) == grant


@pytest.mark.parametrize(
    "body",
    [
        parameters(),
        parameters({"name": "reason", "valueString": "   "}),
        parameters({"name": "reason", "valueString": "a"}, {"name": "reason", "valueString": "b"}),
        parameters({"name": "reason", "valueCode": "x"}),
        parameters({"name": "reason", "valueString": "x" * 1001}),
        {"resourceType": "Patient"},
        "reason",
    ],
    ids=["none", "blank", "repeated", "wrong-type", "too-long", "not-parameters", "not-json"],
)
def test_n2_a_malformed_request_is_refused(body: Any) -> None:
    with pytest.raises(EmergencyRequestError):
        reason_from_parameters(body)


@pytest.mark.parametrize("kind", ["system", "representative"])
def test_n2_only_users_may_open_emergency_access(kind: str) -> None:
    reader = Principal("x", None, "SE2120000001-K", None, frozenset(), kind)  # type: ignore[arg-type]
    with pytest.raises(EmergencyRequestError):
        grant_emergency_access(reader, "pat-1", "x", NOW)


def test_n2_a_non_positive_duration_is_refused() -> None:
    with pytest.raises(EmergencyRequestError):
        grant_emergency_access(NURSE, "pat-1", "x", NOW, duration=timedelta(0))
