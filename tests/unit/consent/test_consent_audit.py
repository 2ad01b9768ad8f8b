"""The audit chain: hashing, checkpoints, and tamper detection."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent import AccessEntry, AuditRecord, chain, checkpoints_for, next_record, verify
from consent.audit import GENESIS_HASH, Checkpoint, chain_with_json, record_hash

KEY = Ed25519PrivateKey.generate()
START = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
INTERVAL = 5


def entry(number: int, *, emergency: bool = False) -> AccessEntry:
    return AccessEntry(
        timestamp=START + timedelta(minutes=number),
        request_id=f"req-{number}",
        action="read",
        subject="SE2120000001-E1",
        principal_kind="user",
        care_unit="SE2120000001-HSV",
        care_provider="SE2120000001-K",
        role=None,
        patient_id=f"pat-{number % 3}",
        shown_providers=("SE2120000001-K",),
        hidden_providers=("SE2321000016-R",),
        decision="partial",
        reason="no-consent,own-unit",
        emergency=emergency,
        basis=("EpisodeOfCare/ep1",),
    )


def log(count: int = 12) -> tuple[list[AuditRecord], list[Checkpoint]]:
    records = chain(entry(number) for number in range(count))
    return records, checkpoints_for(records, KEY, INTERVAL)


def rehash_from(records: list[AuditRecord], start_index: int) -> list[AuditRecord]:
    """What someone without the signing key can do: recompute every later hash."""
    fixed = records[:start_index]
    previous = fixed[-1] if fixed else None
    for record in records[start_index:]:
        relinked = replace(
            record,
            prev_hash=previous.hash if previous else GENESIS_HASH,
            sequence=previous.sequence + 1 if previous else 1,
        )
        relinked = replace(relinked, hash=record_hash(relinked))
        fixed.append(relinked)
        previous = relinked
    return fixed


def test_records_are_numbered_and_linked_from_the_genesis_hash() -> None:
    records, _ = log(3)
    assert [record.sequence for record in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS_HASH
    assert records[1].prev_hash == records[0].hash
    assert next_record(records[-1], entry(9)).prev_hash == records[-1].hash


def test_an_untouched_log_verifies() -> None:
    records, checkpoints = log()
    report = verify(records, checkpoints, KEY.public_key(), INTERVAL)
    assert report.ok
    assert report.last_signed_sequence == 10
    assert report.unsigned_tail == 2
    assert report.records_checked == 12


def test_a_record_survives_storage_as_a_dict() -> None:
    records, _ = log(2)
    restored = [AuditRecord.from_dict(record.to_dict()) for record in records]
    assert restored == records
    assert verify(restored, [], KEY.public_key()).ok


def test_an_edited_record_is_named() -> None:
    records, checkpoints = log()
    records[6] = replace(records[6], subject="SE2120000001-E9")
    report = verify(records, checkpoints, KEY.public_key(), INTERVAL)
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.sequence) == ("edited", 7)


def test_an_edited_and_rehashed_record_is_named_by_the_broken_link() -> None:
    records, checkpoints = log()
    edited = replace(records[11], emergency=True)
    records[11] = replace(edited, hash=record_hash(edited))
    records[10] = replace(records[10], decision="permit")
    records[10] = replace(records[10], hash=record_hash(records[10]))
    report = verify(records, checkpoints, KEY.public_key(), INTERVAL)
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.sequence) == ("edited", 11)


def test_a_deleted_record_is_named() -> None:
    records, checkpoints = log()
    del records[3]
    report = verify(records, checkpoints, KEY.public_key(), INTERVAL)
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.sequence) == ("deleted", 4)


def test_reordered_records_are_named() -> None:
    records, checkpoints = log()
    records[2], records[3] = records[3], records[2]
    report = verify(records, checkpoints, KEY.public_key(), INTERVAL)
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.sequence) == ("reordered", 3)
    assert {problem.kind for problem in report.problems} == {"reordered"}


def test_an_edit_rehashed_to_the_end_without_the_key_is_caught_by_the_next_checkpoint() -> None:
    records, checkpoints = log()
    records[6] = replace(records[6], patient_id="pat-other")
    rewritten = rehash_from(records, 6)
    report = verify(rewritten, checkpoints, KEY.public_key(), INTERVAL)
    assert not report.ok
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.sequence) == ("rewritten", 6)
    assert "6..10" in report.first_problem.detail


def test_a_deletion_renumbered_and_rehashed_without_the_key_is_caught() -> None:
    records, checkpoints = log()
    del records[2]
    rewritten = rehash_from(records, 2)
    report = verify(rewritten, checkpoints, KEY.public_key(), INTERVAL)
    assert report.first_problem is not None
    assert report.first_problem.kind == "rewritten"
    assert report.first_problem.sequence == 1


def test_a_swap_rehashed_without_the_key_is_caught() -> None:
    records, checkpoints = log()
    records[7], records[8] = records[8], records[7]
    rewritten = rehash_from(records, 7)
    report = verify(rewritten, checkpoints, KEY.public_key(), INTERVAL)
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.sequence) == ("rewritten", 6)


def test_a_forged_checkpoint_signature_is_reported() -> None:
    records, checkpoints = log()
    records[6] = replace(records[6], patient_id="pat-other")
    rewritten = rehash_from(records, 6)
    forger = Ed25519PrivateKey.generate()
    forged = checkpoints_for(rewritten, forger, INTERVAL)
    relabelled = [replace(c, key_id=checkpoints[0].key_id) for c in forged]
    report = verify(rewritten, relabelled, KEY.public_key(), INTERVAL)
    kinds = {problem.kind for problem in report.problems}
    assert "bad-signature" in kinds
    assert report.last_signed_sequence is None


def test_a_checkpoint_from_an_unknown_key_is_reported() -> None:
    records, _ = log()
    other = checkpoints_for(records, Ed25519PrivateKey.generate(), INTERVAL)
    report = verify(records, other, KEY.public_key(), INTERVAL)
    assert {problem.kind for problem in report.problems} == {"unknown-key"}


def test_a_deleted_checkpoint_is_reported() -> None:
    records, checkpoints = log()
    report = verify(records, checkpoints[:1], KEY.public_key(), INTERVAL)
    assert [(p.kind, p.sequence) for p in report.problems] == [("missing-checkpoint", 10)]


def test_truncating_signed_records_is_reported() -> None:
    records, checkpoints = log()
    report = verify(records[:8], checkpoints, KEY.public_key(), INTERVAL)
    assert ("deleted", 10) in {(p.kind, p.sequence) for p in report.problems}


def test_a_first_record_not_starting_the_chain_is_reported() -> None:
    records, _ = log(2)
    records[0] = replace(records[0], prev_hash="f" * 64)
    records[0] = replace(records[0], hash=record_hash(records[0]))
    records[1] = replace(records[1], prev_hash=records[0].hash)
    records[1] = replace(records[1], hash=record_hash(records[1]))
    report = verify(records, [], KEY.public_key())
    assert report.first_problem is not None
    assert (report.first_problem.kind, report.first_problem.sequence) == ("edited", 1)


def test_problem_details_never_carry_record_content() -> None:
    records, checkpoints = log()
    records[4] = replace(records[4], patient_id="pat-secret")
    report = verify(rehash_from(records, 4), checkpoints, KEY.public_key(), INTERVAL)
    assert report.problems
    assert all("pat" not in problem.detail for problem in report.problems)


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError):
        next_record(None, replace(entry(1), timestamp=datetime(2025, 1, 1)))


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'a "quoted" reason',
        '","hidden_providers":["x"],"hash":"0',
        "back\\slash and ünïcödé",
        '"hidden_providers":',
    ],
)
def test_the_stored_json_is_the_sorted_dump_of_the_record_with_its_hash(text: str) -> None:
    """chain_with_json puts the hash into the hashed bytes instead of dumping twice: the
    result must be byte for byte the sorted dump of to_dict, whatever the values hold."""
    tricky = replace(
        entry(1),
        reason=text,
        decision=text,
        care_provider=text,
        basis=(text,),
        hidden_providers=(text,),
        request_id=text,
    )
    for record, stored in chain_with_json([entry(0), tricky, entry(2)]):
        assert stored == orjson.dumps(record.to_dict(), option=orjson.OPT_SORT_KEYS)
        assert AuditRecord.from_dict(orjson.loads(stored)) == record
        assert record_hash(record) == record.hash
