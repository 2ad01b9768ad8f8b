"""The demo lasts: every demo user sees their part today, a year later, and in a demo
dated a year ahead; loading it again leaves what users wrote alone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from hub.access.guard import Access
from hub.auth.principal import principal_from_claims
from hub.demo.clinical import DEMO_RELATIVE
from hub.demo.exports import demo_people, write_demo_exports
from hub.demo.load import demo_patient_id, holds_demo, load_demo
from hub.demo.users import DEMO_CLIENTS, DemoClient
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

SECRET = "demo-test-secret"
USERS = [client for client in DEMO_CLIENTS if client.sees is not None]


def _principal(client: DemoClient):
    claims = {"sub": client.subject, "scope": " ".join(client.scopes)}
    for name, value in (("care_unit", client.care_unit), ("care_provider", client.care_provider)):
        if value is not None:
            claims[name] = value
    return principal_from_claims(claims)


def _shown(store: SqlStore, client: DemoClient, patient: str, now: datetime) -> int:
    access = Access(store, _principal(client), audit=None, request_id="test", now=now)
    return len(access.decision(patient).visible_pairs)


def _seen_by(store: SqlStore, client: DemoClient, now: datetime, patients: int) -> list[int]:
    people = demo_people(patients, 0)
    return [
        index
        for index, person in enumerate(people)
        if _shown(store, client, demo_patient_id(person, SECRET), now)
    ]


def test_the_four_users_are_the_ones_the_issue_names():
    assert [c.variable for c in USERS] == ["NURSE", "PHYSICIAN", "HOSPITAL", "RELATIVE"]
    relative = next(c for c in USERS if c.variable == "RELATIVE")
    assert relative.subject == DEMO_RELATIVE


@pytest.mark.parametrize("shift_days", [0, 365])
def test_every_user_sees_their_part_now_and_a_year_later(
    tmp_path: Path, store: SqlStore, shift_days: int
):
    today = date.today() + timedelta(days=shift_days)
    load = load_demo(store, tmp_path / "exports", SECRET, patients=12, today=today)
    assert not load.already_loaded and load.parts["clinical"] > 0
    assert all(summary.rejected == 0 for summary in load.summaries)
    loaded_at = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=12)
    for moment in (loaded_at, loaded_at + timedelta(days=365)):
        for client in USERS:
            seen = _seen_by(store, client, moment, 12)
            lasting = [i for i in range(12) if client.sees and client.sees(i, 12)]
            assert lasting and set(lasting) <= set(seen), (client.variable, moment)
            assert len(seen) < 12, client.variable  # a care relationship, not everyone


def test_the_same_seed_gives_the_same_records_shifted(tmp_path: Path):
    first = write_demo_exports(tmp_path / "a", 6, seed=3, today=date(2026, 3, 1))
    later = write_demo_exports(tmp_path / "b", 6, seed=3, today=date(2026, 3, 11))
    assert [p.name for _, p in first] == [p.name for _, p in later]
    for (_, a), (_, b) in zip(first, later, strict=True):
        if a.suffix != ".xml":
            continue
        old, new = a.read_text(), b.read_text()
        assert old != new
        stamps = re.compile(r"<core:(?:documentTime|start|end|authorTime)>(\d{14})<")
        shifted = [
            f"{datetime.strptime(s, '%Y%m%d%H%M%S') + timedelta(days=10):%Y%m%d%H%M%S}"
            for s in stamps.findall(old)
        ]
        assert shifted == stamps.findall(new)
        assert stamps.sub("", old) == stamps.sub("", new)


def test_loading_again_changes_nothing_a_user_wrote(tmp_path: Path, store: SqlStore):
    load_demo(store, tmp_path / "exports", SECRET, patients=6)
    assert holds_demo(store, SECRET)
    person = demo_people(6, 0)[0]
    stored = orjson.loads(store.read("Patient", demo_patient_id(person, SECRET)).content)
    stored["gender"] = "other"
    with store.unit_of_work() as work:
        work.update(stored, stored["id"], WriteContext())
    again = load_demo(store, tmp_path / "exports", SECRET, patients=6)
    assert again.already_loaded and again.summaries == []
    current = orjson.loads(store.read("Patient", stored["id"]).content)
    assert current["gender"] == "other"
    reloaded = load_demo(store, tmp_path / "exports", SECRET, patients=6, reload=True)
    assert not reloaded.already_loaded and reloaded.summaries
