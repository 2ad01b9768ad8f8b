"""The suites catch broken servers, naming the broken rule: one that ignores If-Match and one
that leaks search totals. Also the command line: exit codes, --test, and the three reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from typer.testing import CliRunner

from conformance.cli import run_suites
from hub.cli import app as cli_app


def _failed(results: list[Any]) -> dict[str, str]:
    return {
        test.name: next(f"{a.message}: {a.detail}" for a in test.actions if a.result == "fail")
        for result in results
        for test in result.tests
        if test.result == "fail"
    }


def test_a_server_that_ignores_if_match_fails_the_locking_tests(
    live_hub: Any, broken_servers: dict[str, str]
) -> None:
    target = broken_servers["ignores-if-match"]
    core = _failed(run_suites(["core-rest"], target, live_hub.token_source(), echo=False))
    assert set(core) == {"stale update"}
    assert "stale If-Match answers 412 Precondition Failed" in core["stale update"]
    assert "got 200" in core["stale update"]
    sip = _failed(run_suites(["sip-exchange"], target, live_hub.token_source(), echo=False))
    assert "conflicting write" in sip
    assert "If-Match must be honoured" in sip["conflicting write"]


def test_a_server_that_leaks_totals_fails_the_pdl_suite(
    live_hub: Any, broken_servers: dict[str, str]
) -> None:
    target = broken_servers["leaks-totals"]
    failed = _failed(run_suites(["pdl-access"], target, live_hub.token_source(), echo=False))
    assert set(failed) == {"totals count only visible data", "block beats consent"}
    assert failed["totals count only visible data"] == (
        "Bundle.total counts only what the reader may see (no leaking totals): "
        "total: expected equals 1, got 3"
    )
    assert "no leaking totals" in failed["block beats consent"]
    assert "expected equals 2, got 3" in failed["block beats consent"]


def test_the_command_exits_1_and_writes_testreport_junit_and_html(
    live_hub: Any, broken_servers: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        cli_app,
        [
            "conformance",
            "run",
            "core-rest",
            "--target",
            broken_servers["ignores-if-match"],
            "--token",
            live_hub.tokens["municipal"],
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output
    assert (
        "FAILED CoreRestBehaviour :: stale update: An update with a stale If-Match" in result.output
    )
    bundle = json.loads((out / "testreport.json").read_text())
    report = bundle["entry"][0]["resource"]
    assert report["resourceType"] == "TestReport" and report["result"] == "fail"
    stale = next(t for t in report["test"] if t["name"] == "stale update")
    messages = [a["assert"]["message"] for a in stale["action"] if "assert" in a]
    assert any(m.startswith("An update with a stale If-Match answers 412") for m in messages)
    suites = ET.fromstring((out / "junit.xml").read_text())
    failures = suites.findall(".//testcase/failure")
    assert any("stale If-Match" in (f.get("message") or "") for f in failures)
    assert suites.find("testsuite").get("failures") == str(len(failures))
    html = (out / "report.html").read_text()
    assert "stale update" in html and "<table>" in html
    assert live_hub.tokens["municipal"] not in html + json.dumps(bundle)


def test_one_test_runs_by_name_and_a_passing_run_exits_0(live_hub: Any, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app,
        [
            "conformance",
            "run",
            "core-rest",
            "--target",
            live_hub.base_url,
            "--test",
            "unknown id",
            "--token",
            live_hub.tokens["municipal"],
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 of 1 tests passed" in result.output
    assert "PASS  CoreRestBehaviour :: unknown id" in result.output


def test_named_tokens_come_from_a_token_command(live_hub: Any, tmp_path: Path) -> None:
    store = tmp_path / "tokens.json"
    store.write_text(json.dumps(live_hub.tokens))
    script = tmp_path / "token.py"
    script.write_text(
        "import json, sys\n"
        f"tokens = json.load(open({str(store)!r}))\n"
        "print(tokens['municipal' if sys.argv[1] == 'default' else sys.argv[1]])\n"
    )
    import sys

    result = CliRunner().invoke(
        cli_app,
        [
            "conformance",
            "run",
            "pdl-access",
            "--target",
            live_hub.base_url,
            "--token-command",
            f"{sys.executable} {script}",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output


def test_an_unknown_suite_or_test_is_a_usage_error(live_hub: Any, tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(
        cli_app, ["conformance", "run", "no-such-suite", "--target", live_hub.base_url]
    )
    assert unknown.exit_code == 2
    assert "core-rest" in unknown.output
    no_test = runner.invoke(
        cli_app,
        [
            "conformance",
            "run",
            "core-rest",
            "--target",
            live_hub.base_url,
            "--test",
            "nope",
            "--out",
            str(tmp_path),
        ],
    )
    assert no_test.exit_code == 2
