"""Executes one TestScript against a FHIR server: fixtures, variables, setup, tests, teardown.

Each operation is one HTTP exchange, kept as the "last response" (and under its responseId)
for the asserts and variables that follow. A create from a fixture (sourceId) remembers the
id the server gave it, so later operations that target that fixture (targetId) reach the
server's copy. An assert that fails ends its test (the rest is skipped); a failing setup
skips every test; teardown always runs. Variables are evaluated when they are used, against
the fixture or response they name, with FHIRPath (fhirpathpy) or from a header.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from fhirpathpy import evaluate as fhirpath

from conformance.suites import LoadedScript
from conformance.tokens import DEFAULT, TokenError, TokenSource

MIME = {"json": "application/fhir+json", "xml": "application/fhir+xml"}
_VARIABLE = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


@dataclass
class Exchange:
    """One HTTP request and its response."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: Any
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    text: str = ""
    error: str | None = None


@dataclass
class ActionResult:
    """The outcome of one operation or assert, as the TestReport records it."""

    kind: str  # "operation" | "assert"
    result: str  # pass | fail | warning | error | skip
    message: str
    detail: str = ""


@dataclass
class TestResult:
    name: str
    description: str
    actions: list[ActionResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def result(self) -> str:
        return _worst(a.result for a in self.actions)


@dataclass
class ScriptResult:
    loaded: LoadedScript
    target: str
    setup: list[ActionResult] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    teardown: list[ActionResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def result(self) -> str:
        parts = [a.result for a in self.setup] + [t.result for t in self.tests]
        return _worst(parts)


def _worst(results: Any) -> str:
    order = ["error", "fail", "warning", "pass", "skip"]
    found = set(results)
    for result in order:
        if result in found:
            return "pass" if result in ("warning", "skip") and "pass" in found else result
    return "pass"


class ScriptError(Exception):
    """A TestScript that cannot be executed as written (unknown fixture, bad reference)."""


class Engine:
    """Runs one TestScript. `progress` is told about each test as it finishes."""

    def __init__(
        self,
        loaded: LoadedScript,
        target: str,
        client: httpx.Client,
        tokens: TokenSource,
        *,
        only_test: str | None = None,
        progress: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.loaded = loaded
        self.script = loaded.script
        self.base = target.rstrip("/")
        self.client = client
        self.tokens = tokens
        self.only_test = only_test
        self.progress = progress or (lambda *_: None)
        self.fixtures: dict[str, Any] = {}
        self.responses: dict[str, Exchange] = {}
        self.created: dict[str, tuple[str, str]] = {}
        self.last: Exchange | None = None
        self.run_id = uuid.uuid4().hex[:10]
        self.variables = {v["name"]: v for v in self.script.get("variable", []) if "name" in v}
        self.profiles = {
            p["id"]: p.get("reference", "") for p in self.script.get("profile", []) if "id" in p
        }

    # fixtures -------------------------------------------------------------------------------
    def _load_fixtures(self) -> None:
        contained = {r.get("id"): r for r in self.script.get("contained", [])}
        for fixture in self.script.get("fixture", []):
            reference = (fixture.get("resource") or {}).get("reference", "")
            if reference.startswith("#"):
                body = contained.get(reference[1:])
            else:
                path = (self.loaded.folder / reference).resolve()
                if not path.exists() and reference.count("/") == 1:
                    # "Patient/example" names Patient-example.json, as in the examples package
                    path = (self.loaded.folder / (reference.replace("/", "-") + ".json")).resolve()
                if not path.is_relative_to(self.loaded.folder.resolve().parent):
                    raise ScriptError(f"fixture {fixture.get('id')}: path outside the suite")
                try:
                    body = json.loads(Path(path).read_text("utf-8"))
                except (OSError, json.JSONDecodeError) as exc:
                    raise ScriptError(
                        f"fixture {fixture.get('id')}: cannot read {reference} "
                        f"({type(exc).__name__})"
                    ) from None
            if body is None:
                raise ScriptError(f"fixture {fixture.get('id')}: no resource {reference}")
            self.fixtures[fixture["id"]] = body

    def fixture_body(self, fixture_id: str) -> Any:
        if fixture_id in self.responses:
            return self.responses[fixture_id].body
        if fixture_id in self.fixtures:
            return json.loads(self.substitute(json.dumps(self.fixtures[fixture_id])))
        raise ScriptError(f"unknown fixture or response {fixture_id!r}")

    # variables ------------------------------------------------------------------------------
    def variable(self, name: str) -> str | None:
        if name == "runId":
            return self.run_id
        if name.startswith("token."):
            return self.tokens.get(name[len("token.") :])
        definition = self.variables.get(name)
        if definition is None:
            return None
        value: str | None = None
        source = definition.get("sourceId")
        if definition.get("headerField"):
            exchange = self.responses.get(source) if source else self.last
            if exchange is not None:
                value = exchange.headers.get(definition["headerField"].lower())
        expression = definition.get("expression") or xpath_to_fhirpath(definition.get("path"))
        if expression:
            body = self._source_body(source)
            if body is not None:
                value = first_value(body, expression)
        if value is None:
            value = definition.get("defaultValue")
        return value

    def _source_body(self, source: str | None) -> Any:
        if source:
            try:
                return self.fixture_body(source)
            except ScriptError:
                return None
        return self.last.body if self.last is not None else None

    def substitute(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            value = self.variable(match.group(1))
            return match.group(0) if value is None else value

        return _VARIABLE.sub(replace, text)

    # operations ------------------------------------------------------------------------------
    def _target(self, target_id: str) -> tuple[str | None, str | None, str | None]:
        """(type, id, version) of what a targetId names."""
        if target_id in self.created:
            kind, rid = self.created[target_id]
            return kind, rid, None
        body = None
        if target_id in self.responses:
            exchange = self.responses[target_id]
            body = exchange.body
            if (not isinstance(body, dict) or "id" not in body) and exchange.headers.get(
                "location"
            ):
                return parse_location(exchange.headers["location"])
        elif target_id in self.fixtures:
            body = self.fixtures[target_id]
        if isinstance(body, dict):
            version = (body.get("meta") or {}).get("versionId")
            return body.get("resourceType"), body.get("id"), version
        raise ScriptError(f"unknown targetId {target_id!r}")

    def _url(self, op: dict[str, Any], code: str, body: Any) -> tuple[str, str]:
        method = {
            "read": "GET",
            "vread": "GET",
            "search": "GET",
            "history": "GET",
            "capabilities": "GET",
            "create": "POST",
            "transaction": "POST",
            "batch": "POST",
            "validate": "POST",
            "update": "PUT",
            "updateCreate": "PUT",
            "patch": "PATCH",
            "delete": "DELETE",
        }.get(code, "GET")
        method = str(op.get("method", method)).upper()
        if op.get("url"):
            url = self.substitute(op["url"])
            return method, url if "://" in url else f"{self.base}/{url.lstrip('/')}"
        kind = op.get("resource")
        rid = version = None
        if op.get("targetId"):
            target_kind, rid, version = self._target(op["targetId"])
            kind = kind or target_kind
        if kind is None and isinstance(body, dict):
            kind = body.get("resourceType")
        if code in ("update", "updateCreate") and rid is None and isinstance(body, dict):
            rid = body.get("id")
        params = self.substitute(op.get("params", ""))
        if code in ("transaction", "batch"):
            path = ""
        elif code == "capabilities":
            path = "metadata"
        elif code == "validate":
            path = f"{kind}/$validate"
        else:
            path = kind or ""
            if params.startswith("/"):
                pass
            elif code in ("read", "update", "updateCreate", "patch", "delete") and rid:
                path += f"/{rid}"
            elif code == "vread" and rid:
                path += f"/{rid}/_history/{version or 1}"
            elif code == "history":
                path += f"/{rid}/_history" if rid else "/_history"
        url = f"{self.base}/{path}".rstrip("/") + params
        return method, url

    def operation(self, op: dict[str, Any]) -> ActionResult:
        code = (op.get("type") or {}).get("code", "")
        label = op.get("label") or op.get("description") or code or "operation"
        try:
            body = self.fixture_body(op["sourceId"]) if op.get("sourceId") else None
            method, url = self._url(op, code, body)
            headers = self._headers(op, body)
        except (ScriptError, TokenError) as exc:
            return ActionResult("operation", "error", f"{label}: {exc}")
        if code in ("update", "updateCreate") and isinstance(body, dict):
            # the body goes to the id in the URL, as the reference engines do for fixtures
            target_id = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            body = {**body, "id": target_id}
        exchange = self.send(method, url, headers, body)
        self.last = exchange
        if op.get("responseId"):
            self.responses[op["responseId"]] = exchange
        if exchange.error:
            return ActionResult("operation", "error", f"{label}: {exchange.error}")
        if code == "create" and op.get("sourceId") and 200 <= exchange.status < 300:
            created = _created(exchange, body)
            if created is not None:
                self.created[op["sourceId"]] = created
        return ActionResult(
            "operation", "pass", f"{label}: {method} {_short(url)} -> {exchange.status}"
        )

    def _headers(self, op: dict[str, Any], body: Any) -> dict[str, str]:
        headers = {"Accept": MIME.get(op.get("accept", "json"), op.get("accept", MIME["json"]))}
        if body is not None:
            content_type = op.get("contentType", "json")
            if isinstance(body, list):
                content_type = "application/json-patch+json"
            headers["Content-Type"] = MIME.get(content_type, content_type)
        for header in op.get("requestHeader", []):
            headers[header["field"]] = self.substitute(header.get("value", ""))
        if not any(h.lower() == "authorization" for h in headers):
            token = self.tokens.get(DEFAULT)
            if token:
                headers["Authorization"] = f"Bearer {token}"
        unresolved = [v for v in headers.values() if "${token." in v]
        if unresolved:
            raise TokenError("a token the script names was not given")
        return headers

    def send(self, method: str, url: str, headers: dict[str, str], body: Any) -> Exchange:
        content = None if body is None else json.dumps(body).encode("utf-8")
        exchange = Exchange(method, url, headers, body)
        try:
            response = self.client.request(method, url, headers=headers, content=content)
        except httpx.HTTPError as exc:
            exchange.error = f"no response ({type(exc).__name__})"
            return exchange
        exchange.status = response.status_code
        exchange.headers = {k.lower(): v for k, v in response.headers.items()}
        exchange.text = response.text
        try:
            exchange.body = response.json() if response.content else None
        except ValueError:
            exchange.body = None
        return exchange

    # the run ---------------------------------------------------------------------------------
    def run(self) -> ScriptResult:
        from conformance.asserts import check

        started = time.perf_counter()
        result = ScriptResult(self.loaded, self.base)
        try:
            self._load_fixtures()
        except ScriptError as exc:
            result.setup.append(ActionResult("operation", "error", f"fixtures: {exc}"))
            result.seconds = time.perf_counter() - started
            return result
        for fixture in self.script.get("fixture", []):
            if fixture.get("autocreate"):
                result.setup.append(
                    self.operation(
                        {
                            "type": {"code": "create"},
                            "sourceId": fixture["id"],
                            "label": f"autocreate {fixture['id']}",
                        }
                    )
                )
        setup_ok = self._actions(
            (self.script.get("setup") or {}).get("action", []), result.setup, check
        )
        for test in self.script.get("test", []):
            name = test.get("name") or test.get("id") or f"test {len(result.tests) + 1}"
            if self.only_test and name != self.only_test:
                continue
            test_result = TestResult(name, test.get("description", ""))
            test_started = time.perf_counter()
            if not setup_ok:
                test_result.actions.append(
                    ActionResult("operation", "skip", "skipped: the setup failed")
                )
            else:
                self._actions(test.get("action", []), test_result.actions, check)
            test_result.seconds = time.perf_counter() - test_started
            result.tests.append(test_result)
            self.progress(self.loaded.name, name, test_result.result)
        self._actions(
            (self.script.get("teardown") or {}).get("action", []),
            result.teardown,
            check,
            stop_on_fail=False,
        )
        for fixture in self.script.get("fixture", []):
            if fixture.get("autodelete") and fixture["id"] in self.created:
                result.teardown.append(
                    self.operation(
                        {
                            "type": {"code": "delete"},
                            "targetId": fixture["id"],
                            "label": f"autodelete {fixture['id']}",
                        }
                    )
                )
        result.seconds = time.perf_counter() - started
        return result

    def _actions(
        self,
        actions: list[dict[str, Any]],
        out: list[ActionResult],
        check: Callable[[Engine, dict[str, Any]], ActionResult],
        stop_on_fail: bool = True,
    ) -> bool:
        ok = True
        for action in actions:
            if not ok and stop_on_fail:
                out.append(
                    ActionResult(
                        "assert" if "assert" in action else "operation",
                        "skip",
                        "skipped after a failure",
                    )
                )
                continue
            if "operation" in action:
                outcome = self.operation(action["operation"])
            elif "assert" in action:
                outcome = check(self, action["assert"])
            else:
                continue
            out.append(outcome)
            if outcome.result in ("fail", "error"):
                ok = False
        return ok


def first_value(body: Any, expression: str) -> str | None:
    """The first result of a FHIRPath expression as text (None when empty or invalid)."""
    try:
        found = fhirpath(body, expression, {}, None)
    except Exception:  # a bad expression gives no value
        return None
    if not found:
        return None
    value = found[0]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


_SIMPLE_XPATH = re.compile(r"(?:fhir:)?[A-Za-z]+(?:/(?:fhir:)?[A-Za-z]+)*(?:/@value)?")


def xpath_to_fhirpath(path: str | None) -> str | None:
    """A path as FHIRPath: FHIRPath stays; a simple XPath such as
    `fhir:Bundle/fhir:type/@value` (or `Patient/id`) becomes `Bundle.type`; None otherwise."""
    if not path:
        return None
    if _SIMPLE_XPATH.fullmatch(path.strip("/")) and ("/" in path or "fhir:" in path):
        steps = [s.removeprefix("fhir:") for s in path.strip("/").split("/") if s != "@value"]
        return ".".join(steps)
    if path.startswith("/") or "fhir:" in path or "@" in path:
        return None
    return path


def parse_location(location: str) -> tuple[str | None, str | None, str | None]:
    parts = location.rstrip("/").split("/")
    version = None
    if len(parts) >= 4 and parts[-2] == "_history":
        version = parts[-1]
        parts = parts[:-2]
    if len(parts) >= 2:
        return parts[-2], parts[-1], version
    return None, None, None


def _created(exchange: Exchange, body: Any) -> tuple[str, str] | None:
    if (
        isinstance(exchange.body, dict)
        and exchange.body.get("id")
        and exchange.body.get("resourceType") != "OperationOutcome"
    ):
        return exchange.body["resourceType"], exchange.body["id"]
    if exchange.headers.get("location"):
        kind, rid, _ = parse_location(exchange.headers["location"])
        if kind and rid:
            return kind, rid
    return None


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."


def absolute(base: str, url: str) -> str:
    return url if "://" in url else urljoin(base.rstrip("/") + "/", url)
