"""The parsed form of a FHIR search, shared by the REST API, conditional writes and bundles.

`parse_search(resource_type, params, registry)` turns query parameters into a SearchQuery
that the store compiles to SQL. It refuses (UnknownSearchParameter) any parameter, modifier
or prefix it does not implement unless `lenient` is set, in which case such parameters are
dropped and listed in `ignored`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hub.errors import InvalidRequest, UnknownSearchParameter
from hub.fhir_dates import InvalidDate, date_range
from hub.search_parameters import SearchParameter, SearchParameterRegistry

DatePrefix = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"]
DATE_PREFIXES: tuple[DatePrefix, ...] = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
TotalMode = Literal["none", "estimate", "accurate"]


@dataclass(frozen=True)
class TokenValue:
    system: str | None
    code: str | None
    no_system: bool = False


@dataclass(frozen=True)
class StringValue:
    text: str


@dataclass(frozen=True)
class DateValue:
    prefix: DatePrefix
    low: int
    high: int


@dataclass(frozen=True)
class ReferenceValue:
    target_type: str | None
    target_id: str


Value = TokenValue | StringValue | DateValue | ReferenceValue


@dataclass(frozen=True)
class Criterion:
    """One occurrence of a parameter: its values are alternatives (OR)."""

    name: str
    kind: Literal["token", "string", "date", "reference", "id", "lastUpdated", "missing"]
    modifier: str | None
    values: tuple[Value, ...] = ()
    missing: bool | None = None
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class SortKey:
    name: str
    kind: Literal["id", "lastUpdated", "token", "string", "date", "reference"]
    descending: bool


@dataclass(frozen=True)
class IncludeSpec:
    """`_include=Source:param[:Target]` or `_revinclude=Source:param[:Target]`."""

    source_type: str
    param: str
    target_type: str | None


@dataclass(frozen=True)
class SearchQuery:
    resource_type: str
    criteria: tuple[Criterion, ...] = ()
    sort: tuple[SortKey, ...] = ()
    count: int = 20
    offset: int = 0
    total: TotalMode | None = None
    summary_count: bool = False
    includes: tuple[IncludeSpec, ...] = ()
    revincludes: tuple[IncludeSpec, ...] = ()
    ignored: tuple[str, ...] = field(default=())


def _split_values(raw: str) -> list[str]:
    """Split on commas not escaped with a backslash; unescape \\, \\| \\$."""
    out, current, escaped = [], [], False
    for ch in raw:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return out


def _token(raw: str) -> TokenValue:
    if "|" not in raw:
        return TokenValue(system=None, code=raw)
    system, code = raw.split("|", 1)
    if system == "":
        return TokenValue(system=None, code=code, no_system=True)
    return TokenValue(system=system, code=code or None)


def _date(name: str, raw: str) -> DateValue:
    prefix: DatePrefix = "eq"
    if raw[:2].isalpha():
        if raw[:2] not in DATE_PREFIXES:
            raise UnknownSearchParameter(
                f"Unsupported date prefix '{raw[:2]}' on parameter '{name}'",
                expression=name,
            )
        prefix, raw = raw[:2], raw[2:]  # type: ignore[assignment]
    try:
        low, high = date_range(raw)
    except InvalidDate:
        raise InvalidRequest(
            f"Parameter '{name}' needs a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)",
            expression=name,
        ) from None
    return DateValue(prefix=prefix, low=low, high=high)


def _reference(
    param: SearchParameter, modifier: str | None, raw: str, base_url: str | None
) -> ReferenceValue:
    value = raw
    if base_url and value.startswith(base_url.rstrip("/") + "/"):
        value = value[len(base_url.rstrip("/")) + 1 :]
    parts = value.split("/")
    target_type: str | None = modifier
    target_id = value
    if len(parts) >= 2 and parts[0][:1].isupper():
        target_type, target_id = parts[0], parts[1]
    if target_type is None and len(param.targets) == 1:
        target_type = next(iter(param.targets))
    if param.targets and target_type is not None and target_type not in param.targets:
        raise InvalidRequest(
            f"Parameter '{param.code}' does not refer to {target_type}", expression=param.code
        )
    return ReferenceValue(target_type=target_type, target_id=target_id)


def _criterion(
    name: str, raw: str, resource_type: str, registry: SearchParameterRegistry, base_url: str | None
) -> Criterion:
    code, _, modifier_text = name.partition(":")
    modifier = modifier_text or None
    if code == "_id":
        if modifier:
            raise UnknownSearchParameter(f"Unsupported modifier on '{code}'", expression=name)
        return Criterion(name=code, kind="id", modifier=None, ids=tuple(_split_values(raw)))
    if code == "_lastUpdated":
        if modifier:
            raise UnknownSearchParameter(f"Unsupported modifier on '{code}'", expression=name)
        return Criterion(
            name=code,
            kind="lastUpdated",
            modifier=None,
            values=tuple(_date(code, v) for v in _split_values(raw)),
        )
    param = registry.get(resource_type, code)
    if param is None:
        raise UnknownSearchParameter(
            f"Unknown search parameter '{code}' for resource type {resource_type}",
            expression=code,
        )
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise InvalidRequest(f"':missing' takes true or false on '{code}'", expression=name)
        return Criterion(name=code, kind="missing", modifier="missing", missing=raw == "true")
    allowed_by_type: dict[str, set[str | None]] = {
        "token": {None, "not"},
        "string": {None, "exact", "contains"},
        "date": {None},
        "reference": {None, *param.targets},
    }
    allowed = allowed_by_type[param.type]
    type_modifier = param.type == "reference" and (modifier or "")[:1].isupper()
    if modifier not in allowed and not type_modifier:
        raise UnknownSearchParameter(
            f"Unsupported modifier ':{modifier}' on parameter '{code}'", expression=name
        )
    values: list[Value] = []
    for item in _split_values(raw):
        if item == "":
            raise InvalidRequest(f"Parameter '{code}' has an empty value", expression=name)
        if param.type == "token":
            values.append(_token(item))
        elif param.type == "string":
            values.append(StringValue(item))
        elif param.type == "date":
            values.append(_date(code, item))
        else:
            values.append(_reference(param, modifier, item, base_url))
    return Criterion(name=code, kind=param.type, modifier=modifier, values=tuple(values))  # type: ignore[arg-type]


def _sort_keys(
    raw: str, resource_type: str, registry: SearchParameterRegistry
) -> tuple[SortKey, ...]:
    keys: list[SortKey] = []
    for item in raw.split(","):
        descending = item.startswith("-")
        code = item.lstrip("-")
        if code in ("_id", "_lastUpdated"):
            keys.append(SortKey(code, "id" if code == "_id" else "lastUpdated", descending))
            continue
        param = registry.get(resource_type, code)
        if param is None:
            raise UnknownSearchParameter(
                f"Cannot sort by unknown parameter '{code}'", expression="_sort"
            )
        keys.append(SortKey(code, param.type, descending))  # type: ignore[arg-type]
    return tuple(keys)


def _include(
    raw: str, kind: str, resource_type: str, registry: SearchParameterRegistry
) -> IncludeSpec:
    parts = raw.split(":")
    if len(parts) not in (2, 3):
        raise InvalidRequest(f"{kind} takes Type:parameter[:TargetType]", expression=kind)
    source, code = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    param = registry.get(source, code)
    if param is None or param.type != "reference":
        raise UnknownSearchParameter(
            f"{kind}: {source} has no reference parameter '{code}'", expression=kind
        )
    if kind == "_include" and source != resource_type:
        raise InvalidRequest(f"_include must start with {resource_type}", expression=kind)
    if kind == "_revinclude" and param.targets and resource_type not in param.targets:
        raise InvalidRequest(
            f"_revinclude: {source}:{code} does not refer to {resource_type}", expression=kind
        )
    return IncludeSpec(source_type=source, param=code, target_type=target)


def _int(name: str, raw: str, minimum: int) -> int:
    try:
        number = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer", expression=name) from None
    if number < minimum:
        raise InvalidRequest(f"{name} must be at least {minimum}", expression=name)
    return number


def parse_search(
    resource_type: str,
    params: list[tuple[str, str]],
    registry: SearchParameterRegistry,
    *,
    default_count: int = 20,
    max_count: int = 500,
    lenient: bool = False,
    base_url: str | None = None,
) -> SearchQuery:
    """Parse query parameters (in order, repeats kept) into a SearchQuery."""
    criteria: list[Criterion] = []
    sort: tuple[SortKey, ...] = ()
    count, offset = default_count, 0
    total: TotalMode | None = None
    summary_count = False
    includes: list[IncludeSpec] = []
    revincludes: list[IncludeSpec] = []
    ignored: list[str] = []
    for name, raw in params:
        try:
            if name == "_count":
                count = min(_int(name, raw, 0), max_count)
            elif name == "_offset":
                offset = _int(name, raw, 0)
            elif name == "_sort":
                sort = _sort_keys(raw, resource_type, registry)
            elif name == "_total":
                if raw not in ("none", "estimate", "accurate"):
                    raise InvalidRequest("_total is none, estimate or accurate", expression=name)
                total = raw  # type: ignore[assignment]
            elif name == "_summary":
                if raw == "count":
                    summary_count = True
                elif raw != "false":
                    raise UnknownSearchParameter(
                        f"_summary={raw} is not supported (count and false are)", expression=name
                    )
            elif name in ("_include", "_revinclude"):
                spec = _include(raw, name, resource_type, registry)
                (includes if name == "_include" else revincludes).append(spec)
            elif name in ("_format", "_pretty"):
                continue
            elif name.startswith("_include:") or name.startswith("_revinclude:"):
                raise UnknownSearchParameter(f"'{name}' is not supported", expression=name)
            elif name == "_elements":
                raise UnknownSearchParameter("_elements is not supported", expression=name)
            else:
                criteria.append(_criterion(name, raw, resource_type, registry, base_url))
        except UnknownSearchParameter:
            if not lenient:
                raise
            ignored.append(name)
    return SearchQuery(
        resource_type=resource_type,
        criteria=tuple(criteria),
        sort=sort,
        count=count,
        offset=offset,
        total=total,
        summary_count=summary_count,
        includes=tuple(includes),
        revincludes=tuple(revincludes),
        ignored=tuple(ignored),
    )
