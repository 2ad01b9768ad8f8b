"""OperationOutcome documents for errors and informational answers.

Their texts are FHIR strings: an expression or message that quotes what a client sent (an
element name, a parameter) keeps only characters a FHIR string may hold, so the outcome
itself is valid FHIR whatever was sent.
"""

from __future__ import annotations

import re
from typing import Any

from hub.errors import RULE_SYSTEM, HubError, Issue

_NOT_IN_FHIR_STRING = re.compile(r"[^ \r\n\t\S]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Characters outside R4's string pattern (whitespace other than space, CR, LF, tab) and
the control characters FHIR strings may not hold."""


def fhir_string(text: str) -> str:
    """`text` with every character a FHIR string may not hold replaced by U+FFFD."""
    cleaned = _NOT_IN_FHIR_STRING.sub("\ufffd", text)
    return cleaned if cleaned.strip() else "\ufffd"


def outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome with one issue per Issue (expression when known)."""
    items: list[dict[str, Any]] = []
    for issue in issues:
        item: dict[str, Any] = {
            "severity": issue.severity,
            "code": issue.code,
            "diagnostics": fhir_string(issue.message),
        }
        if issue.rule:
            item["details"] = {"coding": [{"system": RULE_SYSTEM, "code": issue.rule}]}
        if issue.expression:
            item["expression"] = [fhir_string(issue.expression)]
        items.append(item)
    return {"resourceType": "OperationOutcome", "issue": items}


def error_outcome(error: HubError) -> dict[str, Any]:
    return outcome(error.issues)


def information(message: str) -> dict[str, Any]:
    return outcome([Issue(message=message, code="informational", severity="information")])
