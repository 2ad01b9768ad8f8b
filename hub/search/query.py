"""The parsed form of a FHIR search, shared by the REST API, conditional writes and bundles.

`parse_search(resource_type, params, registry)` turns query parameters into a SearchQuery
that the store compiles to SQL. It refuses (UnknownSearchParameter) any parameter, modifier
or prefix it does not implement unless `lenient` is set, in which case such parameters are
dropped and listed in `ignored`.

Chained parameters (`subject:Patient.identifier=...`, several levels) and reverse chains
(`_has:Encounter:patient:status=...`, nestable) become criteria whose `links` hold the
criterion to evaluate on the other resource type; together they are at most MAX_LINKS deep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Literal

from hub.errors import InvalidRequest, UnknownSearchParameter
from hub.fhir_dates import InvalidDate, date_range
from hub.search.cursor import decode_cursor, encode_cursor, fingerprint, keyset_keys
from hub.search.parameters import SearchParameter, SearchParameterRegistry
from hub.search.person_numbers import (
    PERSON_NUMBER_SYSTEMS,
    WARNINGS,
    PersonNumberReading,
    Problem,
    read_person_number,
)
from hub.search.units import UCUM, canonical_unit
from hub.validation.terminology import ancestors, descendants, expand

SUMMARY_MODES = ("true", "text", "data", "count", "false")
"""The values of `_summary`: count answers with the total alone; true, text and data
answer with part of each resource (hub.search.subsetting)."""

DatePrefix = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"]
DATE_PREFIXES: tuple[DatePrefix, ...] = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
NUMBER_PREFIXES = (*DATE_PREFIXES, "ap")
TotalMode = Literal["none", "estimate", "accurate"]
MAX_LINKS = 3
MAX_EXPANDED_CODES = 2000
"""Codes a token `:in`, `:not-in`, `:below` or `:above` may stand for."""
"""Links one chained or `_has` parameter may follow (`a.b.c=` and `_has:..:_has:..` count
one per step); deeper parameters are refused."""


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


@dataclass(frozen=True)
class NumberValue:
    """A number or quantity search value: `prefix`, the value, the interval its written
    precision implies (`100` is 99.5..100.5), and for a quantity the unit's system and code."""

    prefix: str
    value: float
    low: float
    high: float
    system: str | None = None
    code: str | None = None
    no_system: bool = False
    canonical: NumberValue | None = None
    """For a UCUM unit fhir/ucum-conversions.json converts: the value in the dimension's
    canonical unit, compared with the `<param>:ucum` index rows (hub.search.units)."""


@dataclass(frozen=True)
class UriValue:
    """A uri value; `:below` matches stored uris it starts, `:above` stored uris that start it."""

    uri: str


Value = TokenValue | StringValue | DateValue | ReferenceValue | NumberValue | UriValue


@dataclass(frozen=True)
class RowsOf:
    """Where a reference parameter's index rows are when it keeps none of its own: the rows
    of parameter `param` whose target type is one of `targets` (SearchParameter.rows_of)."""

    param: str
    targets: tuple[str, ...]


def rows_of(param: SearchParameter) -> RowsOf | None:
    if param.rows_of is None:
        return None
    return RowsOf(param.rows_of, tuple(sorted(param.targets)))


@dataclass(frozen=True)
class Criterion:
    """One occurrence of a parameter: its values are alternatives (OR).

    kind "chain": `name` is a reference parameter of the searched type; a resource matches
    when that reference points at a live resource matching one of `links` (one per target
    type). kind "has": `name` is a reference parameter of `links[0].resource_type`; a
    resource matches when a live resource of that type refers to it through `name` and
    matches `links[0].criterion`. `written` is the parameter as the client wrote it.
    """

    name: str
    kind: Literal[
        "token",
        "string",
        "date",
        "reference",
        "number",
        "quantity",
        "uri",
        "composite",
        "id",
        "lastUpdated",
        "missing",
        "chain",
        "has",
    ]
    modifier: str | None
    values: tuple[Value, ...] = ()
    missing: bool | None = None
    ids: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    written: str = ""
    rows: RowsOf | None = None
    parts: tuple[tuple[Criterion, ...], ...] = ()
    """For a composite parameter: per value (alternatives, OR), the criteria of its
    components (AND), matched within one repetition of the composite's element."""
    single_valued: bool = False
    """A date, number or quantity parameter with at most one index row per resource
    (SearchParameter.single_valued): ANDed criteria of it may be tested on one row."""


@dataclass(frozen=True)
class Link:
    """One step of a chained or `_has` criterion: `criterion`, evaluated on `resource_type`."""

    resource_type: str
    criterion: Criterion


def linked_types(criteria: Iterable[Criterion]) -> set[str]:
    """Every resource type that chained or `_has` criteria search, at any depth."""
    found: set[str] = set()
    for criterion in criteria:
        for link in criterion.links:
            found.add(link.resource_type)
            found |= linked_types([link.criterion])
    return found


@dataclass(frozen=True)
class SortKey:
    name: str
    kind: Literal[
        "id", "lastUpdated", "token", "string", "date", "reference", "number", "quantity", "uri"
    ]
    descending: bool
    rows: RowsOf | None = None


@dataclass(frozen=True)
class IncludeSpec:
    """`_include=Source:param[:Target]` or `_revinclude=Source:param[:Target]`."""

    source_type: str
    param: str
    target_type: str | None
    rows: RowsOf | None = None
    iterate: bool = False
    """`:iterate`: applied again to the resources earlier rounds included."""


@dataclass(frozen=True)
class SearchQuery:
    resource_type: str
    criteria: tuple[Criterion, ...] = ()
    sort: tuple[SortKey, ...] = ()
    count: int = 20
    offset: int = 0
    """The page position: the rows before this page (from `_offset`, or a cursor's)."""
    after: tuple[str | int, ...] | None = None
    """With `_cursor` (keyset paging, hub.search.cursor): the key values of the previous
    page's last row; the page is the rows after it, never skipped by offset."""
    total: TotalMode | None = None
    summary_count: bool = False
    includes: tuple[IncludeSpec, ...] = ()
    revincludes: tuple[IncludeSpec, ...] = ()
    ignored: tuple[str, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())
    """Said to the client in an OperationOutcome entry (search.mode = outcome)."""


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


def _identifies(name: str) -> bool:
    """Whether a token parameter holds identifiers (`identifier`, `ref:identifier`), whose
    values without a system may be person numbers."""
    return name == "identifier" or name.endswith(":identifier")


def _reading(value: Value, identifies: bool) -> PersonNumberReading | None:
    if not isinstance(value, TokenValue) or value.code is None or value.no_system:
        return None
    if value.system is None and not identifies:
        return None
    return read_person_number(value.system, value.code)


def _person_number_values(values: list[Value], identifies: bool) -> list[Value]:
    """Person-number tokens in their stored twelve digits, under the canonical system and its
    urn:oid alias (or under any system when none was given to an identifier parameter); an
    invalid number is kept as written."""
    out: list[Value] = []
    for value in values:
        reading = _reading(value, identifies)
        if reading is None or reading.canonical is None or not isinstance(value, TokenValue):
            out.append(value)
        elif value.system is None:
            out.append(TokenValue(None, reading.canonical))
        else:
            out.extend(
                TokenValue(system, reading.canonical)
                for system in PERSON_NUMBER_SYSTEMS[value.system]
            )
    return out


def _person_number_problems(criterion: Criterion) -> set[Problem]:
    """The person-number problems of the criterion's token values, anywhere in it: its own
    values, every link of a chain or `_has` (at any depth) and every component of a
    composite."""
    found: set[Problem] = set()
    if criterion.kind == "token":
        identifies = _identifies(criterion.name)
        for value in criterion.values:
            reading = _reading(value, identifies)
            if reading is not None and reading.problem is not None:
                found.add(reading.problem)
    for link in criterion.links:
        found |= _person_number_problems(link.criterion)
    for parts in criterion.parts:
        for part in parts:
            found |= _person_number_problems(part)
    return found


def person_number_warnings(criteria: Iterable[Criterion]) -> tuple[str, ...]:
    """One warning per parameter and problem (named as the client wrote it, never with its
    value) for a person number failing its date or check digit or missing its century."""
    return tuple(
        WARNINGS[problem].format(name=criterion.written or criterion.name)
        for criterion in criteria
        for problem in sorted(_person_number_problems(criterion))
    )


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


def _number(name: str, raw: str, quantity: bool) -> NumberValue:
    """`[prefix]number` or, for a quantity, `[prefix]number|system|code` (or `number||code`)."""
    prefix = "eq"
    if raw[:2].isalpha():
        if raw[:2] not in NUMBER_PREFIXES:
            raise UnknownSearchParameter(
                f"Unsupported prefix '{raw[:2]}' on parameter '{name}'", expression=name
            )
        prefix, raw = raw[:2], raw[2:]
    number_text, system, code, no_system = raw, None, None, False
    if quantity and "|" in raw:
        pieces = raw.split("|")
        if len(pieces) != 3:
            raise InvalidRequest(f"Parameter '{name}' takes number|system|code", expression=name)
        number_text, system_text, code = pieces[0], pieces[1], pieces[2] or None
        system = system_text or None
        no_system = False
    try:
        value = float(number_text)
        exponent = Decimal(number_text).as_tuple().exponent
    except (ValueError, ArithmeticError):
        raise InvalidRequest(f"Parameter '{name}' needs a number", expression=name) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidRequest(f"Parameter '{name}' needs a number", expression=name)
    half = 0.5 * 10.0 ** (exponent if isinstance(exponent, int) else 0)
    canonical = None
    unit = canonical_unit(system, code)
    if unit is not None:
        f = unit[1]
        canonical = NumberValue(
            prefix, value * f, (value - half) * f, (value + half) * f, UCUM, unit[0]
        )
    return NumberValue(
        prefix, value, value - half, value + half, system, code, no_system, canonical
    )


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


def _check_depth(name: str, depth: int) -> None:
    if depth >= MAX_LINKS:
        raise InvalidRequest(
            f"Chained and _has parameters may follow at most {MAX_LINKS} links", expression=name
        )


def _linked(name: str, parse: Callable[[], Criterion]) -> Criterion:
    """Parse the criterion of one link; its errors name the parameter as the client wrote it."""
    try:
        return parse()
    except InvalidRequest as error:
        raise type(error)(error.message, expression=name) from None


def _leading_code(rest: str) -> str:
    """The parameter code a chain's remainder starts with (`name` of `name:exact`)."""
    if rest.startswith("_has:"):
        return "_has"
    return rest.partition(".")[0].partition(":")[0]


def _accepts(registry: SearchParameterRegistry, target: str, rest: str) -> bool:
    """Whether a chain may continue with `rest` on `target` (has the parameter it names)."""
    if target not in registry.by_type:
        return False
    code = _leading_code(rest)
    if code in ("_id", "_lastUpdated"):
        return True
    if code == "_has":
        parts = rest.split(":", 3)
        param = registry.get(parts[1], parts[2]) if len(parts) == 4 else None
        return param is not None and (not param.targets or target in param.targets)
    return registry.get(target, code) is not None


def _chain(
    name: str,
    raw: str,
    resource_type: str,
    registry: SearchParameterRegistry,
    base_url: str | None,
    depth: int,
) -> Criterion:
    """`ref[:Type].rest`: resources whose reference `ref` points at a match of `rest`."""
    head, _, rest = name.partition(".")
    code, _, type_name = head.partition(":")
    _check_depth(name, depth)
    param = registry.get(resource_type, code)
    if param is None:
        raise UnknownSearchParameter(
            f"Unknown search parameter '{code}' for resource type {resource_type}",
            expression=name,
        )
    if param.type != "reference":
        raise InvalidRequest(
            f"Parameter '{code}' is not a reference parameter and cannot be chained",
            expression=name,
        )
    if type_name and not type_name[:1].isupper():
        raise UnknownSearchParameter(
            f"Unsupported modifier ':{type_name}' on chained parameter '{code}'", expression=name
        )
    if type_name and param.targets and type_name not in param.targets:
        raise InvalidRequest(f"Parameter '{code}' does not refer to {type_name}", expression=name)
    if not rest:
        raise InvalidRequest(f"Chained parameter '{code}' names no parameter", expression=name)
    candidates = [type_name] if type_name else sorted(param.targets or registry.by_type)
    links = tuple(
        Link(
            target,
            _linked(name, partial(_criterion, rest, raw, target, registry, base_url, depth + 1)),
        )
        for target in candidates
        if _accepts(registry, target, rest)
    )
    if not links:
        raise UnknownSearchParameter(
            f"No resource type that '{code}' refers to has the search parameter "
            f"'{_leading_code(rest)}'",
            expression=name,
        )
    return Criterion(
        name=code, kind="chain", modifier=None, links=links, written=name, rows=rows_of(param)
    )


def _has(
    name: str,
    raw: str,
    resource_type: str,
    registry: SearchParameterRegistry,
    base_url: str | None,
    depth: int,
) -> Criterion:
    """`_has:Type:ref:rest`: resources that a `Type` matching `rest` refers to through `ref`."""
    parts = name.split(":", 3)
    if len(parts) != 4 or not all(parts[1:]):
        raise InvalidRequest("_has takes _has:Type:reference:parameter", expression=name)
    _, source, code, rest = parts
    _check_depth(name, depth)
    if source not in registry.by_type:
        raise UnknownSearchParameter(
            f"_has names a resource type without search parameters: {source}", expression=name
        )
    param = registry.get(source, code)
    if param is None:
        raise UnknownSearchParameter(
            f"_has: {source} has no search parameter '{code}'", expression=name
        )
    if param.type != "reference":
        raise InvalidRequest(
            f"_has: parameter '{code}' of {source} is not a reference parameter", expression=name
        )
    if param.targets and resource_type not in param.targets:
        raise InvalidRequest(
            f"_has: {source}:{code} does not refer to {resource_type}", expression=name
        )
    inner = _linked(name, partial(_criterion, rest, raw, source, registry, base_url, depth + 1))
    return Criterion(
        name=code,
        kind="has",
        modifier=None,
        links=(Link(source, inner),),
        written=name,
        rows=rows_of(param),
    )


def _criterion(
    name: str,
    raw: str,
    resource_type: str,
    registry: SearchParameterRegistry,
    base_url: str | None,
    depth: int = 0,
) -> Criterion:
    if name == "_has" or name.startswith("_has:"):
        return _has(name, raw, resource_type, registry, base_url, depth)
    if "." in name:
        return _chain(name, raw, resource_type, registry, base_url, depth)
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
        return Criterion(
            name=code,
            kind="missing",
            modifier="missing",
            missing=raw == "true",
            rows=rows_of(param),
        )
    if param.type == "token" and modifier == "text":
        values_text = _nonempty(code, name, raw)
        return Criterion(
            name=f"{code}:text",
            kind="string",
            modifier=None,
            values=tuple(StringValue(v) for v in values_text),
        )
    if (param.type == "token" and modifier == "of-type") or (
        param.type == "reference" and modifier == "identifier"
    ):
        return _indexed_token(code, modifier, name, raw)
    if param.type == "composite":
        return _composite(param, name, raw, resource_type, registry, base_url)
    if param.type == "token" and modifier in ("in", "not-in", "below", "above"):
        return _terminology_token(param, modifier, name, raw)
    allowed_by_type: dict[str, set[str | None]] = {
        "token": {None, "not"},
        "string": {None, "exact", "contains"},
        "date": {None},
        "number": {None},
        "quantity": {None},
        "uri": {None, "below", "above", "not"},
        "reference": {None, *param.targets},
    }
    allowed = allowed_by_type[param.type]
    type_modifier = param.type == "reference" and (modifier or "")[:1].isupper()
    if modifier not in allowed and not type_modifier:
        raise UnknownSearchParameter(
            f"Unsupported modifier ':{modifier}' on parameter '{code}'", expression=name
        )
    values = [_value(param, modifier, item, base_url, code) for item in _nonempty(code, name, raw)]
    if param.type == "token":
        values = _person_number_values(values, _identifies(code))  # 19121212-1212 -> 12 digits
    kind = param.type
    if kind == "uri" and modifier not in ("below", "above"):
        kind = "token"  # uris are kept in the token rows (system NULL)
        values = [TokenValue(None, v.uri) for v in values if isinstance(v, UriValue)]
    return Criterion(
        name=code,
        kind=kind,  # type: ignore[arg-type]
        modifier=modifier,
        values=tuple(values),
        rows=rows_of(param),
        single_valued=param.single_valued,
    )


def _terminology_token(param: SearchParameter, modifier: str, name: str, raw: str) -> Criterion:
    """`:in` / `:not-in` a ValueSet, `:below` / `:above` a code of a CodeSystem hierarchy,
    expanded from the official definitions held here (hub.validation.terminology) into
    the codes they stand for; what cannot be expanded here answers 400 naming it."""
    pairs: set[tuple[str, str]] = set()
    for item in _nonempty(param.code, name, raw):
        if modifier in ("in", "not-in"):
            expansion = expand(item)
            if expansion.unknown or expansion.open_systems or not expansion.codes:
                raise InvalidRequest(
                    f"ValueSet '{item}' of ':{modifier}' on '{param.code}' cannot be expanded"
                    " here (not held, or it draws on a code system the hub does not hold)",
                    expression=name,
                )
            pairs |= expansion.codes
            continue
        system, _, code = item.partition("|")
        if not system or not code:
            raise InvalidRequest(
                f"':{modifier}' on '{param.code}' takes system|code", expression=name
            )
        related = descendants(system, code) if modifier == "below" else ancestors(system, code)
        if related is None:
            raise InvalidRequest(
                f"':{modifier}' on '{param.code}': no hierarchy of code system '{system}'"
                " holding that code is held here",
                expression=name,
            )
        pairs |= {(system, c) for c in related}
    if len(pairs) > MAX_EXPANDED_CODES:
        raise InvalidRequest(
            f"':{modifier}' on '{param.code}' stands for {len(pairs)} codes, more than"
            f" {MAX_EXPANDED_CODES}",
            expression=name,
        )
    return Criterion(
        name=param.code,
        kind="token",
        modifier="not" if modifier == "not-in" else None,
        values=tuple(
            value
            for system, code in sorted(pairs)
            # a `code` element keeps no system in its rows: the ValueSet's system is implied
            for value in (TokenValue(system, code), TokenValue(None, code, no_system=True))
        ),
        rows=rows_of(param),
        written=name,
    )


def _nonempty(code: str, name: str, raw: str) -> list[str]:
    items = _split_values(raw)
    if any(item == "" for item in items):
        raise InvalidRequest(f"Parameter '{code}' has an empty value", expression=name)
    return items


def _value(
    param: SearchParameter, modifier: str | None, item: str, base_url: str | None, code: str
) -> Value:
    if param.type == "token":
        return _token(item)
    if param.type == "string":
        return StringValue(item)
    if param.type == "date":
        return _date(code, item)
    if param.type in ("number", "quantity"):
        return _number(code, item, param.type == "quantity")
    if param.type == "uri":
        return UriValue(item)
    return _reference(param, modifier, item, base_url)


def _indexed_token(code: str, modifier: str, name: str, raw: str) -> Criterion:
    """`identifier:of-type=type-system|type-code|value` and `ref:identifier=system|value`
    search the token rows the indexer keeps under `code:modifier`."""
    values: list[Value] = []
    for item in _nonempty(code, name, raw):
        if modifier == "of-type":
            pieces = item.split("|")
            if len(pieces) != 3 or not pieces[1] or not pieces[2]:
                raise InvalidRequest(
                    f"':of-type' on '{code}' takes type-system|type-code|value", expression=name
                )
            values.append(TokenValue(f"{pieces[0]}|{pieces[1]}", pieces[2]))
        else:
            values.append(_token(item))
    values = _person_number_values(values, identifies=True)
    return Criterion(name=f"{code}:{modifier}", kind="token", modifier=None, values=tuple(values))


def _escaped(piece: str) -> str:
    """A value split off a list, escaped again for the component's parser."""
    return piece.replace("\\", "\\\\").replace(",", "\\,")


def _composite(
    param: SearchParameter,
    name: str,
    raw: str,
    resource_type: str,
    registry: SearchParameterRegistry,
    base_url: str | None,
) -> Criterion:
    """`a$b` per value: each part is parsed as the component parameter it stands for, and
    the store matches all parts within one repetition of the composite's element (one row
    of search_composite)."""
    modifier = name.partition(":")[2] or None
    if modifier:
        raise UnknownSearchParameter(
            f"Unsupported modifier ':{modifier}' on parameter '{param.code}'", expression=name
        )
    alternatives: list[tuple[Criterion, ...]] = []
    for item in _nonempty(param.code, name, raw):
        pieces = item.split("$")
        if len(pieces) != len(param.components):
            raise InvalidRequest(
                f"Parameter '{param.code}' takes {len(param.components)} values joined by $",
                expression=name,
            )
        alternatives.append(
            tuple(
                _criterion(component, _escaped(piece), resource_type, registry, base_url)
                for component, piece in zip(param.components, pieces, strict=True)
            )
        )
    return Criterion(
        name=param.code, kind="composite", modifier=None, parts=tuple(alternatives), written=name
    )


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
        if param.type == "composite":
            raise InvalidRequest(f"Cannot sort by composite parameter '{code}'", expression="_sort")
        kind = "token" if param.type == "uri" else param.type
        keys.append(SortKey(code, kind, descending, rows_of(param)))  # type: ignore[arg-type]
    return tuple(keys)


def _include(
    raw: str,
    kind: str,
    resource_type: str,
    registry: SearchParameterRegistry,
    iterate: bool = False,
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
    if target is not None and param.targets and target not in param.targets:
        raise InvalidRequest(f"{kind}: {source}:{code} does not refer to {target}", expression=kind)
    if kind == "_include" and source != resource_type and not iterate:
        raise InvalidRequest(f"_include must start with {resource_type}", expression=kind)
    if (
        kind == "_revinclude"
        and not iterate
        and param.targets
        and resource_type not in param.targets
    ):
        raise InvalidRequest(
            f"_revinclude: {source}:{code} does not refer to {resource_type}", expression=kind
        )
    return IncludeSpec(
        source_type=source, param=code, target_type=target, rows=rows_of(param), iterate=iterate
    )


LARGEST_INTEGER = 2**63 - 1
"""The largest number a database column (BIGINT) or a page position holds."""


def _int(name: str, raw: str, minimum: int) -> int:
    if len(raw) > 40:
        raise InvalidRequest(f"{name} must be an integer below 2^63", expression=name)
    try:
        number = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer", expression=name) from None
    if number < minimum:
        raise InvalidRequest(f"{name} must be at least {minimum}", expression=name)
    if number > LARGEST_INTEGER:
        raise InvalidRequest(f"{name} must be an integer below 2^63", expression=name)
    return number


def parse_count(raw: str, max_count: int) -> int:
    """_count: a non-negative integer, at most `max_count`; 0 asks for the total alone.
    The one rule for search, history and $everything."""
    return min(_int("_count", raw, 0), max_count)


def parse_offset(raw: str) -> int:
    """_offset: a non-negative integer (the page position)."""
    return _int("_offset", raw, 0)


def next_cursor(query: SearchQuery, last_id: str, last_updated: int) -> str | None:
    """The `_cursor` of the page after this one, whose last row has `last_id` and
    `last_updated`; None when the search pages by _offset (it sorts by a value)."""
    keys = keyset_keys(query.sort)
    if keys is None:
        return None
    values = [last_id if key.column == "res_id" else last_updated for key in keys]
    position = min(query.offset + query.count, LARGEST_INTEGER)
    return encode_cursor(
        fingerprint(query.resource_type, query.criteria, query.sort), values, position
    )


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
    offset_given = False
    cursor_token: str | None = None
    total: TotalMode | None = None
    summary_count = False
    includes: list[IncludeSpec] = []
    revincludes: list[IncludeSpec] = []
    ignored: list[str] = []
    for name, raw in params:
        if "\x00" in name or "\x00" in raw:
            raise InvalidRequest(
                "A search parameter holds the NUL character, which FHIR does not allow",
                expression=name.replace("\x00", ""),
            )
        try:
            if name == "_count":
                count = parse_count(raw, max_count)
            elif name == "_offset":
                offset, offset_given = parse_offset(raw), True
            elif name == "_cursor":
                cursor_token = raw
            elif name == "_sort":
                sort = _sort_keys(raw, resource_type, registry)
            elif name == "_total":
                if raw not in ("none", "estimate", "accurate"):
                    raise InvalidRequest("_total is none, estimate or accurate", expression=name)
                total = raw  # type: ignore[assignment]
            elif name == "_summary":
                if raw not in SUMMARY_MODES:
                    raise InvalidRequest(
                        "_summary is one of " + ", ".join(SUMMARY_MODES), expression=name
                    )
                summary_count = raw == "count"  # the other modes shape the answer only
            elif name in ("_include", "_revinclude", "_include:iterate", "_revinclude:iterate"):
                base_name, _, iterate = name.partition(":")
                spec = _include(raw, base_name, resource_type, registry, iterate=bool(iterate))
                (includes if base_name == "_include" else revincludes).append(spec)
            elif name in ("_format", "_pretty"):
                continue
            elif name.startswith("_include:") or name.startswith("_revinclude:"):
                raise UnknownSearchParameter(f"'{name}' is not supported", expression=name)
            elif name == "_elements":
                continue  # shapes the answer only (hub.search.subsetting)
            else:
                criteria.append(_criterion(name, raw, resource_type, registry, base_url))
        except UnknownSearchParameter:
            if not lenient:
                raise
            ignored.append(name)
    after: tuple[str | int, ...] | None = None
    if cursor_token is not None:
        if offset_given:
            raise InvalidRequest(
                "_cursor and _offset cannot be used together (follow the next link)",
                expression="_cursor",
            )
        cursor = decode_cursor(
            cursor_token,
            fingerprint(resource_type, tuple(criteria), sort),
            keyset_keys(sort),
        )
        after, offset = cursor.after, cursor.position
    return SearchQuery(
        resource_type=resource_type,
        criteria=tuple(criteria),
        sort=sort,
        count=count,
        offset=offset,
        after=after,
        total=total,
        summary_count=summary_count,
        includes=tuple(includes),
        revincludes=tuple(revincludes),
        ignored=tuple(ignored),
        warnings=person_number_warnings(criteria),
    )
