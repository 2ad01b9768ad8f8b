"""ReadScope: what one reader may see, as data the store turns into a WHERE clause.

The access layer (hub/access.py) builds a ReadScope from the PDL decision; the store
applies `scope.condition(table)` to every query of a read path (matches, includes, totals,
history, $everything), so hidden rows are never fetched, counted or paged over.

    unrestricted      no filter (HUB_AUTH=off only)
    directory types   Patient, Organization, Practitioner, PractitionerRole: always visible
    types             if set, only these resource types (the token's read scopes)
    provider          a system client: every row of its own care provider
    grants            a user: per patient, the visible (care provider, care unit) pairs
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

DIRECTORY_TYPES: frozenset[str] = frozenset(
    {"Patient", "Organization", "Practitioner", "PractitionerRole"}
)

Pairs = frozenset[tuple[str, str | None]]


@dataclass(frozen=True)
class ReadScope:
    unrestricted: bool = False
    provider: str | None = None
    grants: dict[str, Pairs] = field(default_factory=dict)
    types: frozenset[str] | None = None

    @classmethod
    def everything(cls) -> ReadScope:
        return cls(unrestricted=True)

    @classmethod
    def directory_only(cls) -> ReadScope:
        return cls()

    def allows(
        self,
        resource_type: str,
        patient_id: str | None,
        care_provider: str | None,
        care_unit: str | None,
    ) -> bool:
        """The same rule as `condition`, for one row already in hand."""
        if self.types is not None and resource_type not in self.types:
            return False
        if self.unrestricted or resource_type in DIRECTORY_TYPES:
            return True
        if self.provider is not None and care_provider == self.provider:
            return True
        if patient_id is None or care_provider is None:
            return False
        return (care_provider, care_unit) in self.grants.get(patient_id, frozenset())

    def condition(self, columns: Any) -> ColumnElement[bool]:
        """WHERE clause over a table with res_type, patient_id, care_provider, care_unit."""
        if self.types is not None:
            return and_(
                columns.res_type.in_(sorted(self.types)),
                ReadScope(self.unrestricted, self.provider, self.grants).condition(columns),
            )
        if self.unrestricted:
            return true()
        parts: list[ColumnElement[bool]] = [columns.res_type.in_(sorted(DIRECTORY_TYPES))]
        if self.provider is not None:
            parts.append(columns.care_provider == self.provider)
        for patient_id, pairs in sorted(self.grants.items()):
            by_provider: dict[str, set[str | None]] = {}
            for provider, unit in pairs:
                by_provider.setdefault(provider, set()).add(unit)
            sources: list[ColumnElement[bool]] = []
            for provider, units in sorted(by_provider.items()):
                named = sorted(u for u in units if u is not None)
                unit_test = [columns.care_unit.in_(named)] if named else []
                if None in units:
                    unit_test.append(columns.care_unit.is_(None))
                sources.append(and_(columns.care_provider == provider, or_(*unit_test)))
            if sources:
                parts.append(and_(columns.patient_id == patient_id, or_(*sources)))
        return or_(*parts) if parts else false()
