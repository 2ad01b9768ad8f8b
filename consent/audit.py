"""The tamper-evident access log: records, hash chain, signed checkpoints, verification.

Storage-agnostic and pure: the store persists ``AuditRecord.to_dict()`` and
``Checkpoint.to_dict()`` rows and feeds them back to ``verify``.

- Each record's ``hash`` is SHA-256 over its canonical bytes (orjson, sorted keys, UTC
  timestamps with microseconds), which include ``prev_hash``, the hash of the record
  before it (``GENESIS_HASH`` for sequence 1). Editing, deleting or reordering a record
  breaks the chain at that record.
- Every ``interval`` records a ``Checkpoint`` signs (sequence, hash) with Ed25519. Someone
  without the signing key who edits a record and recomputes every later hash keeps the
  chain consistent, but the next checkpoint no longer matches.
- Records after the last checkpoint are protected by the chain only: deleting the newest
  records is visible only against a later checkpoint. Write a checkpoint on shutdown.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any, Literal

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "EMPTY_CHAIN",
    "FORMAT_VERSION",
    "GENESIS_HASH",
    "AccessEntry",
    "AuditRecord",
    "ChainHead",
    "Checkpoint",
    "Problem",
    "ProblemKind",
    "VerificationReport",
    "canonical_bytes",
    "chain",
    "chain_with_json",
    "checkpoints_for",
    "key_id",
    "next_record",
    "record_hash",
    "sign_checkpoint",
    "verify",
]

FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Audit timestamps must carry a time zone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _fields(
    access: AccessEntry | AuditRecord, sequence: int, timestamp: str, prev_hash: str
) -> dict[str, Any]:
    """Every field of a record but ``hash``, JSON-ready, from an entry or a record: the one
    layout of the canonical bytes and of ``AuditRecord.to_dict``."""
    return {  # every field, by hand: dataclasses.asdict deep-copies and is slow
        "sequence": sequence,
        "timestamp": timestamp,
        "request_id": access.request_id,
        "action": access.action,
        "subject": access.subject,
        "principal_kind": access.principal_kind,
        "care_unit": access.care_unit,
        "care_provider": access.care_provider,
        "role": access.role,
        "patient_id": access.patient_id,
        "shown_providers": list(access.shown_providers),
        "hidden_providers": list(access.hidden_providers),
        "decision": access.decision,
        "reason": access.reason,
        "emergency": access.emergency,
        "basis": list(access.basis),
        "prev_hash": prev_hash,
        "v": FORMAT_VERSION,
    }


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """What one access logs, before it is placed in the chain."""

    timestamp: datetime
    request_id: str
    action: str
    subject: str
    principal_kind: str
    care_unit: str | None
    care_provider: str | None
    role: str | None
    patient_id: str
    shown_providers: tuple[str, ...]
    hidden_providers: tuple[str, ...]
    decision: str
    reason: str
    emergency: bool
    basis: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One access in the chain."""

    sequence: int
    timestamp: datetime
    request_id: str
    action: str
    subject: str
    principal_kind: str
    care_unit: str | None
    care_provider: str | None
    role: str | None
    patient_id: str
    shown_providers: tuple[str, ...]
    hidden_providers: tuple[str, ...]
    decision: str
    reason: str
    emergency: bool
    basis: tuple[str, ...]
    prev_hash: str
    hash: str = field(default="")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (timestamps as UTC ISO text, lists for tuples)."""
        data = _fields(self, self.sequence, _utc_text(self.timestamp), self.prev_hash)
        data["hash"] = self.hash
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditRecord:
        """Inverse of ``to_dict``."""
        return cls(
            sequence=int(data["sequence"]),
            timestamp=datetime.fromisoformat(str(data["timestamp"])),
            request_id=str(data["request_id"]),
            action=str(data["action"]),
            subject=str(data["subject"]),
            principal_kind=str(data["principal_kind"]),
            care_unit=data.get("care_unit"),
            care_provider=data.get("care_provider"),
            role=data.get("role"),
            patient_id=str(data["patient_id"]),
            shown_providers=tuple(data["shown_providers"]),
            hidden_providers=tuple(data["hidden_providers"]),
            decision=str(data["decision"]),
            reason=str(data["reason"]),
            emergency=bool(data["emergency"]),
            basis=tuple(data.get("basis", ())),
            prev_hash=str(data["prev_hash"]),
            hash=str(data.get("hash", "")),
        )


def canonical_bytes(record: AuditRecord) -> bytes:
    """The bytes the record hash covers: every field except ``hash``, sorted keys."""
    data = _fields(record, record.sequence, _utc_text(record.timestamp), record.prev_hash)
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def record_hash(record: AuditRecord) -> str:
    """SHA-256 (hex) of the canonical bytes."""
    return hashlib.sha256(canonical_bytes(record)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where the chain stands: the newest record's sequence and hash (0 and
    ``GENESIS_HASH`` for the empty log). A store that keeps only its head row continues
    the chain from it with ``next_record`` or ``chain``."""

    sequence: int
    hash: str


EMPTY_CHAIN = ChainHead(0, GENESIS_HASH)


def next_record(previous: AuditRecord | ChainHead | None, entry: AccessEntry) -> AuditRecord:
    """Place ``entry`` after ``previous`` (``None`` or ``EMPTY_CHAIN`` starts the chain) and
    hash it."""
    return chain_with_json([entry], previous)[0][0]


def chain(
    entries: Iterable[AccessEntry], previous: AuditRecord | ChainHead | None = None
) -> list[AuditRecord]:
    """Chain entries in order, continuing after ``previous`` (a record or a head)."""
    return [record for record, _json in chain_with_json(entries, previous)]


def chain_with_json(
    entries: Iterable[AccessEntry], previous: AuditRecord | ChainHead | None = None
) -> list[tuple[AuditRecord, bytes]]:
    """Chain entries in order after ``previous``, each record with its stored JSON
    (``orjson.dumps(record.to_dict(), OPT_SORT_KEYS)``, made once here for the store).

    The one place a record gets its sequence, ``prev_hash`` and hash. Each record's dict
    is built and dumped once: the stored JSON is the hashed bytes with the ``hash`` member
    put in its sorted place (``_with_hash``). The entries of one request share one
    timestamp, whose text is made once."""
    head = EMPTY_CHAIN if previous is None else previous
    sequence = head.sequence
    prev_hash = head.hash if head.sequence else GENESIS_HASH
    moment: datetime | None = None
    moment_text = ""
    out: list[tuple[AuditRecord, bytes]] = []
    for entry in entries:
        if entry.timestamp is not moment:
            moment, moment_text = entry.timestamp, _utc_text(entry.timestamp)
        sequence += 1
        canonical = orjson.dumps(
            _fields(entry, sequence, moment_text, prev_hash), option=orjson.OPT_SORT_KEYS
        )
        digest = sha256(canonical).hexdigest()
        record = AuditRecord(
            sequence,
            entry.timestamp,
            entry.request_id,
            entry.action,
            entry.subject,
            entry.principal_kind,
            entry.care_unit,
            entry.care_provider,
            entry.role,
            entry.patient_id,
            tuple(entry.shown_providers),
            tuple(entry.hidden_providers),
            entry.decision,
            entry.reason,
            entry.emergency,
            tuple(entry.basis),
            prev_hash,
            digest,
        )
        out.append((record, _with_hash(canonical, digest)))
        prev_hash = digest
    return out


_HASH_FOLLOWS = b',"hidden_providers":'
"""The member after ``hash`` in sorted order: ``hash`` sorts between ``emergency`` and
``hidden_providers``. These bytes occur once in canonical bytes: inside a JSON string a
quote is escaped, so a value can never hold ``"hidden_providers":``."""


def _with_hash(canonical: bytes, digest: str) -> bytes:
    """``canonical`` (sorted keys, without ``hash``) with ``"hash":digest`` in its sorted
    place: byte for byte ``orjson.dumps(record.to_dict(), OPT_SORT_KEYS)``, without
    dumping the record a second time."""
    at = canonical.index(_HASH_FOLLOWS)
    return b"".join((canonical[:at], b',"hash":"', digest.encode("ascii"), b'"', canonical[at:]))


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short stable id of a public key: the first 16 hex digits of SHA-256 of its bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """An Ed25519 signature over the hash of the record with ``sequence``."""

    sequence: int
    record_hash: str
    key_id: str
    signature: str

    def signed_bytes(self) -> bytes:
        """The message the signature covers."""
        return _checkpoint_message(self.sequence, self.record_hash, self.key_id)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Inverse of ``to_dict``."""
        return cls(
            sequence=int(data["sequence"]),
            record_hash=str(data["record_hash"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )


def _checkpoint_message(sequence: int, hash_text: str, kid: str) -> bytes:
    payload = {"key_id": kid, "record_hash": hash_text, "sequence": sequence, "v": FORMAT_VERSION}
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def sign_checkpoint(record: AuditRecord, private_key: Ed25519PrivateKey) -> Checkpoint:
    """Sign the hash of ``record``."""
    kid = key_id(private_key.public_key())
    signature = private_key.sign(_checkpoint_message(record.sequence, record.hash, kid))
    return Checkpoint(
        sequence=record.sequence,
        record_hash=record.hash,
        key_id=kid,
        signature=base64.b64encode(signature).decode("ascii"),
    )


def checkpoints_for(
    records: Iterable[AuditRecord], private_key: Ed25519PrivateKey, interval: int
) -> list[Checkpoint]:
    """Checkpoints for every record whose sequence is a multiple of ``interval``."""
    if interval < 1:
        raise ValueError("The checkpoint interval must be positive")
    return [
        sign_checkpoint(record, private_key)
        for record in records
        if record.sequence % interval == 0
    ]


ProblemKind = Literal[
    "edited",
    "deleted",
    "reordered",
    "rewritten",
    "bad-signature",
    "unknown-key",
    "missing-checkpoint",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding; ``sequence`` names the first record concerned."""

    kind: ProblemKind
    sequence: int
    detail: str


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """The result of ``verify``: ``ok`` when no problem was found."""

    records_checked: int
    checkpoints_checked: int
    last_signed_sequence: int | None
    unsigned_tail: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        """The problem with the lowest sequence number."""
        return min(self.problems, key=lambda problem: problem.sequence, default=None)


def _order_problems(records: Sequence[AuditRecord]) -> list[Problem]:
    problems: list[Problem] = []
    present = {record.sequence for record in records}
    highest = 0
    for record in records:
        if record.sequence <= highest:
            problems.append(Problem("reordered", record.sequence, "record out of order"))
        elif record.sequence > highest + 1:
            moved = [
                sequence for sequence in range(highest + 1, record.sequence) if sequence in present
            ]
            if moved:
                problems.append(Problem("reordered", moved[0], "record out of order"))
        highest = max(highest, record.sequence)
    gap_start: int | None = None
    for sequence in range(1, highest + 2):
        if sequence not in present and sequence <= highest:
            gap_start = sequence if gap_start is None else gap_start
        elif gap_start is not None:
            detail = f"records {gap_start}..{sequence - 1} missing"
            problems.append(Problem("deleted", gap_start, detail))
            gap_start = None
    return problems


def _content_problems(records: Sequence[AuditRecord]) -> list[Problem]:
    problems: list[Problem] = []
    by_sequence = {record.sequence: record for record in records}
    for record in records:
        if record_hash(record) != record.hash:
            problems.append(Problem("edited", record.sequence, "content does not match its hash"))
            continue
        if record.sequence == 1:
            if record.prev_hash != GENESIS_HASH:
                problems.append(Problem("edited", 1, "first record does not start the chain"))
            continue
        previous = by_sequence.get(record.sequence - 1)
        if previous is not None and record.prev_hash != previous.hash:
            detail = "record rehashed after an edit; the next record links the old hash"
            problems.append(Problem("edited", previous.sequence, detail))
    return problems


def verify(
    records: Iterable[AuditRecord],
    checkpoints: Iterable[Checkpoint],
    public_key: Ed25519PublicKey,
    interval: int | None = None,
) -> VerificationReport:
    """Check the chain and the checkpoints; name every edited, deleted or moved record.

    ``records`` must be given in storage order by sequence. With ``interval`` a checkpoint
    is expected for every multiple of it up to the last record.
    """
    ordered = list(records)
    problems = _order_problems(ordered) + _content_problems(ordered)
    by_sequence = {record.sequence: record for record in ordered}
    kid = key_id(public_key)
    signed: list[Checkpoint] = []
    all_checkpoints = sorted(checkpoints, key=lambda checkpoint: checkpoint.sequence)
    for checkpoint in all_checkpoints:
        if checkpoint.key_id != kid:
            problems.append(Problem("unknown-key", checkpoint.sequence, "checkpoint key unknown"))
            continue
        try:
            public_key.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_bytes())
        except (InvalidSignature, ValueError):
            problems.append(Problem("bad-signature", checkpoint.sequence, "signature invalid"))
            continue
        signed.append(checkpoint)
    previous_good = 0
    for checkpoint in signed:
        record = by_sequence.get(checkpoint.sequence)
        if record is None:
            problems.append(
                Problem("deleted", checkpoint.sequence, "signed record missing from the log")
            )
        elif record.hash != checkpoint.record_hash:
            detail = f"records {previous_good + 1}..{checkpoint.sequence} rewritten after signing"
            problems.append(Problem("rewritten", previous_good + 1, detail))
        else:
            previous_good = checkpoint.sequence
    last_sequence = max(by_sequence, default=0)
    if interval is not None:
        have = {checkpoint.sequence for checkpoint in all_checkpoints}
        for sequence in range(interval, last_sequence + 1, interval):
            if sequence not in have:
                problems.append(Problem("missing-checkpoint", sequence, "checkpoint missing"))
    last_signed = max((checkpoint.sequence for checkpoint in signed), default=None)
    tail = last_sequence - (last_signed or 0) if last_sequence > (last_signed or 0) else 0
    unique = list(dict.fromkeys(problems))
    return VerificationReport(
        records_checked=len(ordered),
        checkpoints_checked=len(all_checkpoints),
        last_signed_sequence=last_signed,
        unsigned_tail=tail,
        problems=tuple(sorted(unique, key=lambda problem: problem.sequence)),
    )
