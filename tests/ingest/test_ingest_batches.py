"""Batched intake (hub.ingest.batch): many files in one transaction, each all-or-nothing.

A bad file in a batch is quarantined and the others are stored; a file whose writes fail
inside the batch leaves nothing of itself behind; the batch stores what loading the files
one by one stores; the late-message rule holds between files of one batch."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.demo.exports import write_demo_exports
from hub.errors import NotFound
from hub.ingest import IngestRejected, IngestSummary, QuarantineStore, ingest_file
from hub.ingest.batch import IngestResult, ingest_files
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore
from tests.ingest.conftest import GOLDEN, SECRET, RowCounts

ADT = GOLDEN / "hl7v2_adt"
CAREPLAN = GOLDEN / "rivta_careplans" / "01_sip_region_kommun" / "input.xml"
UNMAPPED = GOLDEN / "rivta_carecontacts" / "invalid_unmapped_contact_type" / "input.xml"


def _adt_messages(folder: Path) -> list[tuple[str, bytes]]:
    exports = write_demo_exports(folder, 24, 0)
    files = [(path.name, path.read_bytes()) for adapter, path in exports if adapter == "hl7v2_adt"]
    assert len(files) >= 5
    return files


def _summaries(results: list[IngestResult]) -> list[IngestSummary]:
    assert all(isinstance(result, IngestSummary) for result in results)
    return [result for result in results if isinstance(result, IngestSummary)]


@pytest.mark.usefixtures("ward_registered")
def test_a_batch_stores_what_loading_one_by_one_stores(
    store: SqlStore, row_counts: RowCounts, tmp_path: Path
):
    files = _adt_messages(tmp_path)
    batched = _summaries(list(ingest_files(store, "hl7v2_adt", files, secret=SECRET)))
    assert [s.file for s in batched] == [name for name, _ in files]
    assert all(s.created == s.resources > 0 and s.provenance for s in batched)
    after = row_counts()
    # one by one, the same files are now no-ops with the same Provenance each
    for (name, data), summary in zip(files, batched, strict=True):
        alone = ingest_file(store, "hl7v2_adt", data, name, secret=SECRET)
        assert (alone.created, alone.updated, alone.unchanged) == (0, 0, summary.resources)
        assert alone.provenance == summary.provenance
    again = _summaries(list(ingest_files(store, "hl7v2_adt", files, secret=SECRET)))
    assert all(s.unchanged == s.resources for s in again)
    assert row_counts() == after


@pytest.mark.usefixtures("ward_registered")
def test_a_bad_file_in_a_batch_is_quarantined_and_the_others_are_stored(
    store: SqlStore, row_counts: RowCounts, tmp_path: Path
):
    files = _adt_messages(tmp_path)
    bad = ("broken.hl7", b"MSH|^~\\&|garbage")
    mixed = [*files[:2], bad, *files[2:]]
    results = list(ingest_files(store, "hl7v2_adt", mixed, secret=SECRET, batch_files=100))
    assert [getattr(r, "file", getattr(r, "filename", None)) for r in results] == [
        name for name, _ in mixed
    ]
    rejected = results[2]
    assert isinstance(rejected, IngestRejected)
    assert rejected.quarantine_id is not None
    entry = QuarantineStore(store.engine).get(rejected.quarantine_id, with_raw=True)
    assert (entry.filename, entry.raw) == bad
    stored = _summaries(results[:2] + results[3:])
    assert all(s.created == s.resources > 0 for s in stored)
    # exactly the good files' rows: loading them again adds nothing
    after = row_counts()
    again = _summaries(list(ingest_files(store, "hl7v2_adt", files, secret=SECRET)))
    assert all(s.unchanged == s.resources for s in again)
    assert row_counts() == after


def _refuse_provenance_of(store: SqlStore, digest: str) -> None:
    """A database trigger that refuses the Provenance of one file: its last write."""
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON resource_versions "
                "WHEN NEW.res_type = 'Provenance' AND "
                f"instr(CAST(NEW.content AS TEXT), '{digest}') > 0 "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.res_type = 'Provenance' AND position("
                    f"convert_to('{digest}', 'UTF8') in NEW.content) > 0 THEN "
                    "RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON resource_versions "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_one()"
                )
            )


def _allow_again(store: SqlStore) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER refuse_one"
            + ("" if store.dialect == "sqlite" else " ON resource_versions")
        )
        if store.dialect != "sqlite":
            conn.exec_driver_sql("DROP FUNCTION refuse_one()")


@pytest.mark.usefixtures("ward_registered")
def test_a_file_failing_at_its_last_write_leaves_nothing_of_itself(
    store: SqlStore, row_counts: RowCounts, tmp_path: Path
):
    files = _adt_messages(tmp_path)
    victim_name, victim = files[1]
    _refuse_provenance_of(store, hashlib.sha256(victim).hexdigest())
    results = list(ingest_files(store, "hl7v2_adt", files, secret=SECRET))
    refused = results[1]
    assert isinstance(refused, IngestRejected)
    assert refused.filename == victim_name
    assert refused.status in (409, 500, 503)
    others = _summaries(results[:1] + results[2:])
    assert all(s.created == s.resources > 0 for s in others)
    before = row_counts()
    _allow_again(store)
    # nothing of the refused file was kept: loading it now creates every resource of it
    # that no other file holds, and its Provenance
    stored = ingest_file(store, "hl7v2_adt", victim, victim_name, secret=SECRET)
    assert stored.created > 0 and stored.provenance is not None
    assert stored.created + stored.unchanged == stored.resources
    assert row_counts()[1] == before[1] + stored.created + 1


def test_a_late_message_in_the_same_batch_is_superseded(store: SqlStore, row_counts: RowCounts):
    discharge = (ADT / "a03_discharge" / "input.hl7").read_bytes()
    admission = (ADT / "a01_admission" / "input.hl7").read_bytes()
    results = list(
        ingest_files(
            store, "hl7v2_adt", [("a03.hl7", discharge), ("a01.hl7", admission)], secret=SECRET
        )
    )
    first, late = _summaries(results)
    assert first.created >= 2
    assert late.superseded == 2 and (late.created, late.updated) == (0, 0)
    assert late.superseded_entry is not None
    entry = QuarantineStore(store.engine).get(late.superseded_entry, with_raw=True)
    assert (entry.status, entry.raw) == ("superseded", admission)


def test_files_of_several_batches_and_a_rejected_one_of_another_adapter_kind(
    store: SqlStore, row_counts: RowCounts
):
    good = CAREPLAN.read_bytes()
    files = [("plans.xml", good), ("unmapped.xml", UNMAPPED.read_bytes()), ("again.xml", good)]
    results = list(
        ingest_files(store, "rivta_carecontacts", files[1:2], secret=SECRET, batch_files=1)
    )
    assert isinstance(results[0], IngestRejected)
    assert results[0].error.code == "unmapped-code"
    plans = list(
        ingest_files(store, "rivta_careplans", [files[0], files[2]], secret=SECRET, batch_files=1)
    )
    first, second = _summaries(plans)
    assert first.created == first.resources > 0
    assert second.unchanged == second.resources and second.provenance == first.provenance


def test_a_savepoint_rolls_back_alone(store: SqlStore):
    def patient(name: str) -> dict:
        return {"resourceType": "Patient", "id": name, "active": True}

    with store.unit_of_work() as work:
        work.update(patient("kept"), "kept", WriteContext(None, None))
        with pytest.raises(RuntimeError), work.savepoint():
            work.update(patient("undone"), "undone", WriteContext(None, None))
            work.update({**patient("kept"), "active": False}, "kept", WriteContext(None, None))
            raise RuntimeError("the file failed")
        with work.savepoint():
            work.update(patient("later"), "later", WriteContext(None, None))
    with pytest.raises(NotFound):
        store.read("Patient", "undone")
    kept = store.read("Patient", "kept")
    assert kept is not None and kept.version_id == 1
    assert store.read("Patient", "later") is not None
