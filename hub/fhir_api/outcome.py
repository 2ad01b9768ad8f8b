"""OperationOutcome documents for errors and informational answers."""

from __future__ import annotations

from typing import Any

from hub.errors import RULE_SYSTEM, HubError, Issue


def outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome with one issue per Issue (expression when known)."""
    items: list[dict[str, Any]] = []
    for issue in issues:
        item: dict[str, Any] = {
            "severity": issue.severity,
            "code": issue.code,
            "diagnostics": issue.message,
        }
        if issue.rule:
            item["details"] = {"coding": [{"system": RULE_SYSTEM, "code": issue.rule}]}
        if issue.expression:
            item["expression"] = [issue.expression]
        items.append(item)
    return {"resourceType": "OperationOutcome", "issue": items}


def error_outcome(error: HubError) -> dict[str, Any]:
    return outcome(error.issues)


def information(message: str) -> dict[str, Any]:
    return outcome([Issue(message=message, code="informational", severity="information")])
