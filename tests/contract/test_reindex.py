"""`hub reindex` rebuilds index rows and the patient column from the current definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete, update
from typer.testing import CliRunner

from hub.cli import app
from hub.search.parameters import default_registry
from hub.search.query import parse_search
from hub.search.reindex import reindex
from hub.store import open_store
from hub.store.model import WriteContext
from hub.store.schema import INDEX_TABLES, resources
from hub.store.sql_store import SqlStore

CTX = WriteContext()


def _found(store: SqlStore, resource_type: str, name: str, value: str) -> list[str]:
    query = parse_search(resource_type, [(name, value)], default_registry())
    return [m.id for m in store.search(query).matches]


def test_reindex_restores_lost_rows_and_patient_columns_with_progress(store: SqlStore) -> None:
    with store.unit_of_work() as work:
        for number in range(7):
            work.update(
                {
                    "resourceType": "Immunization",
                    "id": f"i{number}",
                    "status": "completed",
                    "vaccineCode": {"coding": [{"code": "140"}]},
                    "patient": {"reference": "Patient/p1"},
                    "occurrenceDateTime": "2026-02-01",
                },
                f"i{number}",
                CTX,
            )
    with store.engine.begin() as conn:  # as if written under definitions without these
        for table in INDEX_TABLES:
            conn.execute(delete(table))
        conn.execute(update(resources).values(patient_id=None))
    assert _found(store, "Immunization", "vaccine-code", "140") == []
    seen: list[tuple[int, int]] = []
    summary = reindex(store, batch_size=3, progress=lambda done, total: seen.append((done, total)))
    assert summary.resources == 7
    assert summary.patient_changes == 7
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert len(_found(store, "Immunization", "vaccine-code", "140")) == 7
    assert len(_found(store, "Immunization", "date", "2026-02-01")) == 7
    row, _ = store.security_and_version("Immunization", "i3")
    assert row is not None and row.patient_id == "p1"
    again = reindex(store, types=["Immunization"])
    assert again.patient_changes == 0
    assert len(_found(store, "Immunization", "patient", "Patient/p1")) == 7


def test_hub_reindex_command_reports_what_it_did(tmp_path: Path, monkeypatch: Any) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = open_store(url)
    try:
        with store.unit_of_work() as work:
            work.update({"resourceType": "Basic", "id": "b1", "code": {"text": "x"}}, "b1", CTX)
    finally:
        store.close()
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["reindex", "--type", "Basic"])
    assert result.exit_code == 0, result.output
    assert "Reindexed 1 resources" in result.output
    refused = CliRunner().invoke(app, ["reindex", "--type", "NoSuchType"])
    assert refused.exit_code == 2
