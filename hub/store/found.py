"""Found, gone or missing: the one check every store path makes of what it looked up.

A row that was never stored, or that the reader's scope hides, is missing (404, the same
answer either way); a tombstone is gone (410). Reads, version reads, `$everything`'s
patient, conditional matches, updates with If-Match and deletes all answer through these.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from hub.errors import Gone, NotFound

__all__ = ["live", "missing"]


class _Deletable(Protocol):
    @property
    def deleted(self) -> bool: ...


Found = TypeVar("Found", bound=_Deletable)


def missing(resource_type: str, resource_id: str, version_id: int | None = None) -> NotFound:
    """The 404 for a resource (or one version of it) that is unknown or hidden."""
    if version_id is not None:
        return NotFound(f"{resource_type}/{resource_id} has no version {version_id}")
    return NotFound(f"{resource_type}/{resource_id} is not known")


def live(
    found: Found | None,
    resource_type: str,
    resource_id: str,
    version_id: int | None = None,
) -> Found:
    """`found` if it is there and not a deletion; NotFound if None, Gone if deleted.
    `version_id` names the version asked for (a vread)."""
    if found is None:
        raise missing(resource_type, resource_id, version_id)
    if found.deleted:
        if version_id is not None:
            raise Gone(f"Version {version_id} of {resource_type}/{resource_id} is a deletion")
        raise Gone(f"{resource_type}/{resource_id} was deleted")
    return found
