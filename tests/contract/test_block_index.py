"""The index of blocks (hub.store.blocks) follows every Consent write in its transaction,
and the migration that creates it fills it from the Consents already stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from hub.store.migrations import migrate
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

CTX = WriteContext("SE2321000164-0000", "#block-record")


def consent(consent_id: str, patient: str, provision: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": consent_id,
        "status": "active",
        "patient": {"reference": f"Patient/{patient}"},
    }
    if provision is not None:
        resource["provision"] = {"type": provision}
    return resource


def write(store: SqlStore, resource: dict[str, Any]) -> None:
    with store.unit_of_work() as work:
        work.update(resource, resource["id"], CTX)


def test_deny_and_provisionless_consents_are_indexed_and_permits_are_not(
    store: SqlStore,
) -> None:
    assert store.patients_with_blocks() == []
    write(store, consent("deny", "tolvan", "deny"))
    write(store, consent("open", "other", None))
    write(store, consent("yes", "third", "permit"))
    assert store.patients_with_blocks() == ["other", "tolvan"]


def test_a_new_version_or_a_deletion_updates_the_index(store: SqlStore) -> None:
    write(store, consent("c1", "tolvan", "deny"))
    write(store, consent("c1", "tolvan", "permit"))
    assert store.patients_with_blocks() == []
    write(store, consent("c1", "tolvan", "deny"))
    assert store.patients_with_blocks() == ["tolvan"]
    with store.unit_of_work() as work:
        work.delete("Consent", "c1")
    assert store.patients_with_blocks() == []


def test_a_rolled_back_write_leaves_the_index_as_it_was(store: SqlStore) -> None:
    write(store, consent("c1", "tolvan", "deny"))
    with pytest.raises(RuntimeError), store.unit_of_work() as work:
        work.update(consent("c1", "tolvan", "permit"), "c1", CTX)
        work.update(consent("c2", "other", "deny"), "c2", CTX)
        raise RuntimeError("the write fails after the Consent writes")
    assert store.patients_with_blocks() == ["tolvan"]


def test_the_migration_fills_the_index_from_stored_consents(store: SqlStore) -> None:
    write(store, consent("c1", "tolvan", "deny"))
    write(store, consent("c2", "other", "permit"))
    write(store, consent("c3", "third", "deny"))
    with store.unit_of_work() as work:
        work.delete("Consent", "c3")
    with store.engine.begin() as conn:  # a database from before the index
        conn.execute(text("DROP TABLE consent_blocks"))
        conn.execute(text("DELETE FROM schema_migrations WHERE version = 9"))
    assert migrate(store.engine) == [9]
    assert store.patients_with_blocks() == ["tolvan"]


def test_a_rows_blocked_flag_follows_the_index_of_its_patient(store: SqlStore) -> None:
    plan = {
        "resourceType": "CarePlan",
        "id": "plan",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/tolvan"},
    }
    write(store, plan)

    def blocked() -> bool:
        found = store.current_with_facts("CarePlan", "plan", version=False)
        assert found is not None and found.stored.patient_id == "tolvan"
        assert found.version is None
        return found.blocked

    assert blocked() is False
    write(store, consent("c1", "other", "deny"))
    assert blocked() is False
    write(store, consent("c2", "tolvan", "deny"))
    assert blocked() is True
    write(store, consent("c2", "tolvan", "permit"))
    assert blocked() is False
