"""The profile and invariant checks a write gets, beside the fhir.resources model checks.

A resource that claims a profile held here (meta.profile) must conform to it; every written
resource must meet the invariants of the base R4 definitions unless HUB_VALIDATE_INVARIANTS
is off (bulk loads), which keeps the invariants of claimed profiles. Other findings of the
base definitions (bindings, unknown extensions) do not block a write.
"""

from __future__ import annotations

from typing import Any

from hub.errors import Issue
from hub.settings import Settings
from hub.validation.profiles import Options, known_profile, validate

_configured: dict[str, bool] = {}


def configure(settings: Settings) -> None:
    """Take HUB_VALIDATE_INVARIANTS from the settings the app was created with."""
    _configured["invariants"] = settings.validate_invariants == "on"


def base_invariants_on() -> bool:
    if "invariants" not in _configured:
        _configured["invariants"] = Settings().validate_invariants == "on"
    return _configured["invariants"]


def _claims_profile(resource: dict[str, Any]) -> bool:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return isinstance(profiles, list) and any(
        isinstance(p, str) and known_profile(p) for p in profiles
    )


def write_issues(resource: dict[str, Any]) -> list[Issue]:
    """The problems that block writing this resource (empty: it may be written)."""
    claimed = _claims_profile(resource)
    base = base_invariants_on()
    if not claimed and not base:
        return []
    found = validate(resource, options=Options(base_invariants=base))
    return [
        Issue(
            message=f"[{i.rule}] {i.message}",
            code=i.code,
            expression=i.expression,
            rule=i.rule,
        )
        for i in found
        if i.severity in ("error", "fatal") and (claimed or i.code == "invariant")
    ]
