"""`hub conformance run SUITE... --target URL`: run TestScripts, report, exit 1 if any fail."""

from __future__ import annotations

from pathlib import Path

import httpx
import typer

from conformance.engine import Engine, ScriptResult
from conformance.report import bundle, html_report, junit, write_json
from conformance.suites import SuiteError, available_suites, load
from conformance.tokens import TokenError, TokenSource

app = typer.Typer(help="Run FHIR R4 TestScripts against a FHIR server.", no_args_is_help=True)

MARK = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "warning": "WARN", "skip": "SKIP"}


def run_suites(
    sources: list[str],
    target: str,
    tokens: TokenSource,
    *,
    only_test: str | None = None,
    echo: bool = True,
    transport: httpx.BaseTransport | None = None,
    timeout: float = 30.0,
) -> list[ScriptResult]:
    """Run the TestScripts of each source (suite name, folder or file) against `target`."""
    scripts = [s for source in sources for s in load(source)]

    def progress(script: str, test: str, result: str) -> None:
        if echo:
            typer.echo(f"  {MARK.get(result, result):<5} {script} :: {test}", err=True)

    results = []
    with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
        for index, loaded in enumerate(scripts, start=1):
            if only_test and not any(
                (t.get("name") or "") == only_test for t in loaded.script.get("test", [])
            ):
                continue
            if echo:
                typer.echo(f"[{index}/{len(scripts)}] {loaded.suite}/{loaded.name}", err=True)
            engine = Engine(loaded, target, client, tokens, only_test=only_test, progress=progress)
            results.append(engine.run())
    return results


@app.command("run")
def run(
    suites: list[str] = typer.Argument(
        ..., help="Suite names (folders of conformance/suites/), folders or TestScript files."
    ),
    target: str = typer.Option(..., "--target", help="FHIR base URL of the server under test."),
    token: list[str] = typer.Option(
        [], "--token", help="Bearer token (VALUE, or NAME=VALUE for ${token.NAME}); repeatable."
    ),
    token_command: str | None = typer.Option(
        None,
        "--token-command",
        help="Command printing a token; its last argument is the token name (default or NAME).",
    ),
    test: str | None = typer.Option(None, "--test", help="Run only the test with this name."),
    out: Path = typer.Option(
        Path("conformance-report"),
        "--out",
        help="Folder for testreport.json (Bundle of TestReports), junit.xml and report.html.",
    ),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds per HTTP request."),
) -> None:
    """Run TestScripts against a FHIR server; exit code 1 if any test fails."""
    tokens = TokenSource.from_options(token, token_command)
    try:
        results = run_suites(suites, target, tokens, only_test=test, timeout=timeout)
    except (SuiteError, TokenError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if test and not results:
        typer.echo(f"error: no test named {test!r} in {', '.join(suites)}", err=True)
        raise typer.Exit(2)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "testreport.json", bundle(results))
    (out / "junit.xml").write_text(junit(results), "utf-8")
    (out / "report.html").write_text(html_report(results), "utf-8")
    total = sum(len(r.tests) for r in results)
    failed = [(r, t) for r in results for t in r.tests if t.result in ("fail", "error")]
    setup_failed = [r for r in results if any(a.result in ("fail", "error") for a in r.setup)]
    typer.echo(f"{total - len(failed)} of {total} tests passed; reports in {out}/")
    for result, failed_test in failed:
        problem = next(
            (a for a in failed_test.actions if a.result in ("fail", "error")), None
        ) or next((a for a in result.setup if a.result in ("fail", "error")), None)
        detail = f"{problem.message}: {problem.detail}" if problem else ""
        typer.echo(f"FAILED {result.loaded.name} :: {failed_test.name}: {detail}")
    raise typer.Exit(1 if failed or setup_failed else 0)


@app.command("list")
def list_suites() -> None:
    """The suites in conformance/suites/."""
    for name in available_suites():
        typer.echo(name)
