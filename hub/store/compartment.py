"""SQLAlchemy Core statements over patients' compartments, with the reader's scope.

The scoped read by id, `$everything`'s page, the current resources of several patients,
their versions and what the access rules read about them. Each is built with Core and
compiled once per dialect and shape (the reader's scope's `ReadScope.shape()` and the
lengths of its lists) to DBAPI text with named placeholders (statements.compiled), then
run with this call's values bound: no statement is built or compiled per request, and
every value stays a bound parameter. `Bound` is the text and its values, ready for
`connections.run_together`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    case,
    false,
    func,
    literal_column,
    select,
    true,
    union,
)
from sqlalchemy.util import LRUCache

from hub.access.scope import Placeholders, ReadScope
from hub.store.schema import emergency_grants, resource_versions, resources, search_reference
from hub.store.statements import VERSION_COLUMNS, DriverStatement, compiled

__all__ = [
    "Bound",
    "active_grants",
    "everything_count",
    "everything_page",
    "patient_presence",
    "patients_current",
    "patients_facts",
    "patients_latest_grants",
    "patients_latest_writes",
    "patients_sources",
    "read_scoped",
]

Bound = tuple[str, tuple[object, ...]]
"""DBAPI text and its parameters."""

_r = resources.alias("r")
_v = resource_versions.alias("v")
_owner = resources.alias("owner")
_ref = search_reference.alias("ref")
_CURRENT = _r.join(
    _v,
    and_(
        _v.c.res_type == _r.c.res_type,
        _v.c.res_id == _r.c.res_id,
        _v.c.version_id == _r.c.version_id,
    ),
)
_COLUMNS = [_v.c[column.name] for column in VERSION_COLUMNS]

_TEMPLATES: LRUCache[Hashable, DriverStatement] = LRUCache(1000)
"""Compiled statements by (kind, dialect, shape)."""


def _name(name: str) -> Any:
    return bindparam(name, None, type_=String())


def _names(prefix: str, count: int) -> list[Any]:
    return [_name(f"{prefix}_{i}") for i in range(count)]


def _listed(prefix: str, values: Sequence[object]) -> dict[str, object]:
    return {f"{prefix}_{i}": value for i, value in enumerate(values)}


def _scoped(scope: ReadScope | None, columns: Any, prefix: str) -> ColumnElement[bool]:
    """The scope's condition with its values as placeholders named `prefix`_0, ..."""
    return true() if scope is None else scope.condition(columns, value=Placeholders(prefix))


def _scope_values(scope: ReadScope | None, prefix: str) -> dict[str, object]:
    return {} if scope is None else dict(scope.parameters(prefix))


def _shape(scope: ReadScope | None) -> Hashable:
    return None if scope is None else ("scope", scope.shape())


def _bind(
    key: Hashable, dialect: str, build: Callable[[], Select[Any]], values: Mapping[str, object]
) -> Bound:
    """The statement `build` makes, compiled once per (`key`, `dialect`), with `values`."""
    cache_key = (key, dialect)
    statement = _TEMPLATES.get(cache_key)
    if statement is None:
        statement = compiled(build(), dialect)
        _TEMPLATES[cache_key] = statement
    return statement.sql, statement.values(values)


def read_scoped(resource_type: str, resource_id: str, scope: ReadScope, dialect: str) -> Bound:
    """The current version of (res_type, res_id) if the scope shows it."""

    def build() -> Select[Any]:
        return (
            select(*_COLUMNS)
            .select_from(_CURRENT)
            .where(
                _r.c.res_type == _name("res_type"),
                _r.c.res_id == _name("res_id"),
                _scoped(scope, _r.c, "row"),
            )
        )

    values = {"res_type": resource_type, "res_id": resource_id, **_scope_values(scope, "row")}
    return _bind(("read", _shape(scope)), dialect, build, values)


def _everything_body(
    referenced_types: int, scope: ReadScope | None, since: bool
) -> tuple[Any, list[ColumnElement[bool]]]:
    """The FROM and WHERE of `$everything`: the patient's live resources and the live
    resources of the referenced types (`kind_`i) that the patient's visible resources
    refer to."""
    patient = _name("patient_id")
    own = select(resources.c.res_type.label("t"), resources.c.res_id.label("i")).where(
        resources.c.patient_id == patient, resources.c.deleted == false()
    )
    referred = (
        select(_ref.c.target_type.label("t"), _ref.c.target_id.label("i"))
        .select_from(
            _ref.join(
                _owner,
                and_(_owner.c.res_type == _ref.c.res_type, _owner.c.res_id == _ref.c.res_id),
            )
        )
        .where(
            _owner.c.patient_id == patient,
            _owner.c.deleted == false(),
            _ref.c.target_type.in_(_names("kind", referenced_types)),
            _scoped(scope, _owner.c, "owner"),
        )
    )
    members = union(own, referred).subquery("members")
    joined = _CURRENT.join(members, and_(members.c.t == _r.c.res_type, members.c.i == _r.c.res_id))
    where = [_r.c.deleted == false(), _scoped(scope, _r.c, "row")]
    if since:
        where.append(_r.c.last_updated >= bindparam("since", None))
    return joined, where


def _everything_values(
    patient_id: str, referenced_types: Sequence[str], scope: ReadScope | None, since: int | None
) -> dict[str, object]:
    return {
        "patient_id": patient_id,
        **_listed("kind", referenced_types),
        **_scope_values(scope, "owner"),
        **_scope_values(scope, "row"),
        **({} if since is None else {"since": since}),
    }


def everything_page(
    patient_id: str,
    referenced_types: Sequence[str],
    scope: ReadScope | None,
    since: int | None,
    limit: int,
    offset: int,
    dialect: str,
) -> Bound:
    """One page of `$everything`, the Patient first, with the number of all members
    (before the LIMIT) as a last column."""

    def build() -> Select[Any]:
        joined, where = _everything_body(len(referenced_types), scope, since is not None)
        patient_first = case(
            (_r.c.res_type == literal_column("'Patient'"), literal_column("0")),
            else_=literal_column("1"),
        )
        return (
            select(*_COLUMNS, func.count().over().label("everything_total"))
            .select_from(joined)
            .where(*where)
            .order_by(patient_first, _r.c.res_type, _r.c.res_id)
            .limit(bindparam("page_limit", None))
            .offset(bindparam("page_offset", None))
        )

    values = _everything_values(patient_id, referenced_types, scope, since)
    values.update(page_limit=limit, page_offset=offset)
    key = ("everything", len(referenced_types), since is not None, _shape(scope))
    return _bind(key, dialect, build, values)


def everything_count(
    patient_id: str,
    referenced_types: Sequence[str],
    scope: ReadScope | None,
    since: int | None,
    dialect: str,
) -> Bound:
    """The number of `$everything`'s members (for a page past the end)."""

    def build() -> Select[Any]:
        joined, where = _everything_body(len(referenced_types), scope, since is not None)
        return select(func.count()).select_from(joined).where(*where)

    values = _everything_values(patient_id, referenced_types, scope, since)
    key = ("everything-count", len(referenced_types), since is not None, _shape(scope))
    return _bind(key, dialect, build, values)


def patient_presence(patient_id: str, dialect: str) -> Bound:
    """Whether the Patient was ever stored, and whether it is deleted."""

    def build() -> Select[Any]:
        return select(resources.c.deleted, resources.c.version_id).where(
            resources.c.res_type == literal_column("'Patient'"),
            resources.c.res_id == _name("patient_id"),
            resources.c.version_id > literal_column("0"),
        )

    return _bind("presence", dialect, build, {"patient_id": patient_id})


def patients_current(
    resource_type: str, patient_ids: Sequence[str], scope: ReadScope | None, dialect: str
) -> Bound:
    """The current live resources of one type in these patients' compartments that the
    scope shows, by patient and id (the (patient, type) index)."""

    def build() -> Select[Any]:
        return (
            select(*_COLUMNS)
            .select_from(_CURRENT)
            .where(
                _r.c.patient_id.in_(_names("patient", len(patient_ids))),
                _r.c.res_type == _name("res_type"),
                _r.c.deleted == false(),
                _scoped(scope, _r.c, "row"),
            )
            .order_by(_r.c.patient_id, _r.c.res_id)
        )

    values = {
        **_listed("patient", patient_ids),
        "res_type": resource_type,
        **_scope_values(scope, "row"),
    }
    return _bind(("current", len(patient_ids), _shape(scope)), dialect, build, values)


def patients_latest_writes(patient_ids: Sequence[str], dialect: str) -> Bound:
    """Per patient: the latest write and the number of its resources."""

    def build() -> Select[Any]:
        return (
            select(resources.c.patient_id, func.max(resources.c.last_updated), func.count())
            .where(resources.c.patient_id.in_(_names("patient", len(patient_ids))))
            .group_by(resources.c.patient_id)
        )

    key = ("latest-writes", len(patient_ids))
    return _bind(key, dialect, build, _listed("patient", patient_ids))


def patients_latest_grants(patient_ids: Sequence[str], dialect: str) -> Bound:
    """Per patient: when its latest emergency grant was made."""
    grants = emergency_grants.c

    def build() -> Select[Any]:
        return (
            select(grants.patient_id, func.max(grants.created_us))
            .where(grants.patient_id.in_(_names("patient", len(patient_ids))))
            .group_by(grants.patient_id)
        )

    key = ("latest-grants", len(patient_ids))
    return _bind(key, dialect, build, _listed("patient", patient_ids))


def active_grants(patient_id: str, at: int, dialect: str) -> Bound:
    """The patient's emergency grants active at `at` (microseconds since the epoch)."""
    grants = emergency_grants.c

    def build() -> Select[Any]:
        return select(grants["grant"]).where(
            grants.patient_id == _name("patient_id"),
            grants.start_us <= bindparam("at", None),
            grants.end_us > bindparam("at_end", None),
        )

    values = {"patient_id": patient_id, "at": at, "at_end": at}
    return _bind("active-grants", dialect, build, values)


def patients_sources(patient_ids: Sequence[str], dialect: str) -> Bound:
    """The (patient, care provider, care unit) triples that ever wrote about these
    patients."""
    versions = resource_versions.c

    def build() -> Select[Any]:
        return (
            select(versions.patient_id, versions.care_provider, versions.care_unit)
            .where(
                versions.patient_id.in_(_names("patient", len(patient_ids))),
                versions.care_provider.is_not(None),
            )
            .distinct()
        )

    key = ("sources", len(patient_ids))
    return _bind(key, dialect, build, _listed("patient", patient_ids))


def patients_facts(patient_ids: Sequence[str], fact_types: Sequence[str], dialect: str) -> Bound:
    """(patient, content) of these patients' current live resources of `fact_types`."""

    def build() -> Select[Any]:
        return (
            select(_r.c.patient_id, _v.c.content)
            .select_from(_CURRENT)
            .where(
                _r.c.deleted == false(),
                _r.c.patient_id.in_(_names("patient", len(patient_ids))),
                _r.c.res_type.in_(_names("kind", len(fact_types))),
            )
        )

    values = {**_listed("patient", patient_ids), **_listed("kind", fact_types)}
    return _bind(("facts", len(patient_ids), len(fact_types)), dialect, build, values)
