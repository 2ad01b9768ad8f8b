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

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, String, and_, bindparam, false, not_, or_, true

from consent.directory import SHARED_TYPES

DIRECTORY_TYPES = SHARED_TYPES
"""The types outside the PDL decision (hub/access/classes.py: the directory class)."""

__all__ = ["DIRECTORY_TYPES", "Pairs", "Placeholders", "ReadScope", "Value", "placeholder_name"]

Pairs = frozenset[tuple[str, str | None]]

Value = Callable[[str], Any]
"""What `ReadScope.condition` puts in the clause for a value it compares with."""


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

    def condition(
        self, columns: Any, resource_type: str | None = None, value: Value | None = None
    ) -> ColumnElement[bool]:
        """WHERE clause over a table with res_type, patient_id, care_provider, care_unit.
        With `resource_type` (the rows are known to be of that type), the type tests are
        decided here instead of in the database: a directory type is visible, another type
        keeps only the provider and grant tests. The planner then has no 40-name IN list
        to weigh on every table a search joins.

        `value` turns each value the clause compares with (a type name, a provider, a unit,
        a patient id) into what the clause holds: by default the value itself (a bound
        literal); `Placeholders` names them instead, in the order of `parameters()`, so
        that a statement can be compiled once per `shape()`."""
        put = value or _itself
        if resource_type is not None:
            if self.types is not None and resource_type not in self.types:
                return false()
            if self.unrestricted or resource_type in DIRECTORY_TYPES:
                return true()
            return self._source_condition(columns, put, directory=False)
        if self.types is not None:
            if not self.types:
                return false()
            kinds = [put(kind) for kind in sorted(self.types)]
            return and_(
                columns.res_type.in_(kinds),
                replace(self, types=None).condition(columns, value=put),
            )
        if self.unrestricted:
            return true()
        return self._source_condition(columns, put, directory=True)

    def _source_condition(
        self, columns: Any, put: Value, *, directory: bool
    ) -> ColumnElement[bool]:
        """The provider and grant tests, OR (with `directory`) the directory types.
        `put` is called in the order `_values` lists the values."""
        parts: list[ColumnElement[bool]] = []
        if directory:
            parts.append(columns.res_type.in_([put(kind) for kind in sorted(DIRECTORY_TYPES)]))
        if self.provider is not None:
            own: list[ColumnElement[bool]] = [columns.care_provider == put(self.provider)]
            for patient_id, units in sorted(self.excluded.items()):
                if not units:
                    continue
                patient = put(patient_id)
                named = [put(u) for u in sorted(u for u in units if u is not None)]
                unit_test: list[ColumnElement[bool]] = []
                if named:
                    unit_test.append(
                        and_(columns.care_unit.is_not(None), columns.care_unit.in_(named))
                    )
                if None in units:
                    unit_test.append(columns.care_unit.is_(None))
                own.append(
                    not_(
                        and_(
                            columns.patient_id.is_not(None),
                            columns.patient_id == patient,
                            or_(*unit_test),
                        )
                    )
                )
            parts.append(and_(*own))
        for patient_id, pairs in sorted(self.grants.items()):
            if not pairs:
                continue
            patient = put(patient_id)
            sources: list[ColumnElement[bool]] = []
            for provider, named, unitless in self._units_by_provider(pairs):
                source = put(provider)
                unit_test = [columns.care_unit.in_([put(u) for u in named])] if named else []
                if unitless:
                    unit_test.append(columns.care_unit.is_(None))
                sources.append(and_(columns.care_provider == source, or_(*unit_test)))
            parts.append(and_(columns.patient_id == patient, or_(*sources)))
        return or_(*parts) if parts else false()

    def _values(self) -> list[str]:
        """The values `condition(columns)` passes to `value`, in the order it passes them."""
        found: list[str] = []
        if self.types is not None:
            if not self.types:
                return found
            found.extend(sorted(self.types))
        if self.unrestricted:
            return found
        found.extend(sorted(DIRECTORY_TYPES))
        if self.provider is not None:
            found.append(self.provider)
            for patient_id, units in sorted(self.excluded.items()):
                if not units:
                    continue
                found.append(patient_id)
                found.extend(sorted(u for u in units if u is not None))
        for patient_id, pairs in sorted(self.grants.items()):
            if not pairs:
                continue
            found.append(patient_id)
            for provider, named, _unitless in self._units_by_provider(pairs):
                found.append(provider)
                found.extend(named)
        return found

    def shape(self) -> Hashable:
        """What the SQL text of `condition(columns, value=Placeholders(...))` depends on:
        two scopes of the same shape give the same text, only their `parameters` differ."""
        if self.types is not None and not self.types:
            return ("none",)
        grants = tuple(
            tuple((len(named), unitless) for _p, named, unitless in self._units_by_provider(pairs))
            for _patient, pairs in sorted(self.grants.items())
            if pairs
        )
        excluded = tuple(
            (len([u for u in units if u is not None]), None in units)
            for _patient, units in sorted(self.excluded.items())
            if units
        )
        return (
            None if self.types is None else len(self.types),
            self.unrestricted,
            self.provider is not None,
            excluded if self.provider is not None else (),
            () if self.unrestricted else grants,
        )

    def parameters(self, prefix: str) -> dict[str, str]:
        """The values of the placeholders `Placeholders(prefix)` names in
        `condition(columns)`, by name."""
        return {placeholder_name(prefix, i): v for i, v in enumerate(self._values())}


def _itself(value: str) -> Any:
    return value


def placeholder_name(prefix: str, index: int) -> str:
    """The name of the `index`-th value of a scope's condition."""
    return f"{prefix}_{index}"


class Placeholders:
    """A `value` for `ReadScope.condition`: each value becomes a named bound parameter
    without a value (`prefix`_0, `prefix`_1, ... in the order of `parameters`), so the
    clause fits every scope of the same shape."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0

    def __call__(self, value: str) -> Any:
        name = placeholder_name(self.prefix, self.count)
        self.count += 1
        return bindparam(name, None, type_=String())
