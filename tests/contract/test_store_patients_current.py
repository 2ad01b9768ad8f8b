"""Store contract: `patients_current` gives one type's live rows of several patients under a
ReadScope, as a search under the same scope would (SQLite and PostgreSQL)."""

from __future__ import annotations

from hub.access.scope import ReadScope
from hub.store.model import WriteContext
from hub.store.sql_store import SqlStore

A = WriteContext("SE2120002122-0000", "SE2120002122-1001")
B = WriteContext("SE2321000164-0000", "SE2321000164-7381")


def _write(store: SqlStore) -> dict[str, list[str]]:
    made: dict[str, list[str]] = {}
    with store.unit_of_work() as work:
        for patient in ("p1", "p2", "p3"):
            work.update({"resourceType": "Patient", "active": True}, patient, WriteContext())
            for number, context in enumerate((A, B)):
                plan = {
                    "resourceType": "CarePlan",
                    "status": "active",
                    "intent": "plan",
                    "subject": {"reference": f"Patient/{patient}"},
                }
                resource_id = f"{patient}-plan-{number}"
                work.update(plan, resource_id, context)
                made.setdefault(patient, []).append(resource_id)
        work.update(
            {
                "resourceType": "EpisodeOfCare",
                "status": "active",
                "patient": {"reference": "Patient/p1"},
            },
            "p1-episode",
            A,
        )
    with store.unit_of_work() as work:
        work.delete("CarePlan", "p2-plan-0")
    return made


def test_one_type_of_several_patients_under_each_patients_grant(store: SqlStore) -> None:
    _write(store)
    scope = ReadScope(
        grants={
            "p1": frozenset({(A.care_provider, A.care_unit), (B.care_provider, B.care_unit)}),
            "p2": frozenset({(A.care_provider, A.care_unit)}),
        }
    )
    found = store.patients_current("CarePlan", ["p1", "p2", "p3"], scope)
    # p1: both; p2: only provider A's, which is deleted; p3: no grant
    assert [(r.patient_id, r.id) for r in found] == [("p1", "p1-plan-0"), ("p1", "p1-plan-1")]
    everything = store.patients_current("CarePlan", ["p2", "p3"], ReadScope.everything())
    assert [r.id for r in everything] == ["p2-plan-1", "p3-plan-0", "p3-plan-1"]
    patients = store.patients_current("Patient", ["p1", "p3"], scope)
    assert [r.id for r in patients] == ["p1", "p3"]  # directory data
    assert store.patients_current("EpisodeOfCare", ["p1"], scope)[0].id == "p1-episode"
    assert store.patients_current("CarePlan", [], scope) == []
