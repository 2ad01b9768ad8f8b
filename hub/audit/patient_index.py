"""The index of each audit record's patient, kept behind the appends in batches.

A patient's log extract needs that patient's records out of every access of the hub. An
index of (patient, sequence) updated by every append touches one leaf per record at a
random place (a search page names twenty patients: twenty leaves, each a page written to
the WAL or the heap at commit), which measured more than half of an audited search page's
database work (docs/benchmarks.md). So appends write only the records (appended at the end
of the sequence), and ``audit_patient_index`` catches up in batches:

- ``audit_index_head.sequence`` says how far the index reaches: every record up to it has
  exactly one row (patient, sequence), none after it;
- ``catch_up`` indexes the records after it, at most ``limit`` of them, and moves it, in one
  transaction that locks the index head (two processes never index the same records; on
  PostgreSQL one that finds it locked leaves the work to the other);
- ``patient_records`` is the extract's one statement: the indexed records of the patient
  plus those of the tail after the index head whose patient column names the patient, in
  one snapshot, so a record committed a moment ago is in the extract whether or not the
  index has reached it.

The group commit's leader calls ``catch_up`` once the tail has grown by
``CATCH_UP_EVERY`` records (hub.audit.log), so the tail the extract scans stays short. The
index is derived data: a failed catch-up leaves the tail longer and nothing wrong, and
``hub audit verify`` checks that the index agrees with the records (an index row deleted
to hide an access from the patient is a problem the check reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    and_,
    bindparam,
    func,
    insert,
    select,
    union,
    update,
)

from hub.store.schema import audit_index_head, audit_patient_index, audit_records

__all__ = [
    "CATCH_UP_EVERY",
    "CATCH_UP_LIMIT",
    "IndexHeadMissing",
    "catch_up",
    "index_head",
    "index_problems",
    "indexed_upto",
    "patient_records",
]

CATCH_UP_EVERY = 5000
"""Records appended after the index head before the group commit's leader catches up.
Measured (docs/benchmarks.md, the audit floor): at 500 the catch-ups cost PostgreSQL more
than the index of every append did; at 5,000 a catch-up indexes several records per leaf,
and the tail an extract scans is still a few milliseconds of rows."""

CATCH_UP_LIMIT = 50_000
"""Records indexed in one catch-up transaction at most (a long backlog takes several)."""

_HEAD_ID = 1


class IndexHeadMissing(RuntimeError):
    """The patient index's head row is gone (the log was tampered with): nothing is
    indexed until it is back, and ``verify`` names it."""


def index_head(conn: Connection) -> int | None:
    """The index head (every record up to this sequence is in the index), or None when
    its row is missing."""
    query = select(audit_index_head.c.sequence).where(audit_index_head.c.id == _HEAD_ID)
    found = conn.execute(query).scalar_one_or_none()
    return None if found is None else int(found)


def indexed_upto(conn: Connection) -> int:
    """The index head, 0 when its row is missing (the extract then scans every record)."""
    head = index_head(conn)
    return 0 if head is None else head


def catch_up(conn: Connection, limit: int = CATCH_UP_LIMIT) -> int:
    """Index the records after the index head, at most ``limit``; returns the new head.

    Runs in the caller's write transaction (SQLite: BEGIN IMMEDIATE). On PostgreSQL the
    index head's row is locked FOR UPDATE SKIP LOCKED: while another process catches up,
    this one leaves it to that one and returns the head as it stands. Records are
    committed in sequence order without gaps (the audit head's lock orders appends), so
    every record up to the newest one seen is there. Raises ``IndexHeadMissing`` when the
    head row is gone."""
    locked = conn.execute(
        select(audit_index_head.c.sequence)
        .where(audit_index_head.c.id == _HEAD_ID)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if locked is None:
        standing = index_head(conn)
        if standing is None:
            raise IndexHeadMissing("The audit patient index's head row is missing")
        return standing  # another process holds it and is catching up
    start = int(locked)
    newest = conn.execute(select(func.max(audit_records.c.sequence))).scalar_one_or_none()
    end = min(int(newest or 0), start + limit)
    if end <= start:
        return start
    tail = and_(audit_records.c.sequence > start, audit_records.c.sequence <= end)
    conn.execute(
        insert(audit_patient_index).from_select(
            ["patient_id", "sequence"],
            select(audit_records.c.patient_id, audit_records.c.sequence).where(tail),
        )
    )
    conn.execute(
        update(audit_index_head).where(audit_index_head.c.id == _HEAD_ID).values(sequence=end)
    )
    return end


def patient_records(patient_id: str, since_us: int | None, until_us: int | None) -> Select[Any]:
    """The stored JSON (``record``) and ``sequence`` of the patient's records, in sequence
    order, optionally only those with a time in [since_us, until_us): the indexed ones plus
    the tail's, in one statement and so in one snapshot of index, head and records."""
    records = audit_records.c
    times = []
    if since_us is not None:
        times.append(records.timestamp_us >= bindparam("since_us", since_us, BigInteger))
    if until_us is not None:
        times.append(records.timestamp_us < bindparam("until_us", until_us, BigInteger))
    head = func.coalesce(  # a missing head row: every record is in the tail
        select(audit_index_head.c.sequence)
        .where(audit_index_head.c.id == _HEAD_ID)
        .scalar_subquery(),
        0,
    )
    indexed = select(audit_patient_index.c.sequence).where(
        audit_patient_index.c.patient_id == patient_id
    )
    recent = select(records.sequence).where(
        records.sequence > head, records.patient_id == patient_id
    )
    # UNION, not UNION ALL: an index head moved back by hand would list a record twice
    sequences = union(indexed, recent).subquery()
    return (
        select(records.record, records.sequence)
        .join(sequences, sequences.c.sequence == records.sequence)
        .where(*times)
        .order_by(records.sequence)
    )


def index_problems(
    index_rows: Sequence[tuple[str, int]], head: int | None, patients: dict[int, str]
) -> list[tuple[int, str]]:
    """What ``verify`` reports of the index: (sequence, detail) for every record up to the
    index head that the index lacks or names under another patient, and every index row
    past the head. ``patients`` maps each stored record's sequence to the patient its
    signed content names. A row of a record that is not stored is left to the chain's
    check, which reports the record as deleted."""
    if head is None:
        return [(0, "patient index head missing")]
    found: dict[int, list[str]] = {}
    for patient, sequence in index_rows:
        found.setdefault(int(sequence), []).append(str(patient))
    problems: list[tuple[int, str]] = []
    for sequence, named in sorted(found.items()):
        if sequence > head:
            problems.append((sequence, "patient index reaches past its head"))
        elif sequence in patients and named != [patients[sequence]]:
            problems.append((sequence, "patient index names another patient"))
    for sequence in sorted(patients):
        if sequence <= head and sequence not in found:
            problems.append((sequence, "record missing from the patient index"))
    return problems
