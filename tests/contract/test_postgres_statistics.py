"""PostgreSQL: the planner's statistics are refreshed after a large load, off the request
path (hub.store.postgres.StatisticsRefresher), without waiting for autovacuum."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from hub.store import open_store
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

pytestmark = pytest.mark.postgres


def _analysed(store: SqlStore) -> dict[str, Any]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, last_analyze FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname IN ('resources', 'audit_records')"
            )
        ).all()
    return {name: moment for name, moment in rows}


def _load(store: SqlStore, count: int) -> None:
    with store.unit_of_work() as work:
        for n in range(count):
            patient = {"resourceType": "Patient", "id": f"p{n}", "gender": "female"}
            work.update(patient, patient["id"], WriteContext())


def test_a_load_past_the_threshold_analyses_the_hubs_tables(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        assert store.statistics is not None
        store.statistics.threshold = 1_000_000
        _load(store, 20)
        store.statistics.wait()
        assert store.statistics.runs == 0  # below the threshold: autovacuum's business
        assert _analysed(store)["resources"] is None
        store.statistics.threshold = 100
        _load(store, 40)  # with their versions and search rows, far past 100 rows
        store.statistics.wait()
        assert store.statistics.runs == 1
        analysed = _analysed(store)
        assert analysed["resources"] is not None and analysed["audit_records"] is not None
    finally:
        store.close()
