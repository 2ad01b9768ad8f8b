"""Reports of a run: a FHIR TestReport per TestScript (in a Bundle), JUnit XML for CI systems,
and one readable HTML page. Nothing in them carries a token."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from conformance.engine import ActionResult, ScriptResult

RESULT_CODES = {
    "pass": "pass",
    "fail": "fail",
    "warning": "warning",
    "error": "error",
    "skip": "skip",
}


def _action(action: ActionResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"result": RESULT_CODES[action.result], "message": action.message}
    if action.detail:
        entry["detail"] = action.detail
        if action.kind == "assert":
            entry["message"] = f"{action.message}: {action.detail}"
    return {action.kind: entry}


def test_report(result: ScriptResult, issued: str | None = None) -> dict[str, Any]:
    """The FHIR R4 TestReport of one TestScript run."""
    script = result.loaded.script
    tests = result.tests
    passed = sum(1 for t in tests if t.result == "pass")
    report: dict[str, Any] = {
        "resourceType": "TestReport",
        "id": str(script.get("id", "testscript"))[:64],
        "name": result.loaded.name,
        "status": "completed",
        "testScript": {
            "reference": f"TestScript/{script.get('id', 'unknown')}",
            "display": result.loaded.name,
        },
        "result": "pass" if result.result in ("pass", "warning") else "fail",
        "score": round(100.0 * passed / len(tests), 1) if tests else 100.0,
        "tester": "care-record hub conformance runner",
        "issued": issued or datetime.now(UTC).isoformat(timespec="seconds"),
        "participant": [
            {"type": "test-engine", "uri": "urn:care-record-hub:conformance"},
            {"type": "server", "uri": result.target},
        ],
    }
    if script.get("url"):
        report["testScript"]["reference"] = script["url"]
    if result.setup:
        report["setup"] = {"action": [_action(a) for a in result.setup]}
    if tests:
        report["test"] = [
            {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "action": [_action(a) for a in t.actions]
                or [{"operation": {"result": "skip", "message": "no actions"}}],
            }
            for t in tests
        ]
    teardown = [a for a in result.teardown if a.kind == "operation"]
    if teardown:
        report["teardown"] = {"action": [{"operation": _action(a)["operation"]} for a in teardown]}
    return report


def bundle(results: list[ScriptResult]) -> dict[str, Any]:
    issued = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": issued,
        "entry": [{"resource": test_report(r, issued)} for r in results],
    }


def junit(results: list[ScriptResult]) -> str:
    suites = ET.Element("testsuites", name="conformance")
    for result in results:
        failures = sum(1 for t in result.tests if t.result == "fail")
        errors = sum(1 for t in result.tests if t.result == "error")
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{result.loaded.suite}/{result.loaded.name}",
            tests=str(len(result.tests)),
            failures=str(failures),
            errors=str(errors),
            time=f"{result.seconds:.3f}",
        )
        setup_problems = [a for a in result.setup if a.result in ("fail", "error")]
        for test in result.tests:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{result.loaded.suite}.{result.loaded.name}",
                name=test.name,
                time=f"{test.seconds:.3f}",
            )
            bad = [a for a in test.actions if a.result in ("fail", "error")]
            if test.result == "skip" and setup_problems:
                bad = setup_problems
            if bad:
                tag = "failure" if bad[0].result == "fail" else "error"
                node = ET.SubElement(case, tag, message=_line(bad[0]))
                node.text = "\n".join(_line(a) for a in bad)
            elif test.result == "skip":
                ET.SubElement(case, "skipped")
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def _line(action: ActionResult) -> str:
    return f"{action.message}: {action.detail}" if action.detail else action.message


def html_report(results: list[ScriptResult]) -> str:
    rows = []
    total = sum(len(r.tests) for r in results)
    passed = sum(1 for r in results for t in r.tests if t.result == "pass")
    for result in results:
        rows.append(
            f"<h2>{html.escape(result.loaded.suite)} / {html.escape(result.loaded.name)} "
            f"<span class='{result.result}'>{result.result}</span></h2>"
            f"<p>{html.escape(str(result.loaded.script.get('description', '')))}</p>"
        )
        sections = (
            [("setup", result.setup)]
            + [(f"test: {t.name}", t.actions) for t in result.tests]
            + [("teardown", result.teardown)]
        )
        for title, actions in sections:
            if not actions:
                continue
            items = "".join(
                f"<tr class='{a.result}'><td>{a.result}</td><td>{a.kind}</td>"
                f"<td>{html.escape(a.message)}</td><td>{html.escape(a.detail)}</td></tr>"
                for a in actions
            )
            rows.append(
                f"<h3>{html.escape(title)}</h3><table><tr><th>result</th><th>action</th>"
                f"<th>message</th><th>found</th></tr>{items}</table>"
            )
    target = html.escape(results[0].target) if results else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Conformance report</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #ccc;padding:4px;text-align:left;vertical-align:top}"
        ".pass{color:#060}.fail,.error{color:#a00;font-weight:bold}.skip,.warning{color:#850}"
        "</style></head><body>"
        f"<h1>Conformance report</h1><p>Target: {target}. {passed} of {total} tests passed.</p>"
        + "".join(rows)
        + "</body></html>"
    )


def write_json(path: Any, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
