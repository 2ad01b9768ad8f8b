"""Emergency access (nödöppning): grants kept in the database, and the $emergency-access operation.

POST /fhir/Patient/{id}/$emergency-access with a user token and a Parameters resource
holding `reason` opens, for that employee at that care unit only and for
HUB_EMERGENCY_ACCESS_HOURS, the other providers' unblocked data without consent. Blocked
data stays hidden; the answer names only which providers hold blocked data. Every grant
and every access under it is in the audit log, flagged for follow-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, bindparam, select

from consent.emergency import (
    EmergencyRequestError,
    grant_emergency_access,
    grant_from_dict,
    grant_to_dict,
    reason_from_parameters,
)
from consent.facts import EmergencyGrant
from consent.rules import Reason
from hub.access.guard import Access
from hub.errors import Forbidden, InvalidRequest, StoreUnavailable
from hub.fhir_dates import now_us
from hub.store.schema import emergency_grants
from hub.store.sql_store import read_options
from mappings.systems import HSA_SYSTEM


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


_ACTIVE_GRANTS = select(emergency_grants.c.grant).where(
    emergency_grants.c.patient_id == bindparam("patient_id"),
    emergency_grants.c.start_us <= bindparam("moment"),
    emergency_grants.c.end_us > bindparam("moment"),
)

_ACTIVE_GRANTS_MANY = select(emergency_grants.c.patient_id, emergency_grants.c.grant).where(
    emergency_grants.c.patient_id.in_(bindparam("patients", expanding=True)),
    emergency_grants.c.start_us <= bindparam("moment"),
    emergency_grants.c.end_us > bindparam("moment"),
)


class GrantStore:
    """Emergency grants in the hub's database (table emergency_grants)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def moment_in(self, engine: Engine, now: datetime) -> int | None:
        """`now` as the grants table stores times, when the grants live in `engine`'s
        database (a store reads them with the patient's facts then: `parsed`); else None."""
        return _us(now) if engine is self._engine else None

    @staticmethod
    def parsed(rows: Sequence[bytes]) -> list[EmergencyGrant]:
        """Grants from the JSON of their rows."""
        return [grant_from_dict(orjson.loads(row)) for row in rows]

    def save(self, grant: EmergencyGrant, patient_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                emergency_grants.insert().values(
                    grant_id=grant.grant_id,
                    patient_id=patient_id,
                    employee=grant.employee,
                    care_unit=grant.care_unit,
                    start_us=_us(grant.start),
                    end_us=_us(grant.end),
                    created_us=now_us(),
                    grant=orjson.dumps(grant_to_dict(grant)),
                )
            )

    def active_grants(self, patient_id: str, now: datetime) -> list[EmergencyGrant]:
        """One indexed SELECT outside any transaction bracket (every cold decision runs it)."""
        options = read_options(self._engine.dialect.name)
        params = {"patient_id": patient_id, "moment": _us(now)}
        with self._engine.connect() as conn:
            rows = conn.execution_options(**options).execute(_ACTIVE_GRANTS, params)
            return [grant_from_dict(orjson.loads(row.grant)) for row in rows]

    def active_grants_many(
        self, patient_ids: list[str], now: datetime
    ) -> dict[str, list[EmergencyGrant]]:
        """`active_grants` of several patients (a unit's work list) in one SELECT."""
        options = read_options(self._engine.dialect.name)
        found: dict[str, list[EmergencyGrant]] = {p: [] for p in patient_ids}
        if not patient_ids:
            return found
        params = {"patients": list(patient_ids), "moment": _us(now)}
        with self._engine.connect() as conn:
            rows = conn.execution_options(**options).execute(_ACTIVE_GRANTS_MANY, params)
            for row in rows:
                found[row.patient_id].append(grant_from_dict(orjson.loads(row.grant)))
        return found


def open_emergency_access(
    access: Access, patient_id: str, body: dict[str, Any] | None, hours: float
) -> dict[str, Any]:
    """Grant, log and answer; the patient must be one the reader can look up."""
    grants = access.grants
    if not isinstance(grants, GrantStore):
        raise StoreUnavailable("Emergency access is not available on this server")
    principal = access.principal
    if principal is None or principal.kind != "user":
        raise Forbidden("Emergency access is for a user (an employee at a care unit)")
    try:
        reason = reason_from_parameters(body)
    except EmergencyRequestError:
        raise InvalidRequest(
            "Send a Parameters resource with one valueString parameter 'reason'",
            expression="Parameters.parameter",
        ) from None
    access.require_patient(patient_id)
    grant = grant_emergency_access(
        principal, patient_id, reason, access.now, timedelta(hours=hours)
    )
    grants.save(grant, patient_id)
    access.forget(patient_id)
    decision = access.decision(patient_id)
    access.record("emergency-access", [patient_id])
    parameters: list[dict[str, Any]] = [
        {"name": "grant", "valueString": grant.grant_id},
        {"name": "end", "valueDateTime": grant.end.isoformat()},
    ]
    if any(verdict.reason == Reason.NO_RELATIONSHIP for verdict in decision.hidden):
        parameters.append(
            {
                "name": "warning",
                "valueString": (
                    "No care relationship with this patient is registered at your care unit, so "
                    "the grant opens nothing yet: register the contact (for example an Encounter "
                    "of your unit) and read again"
                ),
            }
        )
    parameters += [
        {
            "name": "blockedProvider",
            "valueIdentifier": {"system": HSA_SYSTEM, "value": provider},
        }
        for provider in decision.notice.blocked_providers
    ]
    return {"resourceType": "Parameters", "parameter": parameters}
