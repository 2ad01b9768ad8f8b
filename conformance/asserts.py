"""The TestScript asserts. Each present check (response, responseCode, resource, contentType,
headerField, expression/path, compareToSource*, minimumId, validateProfileId, navigationLinks,
requestMethod, requestURL) must hold; the message is the script's own description or label,
followed by what was found. warningOnly turns a failure into a warning."""

from __future__ import annotations

import json
from typing import Any

from fhirpathpy import evaluate as fhirpath

from conformance.engine import (
    ActionResult,
    Engine,
    Exchange,
    ScriptError,
    absolute,
    xpath_to_fhirpath,
)

RESPONSES = {
    "okay": 200,
    "created": 201,
    "noContent": 204,
    "notModified": 304,
    "bad": 400,
    "forbidden": 403,
    "notFound": 404,
    "methodNotAllowed": 405,
    "conflict": 409,
    "gone": 410,
    "preconditionFailed": 412,
    "unprocessable": 422,
}


def compare(operator: str, actual: str | None, expected: str | None) -> bool:
    """TestScript assertion operators over text values."""
    operator = operator or "equals"
    if operator == "empty":
        return actual in (None, "")
    if operator == "notEmpty":
        return actual not in (None, "")
    if actual is None or expected is None:
        return False
    if operator == "equals":
        return actual == expected
    if operator == "notEquals":
        return actual != expected
    if operator == "in":
        return actual in [v.strip() for v in expected.split(",")]
    if operator == "notIn":
        return actual not in [v.strip() for v in expected.split(",")]
    if operator in ("greaterThan", "lessThan"):
        try:
            a, e = float(actual), float(expected)
        except ValueError:
            return actual > expected if operator == "greaterThan" else actual < expected
        return a > e if operator == "greaterThan" else a < e
    if operator == "contains":
        return expected in actual
    if operator == "notContains":
        return expected not in actual
    return False


def _target(engine: Engine, spec: dict[str, Any]) -> Exchange | None:
    if spec.get("sourceId") and spec["sourceId"] in engine.responses:
        return engine.responses[spec["sourceId"]]
    return engine.last


def _body(engine: Engine, spec: dict[str, Any]) -> Any:
    if spec.get("sourceId"):
        return engine.fixture_body(spec["sourceId"])
    if spec.get("direction") == "request":
        return engine.last.request_body if engine.last else None
    return engine.last.body if engine.last else None


def _values(body: Any, expression: str) -> list[Any] | None:
    try:
        return list(fhirpath(body, expression, {}, None))
    except Exception:  # reported as a failed assert
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _contains(actual: Any, minimum: Any) -> bool:
    if isinstance(minimum, dict):
        return isinstance(actual, dict) and all(
            k in actual and _contains(actual[k], v)
            for k, v in minimum.items()
            if k not in ("id", "meta", "text")
        )
    if isinstance(minimum, list):
        return isinstance(actual, list) and all(
            any(_contains(a, m) for a in actual) for m in minimum
        )
    return bool(actual == minimum)


def _checks(engine: Engine, spec: dict[str, Any]) -> list[tuple[bool, str]]:
    """(held, what was found) for each check the assert carries."""
    exchange = _target(engine, spec)
    found: list[tuple[bool, str]] = []
    operator = spec.get("operator", "")
    value = engine.substitute(spec["value"]) if "value" in spec else None
    status = str(exchange.status) if exchange else None
    if "response" in spec:
        want = RESPONSES.get(spec["response"])
        found.append(
            (status == str(want), f"expected HTTP {want} ({spec['response']}), got {status}")
        )
    if "responseCode" in spec:
        codes = engine.substitute(spec["responseCode"])
        ok = compare(operator or ("in" if "," in codes else "equals"), status, codes)
        found.append((ok, f"expected response code {operator or 'equals'} {codes}, got {status}"))
    if "resource" in spec:
        body = _body(engine, spec)
        kind = body.get("resourceType") if isinstance(body, dict) else None
        found.append((kind == spec["resource"], f"expected a {spec['resource']}, got {kind}"))
    if "contentType" in spec:
        header = exchange.headers.get("content-type", "") if exchange else ""
        want = {"json": "json", "xml": "xml"}.get(spec["contentType"], spec["contentType"])
        found.append((want in header, f"expected content type {want}, got {header or 'none'}"))
    if "headerField" in spec:
        source: dict[str, str] = {}
        if exchange is not None:
            request = spec.get("direction") == "request"
            source = exchange.request_headers if request else exchange.headers
        lowered = {k.lower(): v for k, v in (source or {}).items()}
        actual = lowered.get(spec["headerField"].lower())
        ok = compare(operator or ("notEmpty" if value is None else "equals"), actual, value)
        found.append(
            (ok, f"header {spec['headerField']}: {operator or 'equals'} {value}, got {actual}")
        )
    expression = spec.get("expression") or xpath_to_fhirpath(spec.get("path"))
    if spec.get("path") and expression is None:
        found.append((False, f"the path {spec['path']} is an XPath this runner cannot evaluate"))
    if expression and "compareToSourceId" not in spec:
        results = _values(_body(engine, spec), engine.substitute(expression))
        if results is None:
            found.append((False, f"the expression {expression} could not be evaluated"))
        elif value is None and operator in ("", "eval"):
            found.append(
                (results == [True], f"{expression} gave {[_text(r) for r in results][:3]}")
            )
        else:
            actual = _text(results[0]) if results else None
            ok = compare(operator, actual, value)
            found.append(
                (ok, f"{expression}: expected {operator or 'equals'} {value}, got {actual}")
            )
    if "compareToSourceId" in spec:
        source_expression = spec.get("compareToSourceExpression") or xpath_to_fhirpath(
            spec.get("compareToSourcePath")
        )
        source = engine.fixture_body(spec["compareToSourceId"])
        if source_expression:
            expected = _values(source, source_expression) or []
            actual_values = _values(_body(engine, spec), source_expression) or []
            ok = compare(
                operator or "equals",
                _text(actual_values[0]) if actual_values else None,
                _text(expected[0]) if expected else None,
            )
            found.append(
                (ok, f"{source_expression}: response and {spec['compareToSourceId']} differ")
            )
    if "minimumId" in spec:
        minimum = engine.fixture_body(spec["minimumId"])
        ok = _contains(_body(engine, spec), minimum)
        found.append((ok, f"the response lacks content of {spec['minimumId']}"))
    if "validateProfileId" in spec:
        from hub.validation.profiles import validate

        url = engine.profiles.get(spec["validateProfileId"], spec["validateProfileId"])
        body = _body(engine, spec)
        issues = validate(body, [url]) if isinstance(body, dict) else []
        errors = [i for i in issues if i.severity in ("error", "fatal")]
        found.append(
            (
                isinstance(body, dict) and not errors,
                "conforms"
                if not errors
                else f"{len(errors)} errors against {url}, first [{errors[0].rule}] "
                f"at {errors[0].expression}",
            )
        )
    if spec.get("navigationLinks") is not None:
        found.append(_navigation(engine, _body(engine, spec), bool(spec["navigationLinks"])))
    if "requestMethod" in spec and engine.last:
        want_method = spec["requestMethod"].upper()
        found.append((engine.last.method == want_method, f"request method {engine.last.method}"))
    if "requestURL" in spec and engine.last:
        want_url = absolute(engine.base, engine.substitute(spec["requestURL"]))
        found.append(
            (
                compare(operator or "equals", engine.last.url, want_url),
                f"request URL {engine.last.url}",
            )
        )
    return found


def _navigation(engine: Engine, body: Any, wanted: bool) -> tuple[bool, str]:
    links = {
        link.get("relation"): link.get("url")
        for link in (body.get("link", []) if isinstance(body, dict) else [])
    }
    if not wanted:
        return True, "navigation links not checked"
    if "self" not in links:
        return False, "the Bundle has no self link"
    following = links.get("next")
    if following:
        page = engine.send(
            "GET",
            absolute(engine.base, following),
            engine.last.request_headers if engine.last else {},
            None,
        )
        if (
            page.status != 200
            or not isinstance(page.body, dict)
            or page.body.get("resourceType") != "Bundle"
        ):
            return False, f"the next link answered {page.status}"
    return True, f"links: {', '.join(sorted(k for k in links if k))}"


def check(engine: Engine, spec: dict[str, Any]) -> ActionResult:
    """One assert: pass, or fail/warning with the script's own message and what was found."""
    message = spec.get("description") or spec.get("label") or "assert"
    try:
        results = _checks(engine, spec)
    except ScriptError as exc:
        return ActionResult("assert", "error", message, str(exc))
    if not results:
        return ActionResult("assert", "error", message, "the assert names nothing to check")
    failed = [detail for ok, detail in results if not ok]
    if not failed:
        return ActionResult("assert", "pass", message, "; ".join(d for _, d in results))
    return ActionResult(
        "assert", "warning" if spec.get("warningOnly") else "fail", message, "; ".join(failed)
    )
