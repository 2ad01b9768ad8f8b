"""ReadScope: what one reader may see, as data the store turns into a WHERE clause.

The access layer (hub/access/guard.py) builds a ReadScope from the PDL decision; the store
applies `scope.condition(table)` to every query of a read path (matches, includes, totals,
history, $everything), so hidden rows are never fetched, counted or paged over.

    unrestricted      no filter (HUB_AUTH=off only)
    directory types   Patient, Organization, Practitioner(Role), Medication, ... (the directory
                      class of hub/access/classes.py): always visible
    types             if set, only these resource types (the token's read scopes)
    provider          a system client: every row of its own care provider, except
    excluded          per patient, the units of that provider hidden from it (an inre spärr
                      on a unit other than its own; None stands for rows without a unit)
    grants            a user: per patient, the visible (care provider, care unit) pairs
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, true

from consent.directory import SHARED_TYPES

DIRECTORY_TYPES = SHARED_TYPES
"""The types outside the PDL decision (hub/access/classes.py: the directory class)."""

__all__ = ["DIRECTORY_TYPES", "Pairs", "ReadScope"]

Pairs = frozenset[tuple[str, str | None]]


@dataclass(frozen=True)
class ReadScope:
    unrestricted: bool = False
    provider: str | None = None
    grants: dict[str, Pairs] = field(default_factory=dict)
    types: frozenset[str] | None = None
    excluded: dict[str, frozenset[str | None]] = field(default_factory=dict)

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
            hidden = self.excluded.get(patient_id, frozenset()) if patient_id else frozenset()
            return care_unit not in hidden
        if patient_id is None or care_provider is None:
            return False
        return (care_provider, care_unit) in self.grants.get(patient_id, frozenset())

    def _units_by_provider(self, pairs: Pairs) -> list[tuple[str, list[str], bool]]:
        """(provider, named units, whether rows without a unit count) per provider."""
        by_provider: dict[str, set[str | None]] = {}
        for provider, unit in pairs:
            by_provider.setdefault(provider, set()).add(unit)
        return [
            (provider, sorted(u for u in units if u is not None), None in units)
            for provider, units in sorted(by_provider.items())
        ]

    def sql_text(self, alias: str, mark: str) -> tuple[str, list[str]]:
        """The same rule as `condition`, as DBAPI SQL text over `alias` with `mark` as the
        placeholder ("?" or "%s") and its parameters, for hand-written hot-path queries."""
        if self.types is not None:
            inner, inner_params = replace(self, types=None).sql_text(alias, mark)
            kinds = sorted(self.types)
            if not kinds:
                return "1 = 0", []
            marks = ", ".join([mark] * len(kinds))
            return f"({alias}.res_type IN ({marks}) AND {inner})", [*kinds, *inner_params]
        if self.unrestricted:
            return "1 = 1", []
        directory = sorted(DIRECTORY_TYPES)
        parts = [f"{alias}.res_type IN ({', '.join([mark] * len(directory))})"]
        params: list[str] = list(directory)
        if self.provider is not None:
            own = [f"{alias}.care_provider = {mark}"]
            params.append(self.provider)
            for patient_id, units in sorted(self.excluded.items()):
                named = sorted(u for u in units if u is not None)
                unit_tests = []
                if named:
                    marks = ", ".join([mark] * len(named))
                    unit_tests.append(
                        f"({alias}.care_unit IS NOT NULL AND {alias}.care_unit IN ({marks}))"
                    )
                if None in units:
                    unit_tests.append(f"{alias}.care_unit IS NULL")
                if unit_tests:
                    own.append(
                        f"NOT ({alias}.patient_id IS NOT NULL AND {alias}.patient_id = {mark}"
                        f" AND ({' OR '.join(unit_tests)}))"
                    )
                    params += [patient_id, *named]
            parts.append("(" + " AND ".join(own) + ")")
        for patient_id, pairs in sorted(self.grants.items()):
            sources: list[str] = []
            source_params: list[str] = []
            for provider, named, unitless in self._units_by_provider(pairs):
                unit_tests = []
                if named:
                    unit_tests.append(f"{alias}.care_unit IN ({', '.join([mark] * len(named))})")
                if unitless:
                    unit_tests.append(f"{alias}.care_unit IS NULL")
                sources.append(f"({alias}.care_provider = {mark} AND ({' OR '.join(unit_tests)}))")
                source_params += [provider, *named]
            if sources:
                parts.append(f"({alias}.patient_id = {mark} AND ({' OR '.join(sources)}))")
                params += [patient_id, *source_params]
        return "(" + " OR ".join(parts) + ")", params

    def condition(self, columns: Any, resource_type: str | None = None) -> ColumnElement[bool]:
        """WHERE clause over a table with res_type, patient_id, care_provider, care_unit.
        With `resource_type` (the rows are known to be of that type), the type tests are
        decided here instead of in the database: a directory type is visible, another type
        keeps only the provider and grant tests. The planner then has no 40-name IN list
        to weigh on every table a search joins."""
        if resource_type is not None:
            if self.types is not None and resource_type not in self.types:
                return false()
            if self.unrestricted or resource_type in DIRECTORY_TYPES:
                return true()
            return self._source_condition(columns, directory=False)
        if self.types is not None:
            return and_(
                columns.res_type.in_(sorted(self.types)),
                replace(self, types=None).condition(columns),
            )
        if self.unrestricted:
            return true()
        return self._source_condition(columns, directory=True)

    def _source_condition(self, columns: Any, *, directory: bool) -> ColumnElement[bool]:
        """The provider and grant tests, OR (with `directory`) the directory types."""
        parts: list[ColumnElement[bool]] = []
        if directory:
            parts.append(columns.res_type.in_(sorted(DIRECTORY_TYPES)))
        if self.provider is not None:
            own: list[ColumnElement[bool]] = [columns.care_provider == self.provider]
            for patient_id, units in sorted(self.excluded.items()):
                named = sorted(u for u in units if u is not None)
                unit_test = [and_(columns.care_unit.is_not(None), columns.care_unit.in_(named))]
                if None in units:
                    unit_test.append(columns.care_unit.is_(None))
                own.append(
                    not_(
                        and_(
                            columns.patient_id.is_not(None),
                            columns.patient_id == patient_id,
                            or_(*unit_test),
                        )
                    )
                )
            parts.append(and_(*own))
        for patient_id, pairs in sorted(self.grants.items()):
            sources: list[ColumnElement[bool]] = []
            for provider, named, unitless in self._units_by_provider(pairs):
                unit_test = [columns.care_unit.in_(named)] if named else []
                if unitless:
                    unit_test.append(columns.care_unit.is_(None))
                sources.append(and_(columns.care_provider == provider, or_(*unit_test)))
            if sources:
                parts.append(and_(columns.patient_id == patient_id, or_(*sources)))
        return or_(*parts) if parts else false()
