"""Revoked bearer tokens (``HUB_TOKEN_REVOCATION_PATH``), written by ``hub token revoke``.

The list is a small JSON file beside the JWKS, so every worker process of a machine (and
every machine that mounts the same key folder) reads the same list:

    {"jti": {"<jti>": <exp>}, "digest": {"<sha256 hex of the token>": <exp>},
     "sub": {"<sub>": <revoked at>}}

A token is revoked when its ``jti`` or its digest is listed, or when its ``sub`` is listed
with a time at or after the token's ``iat`` (every token of that subject issued until the
revocation; tokens issued later work again). Entries of ``jti`` and ``digest`` keep the
token's ``exp`` so that ``hub token revoke`` can drop them once the token has expired anyway.

``WatchedFile`` tells when a file changed (inode, size, modification time), looked at no
more often than once per ``interval`` seconds: the verifier checks the revocation list and
the JWKS that way, so a revocation or a removed key takes effect within one second without
a system call per request.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

__all__ = ["RevocationList", "WatchedFile", "revoke", "token_digest"]

Clock = Callable[[], float]


def token_digest(token: str) -> str:
    """The SHA-256 hex digest a revoked token is listed by when it has no ``jti``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class WatchedFile:
    """A file whose changes are noticed within ``interval`` seconds of the clock."""

    path: Path
    interval: float = 1.0
    clock: Clock = time.monotonic
    _signature: tuple[int, int, int] | None = None
    _next_look: float = field(default=float("-inf"))

    def changed(self) -> bool:
        """True when the file differs from the last look (first look: True if it exists)."""
        now = self.clock()
        if now < self._next_look:
            return False
        self._next_look = now + self.interval
        try:
            status = self.path.stat()
            signature: tuple[int, int, int] | None = (
                status.st_ino,
                status.st_size,
                status.st_mtime_ns,
            )
        except OSError:
            signature = None
        if signature == self._signature:
            return False
        self._signature = signature
        return True


@dataclass(frozen=True, slots=True)
class RevocationList:
    """The revoked ``jti`` values, token digests and subjects (with revocation times)."""

    jti: frozenset[str] = frozenset()
    digests: frozenset[str] = frozenset()
    subjects: dict[str, float] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> RevocationList:
        """The list in a file; a missing file is an empty list, a broken one an error."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls()
        document = orjson.loads(raw)
        if not isinstance(document, dict):
            raise ValueError("The revocation list is not a JSON object")
        return cls(
            jti=frozenset(_members(document, "jti")),
            digests=frozenset(_members(document, "digest")),
            subjects={sub: float(at) for sub, at in _members(document, "sub").items()},
        )

    def revokes(self, *, jti: object, digest: str, sub: object, iat: object) -> bool:
        """True when a token with these claims (and this digest) is revoked."""
        if isinstance(jti, str) and jti in self.jti:
            return True
        if digest in self.digests:
            return True
        if isinstance(sub, str) and sub in self.subjects:
            issued = float(iat) if isinstance(iat, int | float) else float("-inf")
            return issued <= self.subjects[sub]
        return False


def _members(document: dict[str, object], name: str) -> dict[str, float]:
    section = document.get(name, {})
    if not isinstance(section, dict):
        raise ValueError(f"The revocation list's {name!r} is not an object")
    return {str(key): float(value) for key, value in section.items()}


def revoke(
    path: Path,
    *,
    jti: str | None = None,
    digest: str | None = None,
    sub: str | None = None,
    expires_at: float | None = None,
    now: float | None = None,
) -> None:
    """Add a revocation to the file (atomically replaced); drop entries past their exp."""
    moment = time.time() if now is None else now
    try:
        document = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        document = {}
    sections = {name: dict(_members(document, name)) for name in ("jti", "digest", "sub")}
    keep_until = expires_at if expires_at is not None else moment + 7 * 24 * 3600
    if jti is not None:
        sections["jti"][jti] = keep_until
    if digest is not None:
        sections["digest"][digest] = keep_until
    if sub is not None:
        sections["sub"][sub] = moment
    for name in ("jti", "digest"):
        sections[name] = {key: exp for key, exp in sections[name].items() if exp >= moment}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".revoked-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(orjson.dumps(sections, option=orjson.OPT_SORT_KEYS))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
