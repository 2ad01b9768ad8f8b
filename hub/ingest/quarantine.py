"""The quarantine: raw bytes of every rejected file, kept in the database for replay.

The table ingest_quarantine is created by migration 3 (hub/store/migrations.py). The
database is the place because several hub processes share it, so nothing is lost when one
process's disk is not shared. Entries hold the error's code, location and message (adapter
messages never carry patient data) and the raw bytes; `status` is `quarantined` until a
replay succeeds, then `replayed`. A file that was stored but whose records came late (the
stored state is newer) is kept as `superseded`, with the reason, so it is never lost.

The same bytes rejected again (the same SHA-256 through the same adapter) are one entry:
the repeat counts in `attempts` and leaves the newest error. A unique index over adapter,
hash and status (quarantined or superseded; migration 11) keeps it one when two uploads
of the same bytes arrive at once: the insert is an upsert (INSERT ... ON CONFLICT DO
UPDATE), on SQLite and PostgreSQL alike. `purge` deletes the entries
received before a moment (`hub ingest quarantine purge --before DATE`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from hub.errors import Conflict, NotFound, StoreUnavailable
from hub.store.schema import KEPT_ONCE, ingest_quarantine

__all__ = [
    "ACCESS_RULE_CODES",
    "QuarantineEntry",
    "QuarantineError",
    "QuarantineStatus",
    "QuarantineStore",
    "ReplayNeedsForce",
    "quarantine_table",
]

QuarantineStatus = Literal["quarantined", "replayed", "superseded"]

quarantine_table = ingest_quarantine

ACCESS_RULE_CODES = frozenset({"forbidden"})
"""Error codes of files refused by an access rule (the loading client may not load those
records); replaying one needs --force, since the CLI loads every provider's records."""


class ReplayNeedsForce(Conflict):
    """A replay of an entry an access rule refused was asked for without force."""

    def __init__(self, entry: QuarantineEntry) -> None:
        super().__init__(
            f"Entry {entry.id} was refused by an access rule (error code {entry.error_code}: "
            f"{entry.error_message}); a replay loads it under the CLI's authority, which may "
            "load every care provider's records. Replay with --force to load it anyway."
        )
        self.entry_id = entry.id
        self.error_code = entry.error_code


def _now_us() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def _instant(micros: int | None) -> str | None:
    if micros is None:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined file: metadata, the error, and (when asked for) the raw bytes."""

    id: int
    adapter: str
    filename: str
    source_system: str | None
    received_at: str
    sha256: str
    size: int
    http_status: int
    error_code: str
    error_location: str | None
    error_message: str
    status: QuarantineStatus
    attempts: int
    replayed_at: str | None
    raw: bytes | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready metadata and error (never the raw bytes)."""
        return {
            "id": self.id,
            "adapter": self.adapter,
            "filename": self.filename,
            "source_system": self.source_system,
            "received_at": self.received_at,
            "sha256": self.sha256,
            "size": self.size,
            "http_status": self.http_status,
            "error": {
                "code": self.error_code,
                "location": self.error_location,
                "message": self.error_message,
            },
            "status": self.status,
            "attempts": self.attempts,
            "replayed_at": self.replayed_at,
        }


@dataclass(frozen=True)
class QuarantineError:
    """What went wrong with a file, as the quarantine records it."""

    http_status: int
    code: str
    location: str | None
    message: str


class QuarantineStore:
    """Reads and writes the quarantine table on one engine (the store's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        *,
        adapter: str,
        filename: str,
        source_system: str | None,
        sha256: str,
        raw: bytes,
        error: QuarantineError,
        status: QuarantineStatus = "quarantined",
    ) -> int:
        """Keep a rejected (or superseded) file; returns the entry id. A quarantined file
        whose bytes an entry of the same adapter already holds is that entry, its attempts
        counted up and its error the newest."""
        values = {
            "adapter": adapter,
            "filename": filename[:255],
            "source_system": source_system[:255] if source_system else None,
            "received_at": _now_us(),
            "sha256": sha256,
            "size": len(raw),
            "http_status": error.http_status,
            "error_code": error.code[:64],
            "error_location": error.location,
            "error_message": error.message,
            "raw": raw,
            "status": status,
            "attempts": 1,
            "replayed_at": None,
        }
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(quarantine_table).values(**values)
        excluded = stmt.excluded
        repeated: dict[str, Any] = (
            {
                "http_status": excluded.http_status,
                "error_code": excluded.error_code,
                "error_location": excluded.error_location,
                "error_message": excluded.error_message,
                "attempts": quarantine_table.c.attempts + 1,
            }
            if status == "quarantined"
            else {"attempts": quarantine_table.c.attempts}  # superseded: found, not counted
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=[
                quarantine_table.c.adapter,
                quarantine_table.c.sha256,
                quarantine_table.c.status,
            ],
            index_where=quarantine_table.c.status.in_(KEPT_ONCE),
            set_=repeated,
        ).returning(quarantine_table.c.id)
        with self._begin() as conn:
            return int(conn.execute(upsert).scalar_one())

    def purge(self, before: datetime) -> int:
        """Delete every entry (any status) received before `before`; returns how many."""
        cutoff = int(before.timestamp() * 1_000_000)
        with self._begin() as conn:
            result = conn.execute(
                delete(quarantine_table).where(quarantine_table.c.received_at < cutoff)
            )
        return int(result.rowcount or 0)

    def find(self, sha256: str, *, status: QuarantineStatus) -> int | None:
        """The oldest entry holding a file with this hash and status, if any."""
        stmt = (
            select(quarantine_table.c.id)
            .where(quarantine_table.c.sha256 == sha256, quarantine_table.c.status == status)
            .order_by(quarantine_table.c.id)
            .limit(1)
        )
        with self._connect() as conn:
            found = conn.execute(stmt).scalar()
        return int(found) if found is not None else None

    def entries(
        self, *, status: QuarantineStatus | None = None, limit: int = 100
    ) -> list[QuarantineEntry]:
        """Newest first, metadata only."""
        columns = [c for c in quarantine_table.c if c.name != "raw"]
        stmt = select(*columns).order_by(quarantine_table.c.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(quarantine_table.c.status == status)
        with self._connect() as conn:
            return [self._entry(row._mapping, raw=None) for row in conn.execute(stmt)]

    def count(self, *, status: QuarantineStatus | None = None) -> int:
        stmt = select(func.count()).select_from(quarantine_table)
        if status is not None:
            stmt = stmt.where(quarantine_table.c.status == status)
        with self._connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def get(self, entry_id: int, *, with_raw: bool = False) -> QuarantineEntry:
        """One entry; NotFound when there is none with this id."""
        stmt = select(quarantine_table).where(quarantine_table.c.id == entry_id)
        with self._connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFound(f"No quarantine entry {entry_id}")
        mapping = row._mapping
        return self._entry(mapping, raw=bytes(mapping["raw"]) if with_raw else None)

    def mark_replayed(self, entry_id: int) -> None:
        """A replay stored the file: the entry stays (with its bytes) as `replayed`."""
        self._update(
            entry_id,
            status="replayed",
            replayed_at=_now_us(),
            attempts=quarantine_table.c.attempts + 1,
        )

    def record_failed_replay(self, entry_id: int, error: QuarantineError) -> None:
        """A replay was rejected again: keep the newest error, count the attempt."""
        self._update(
            entry_id,
            http_status=error.http_status,
            error_code=error.code[:64],
            error_location=error.location,
            error_message=error.message,
            attempts=quarantine_table.c.attempts + 1,
        )

    def _update(self, entry_id: int, **values: object) -> None:
        with self._begin() as conn:
            conn.execute(
                update(quarantine_table).where(quarantine_table.c.id == entry_id).values(**values)
            )

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError:
            raise StoreUnavailable("The database is unavailable or busy; retry") from None

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        except OperationalError:
            raise StoreUnavailable("The database is unavailable or busy; retry") from None

    @staticmethod
    def _entry(row: RowMapping, raw: bytes | None) -> QuarantineEntry:
        return QuarantineEntry(
            id=int(row["id"]),
            adapter=row["adapter"],
            filename=row["filename"],
            source_system=row["source_system"],
            received_at=_instant(row["received_at"]) or "",
            sha256=row["sha256"],
            size=int(row["size"]),
            http_status=int(row["http_status"]),
            error_code=row["error_code"],
            error_location=row["error_location"],
            error_message=row["error_message"],
            status=row["status"],
            attempts=int(row["attempts"]),
            replayed_at=_instant(row["replayed_at"]),
            raw=raw,
        )
