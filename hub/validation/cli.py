"""`hub validate FILE...`: validate JSON resources, print the findings, exit 1 on errors."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import typer

from hub.validation.profiles import Options, has_errors, operation_outcome, validate


def validate_files(
    files: list[Path] = typer.Argument(..., help="JSON files, each one resource."),
    profile: list[str] = typer.Option(
        [], "--profile", help="Canonical URL of a profile to validate against (repeatable)."
    ),
    output: str = typer.Option(
        "text",
        "--format",
        help="text (one line per finding) or json (an OperationOutcome per file).",
    ),
    invariants: bool = typer.Option(
        True, "--invariants/--no-invariants", help="Evaluate the FHIRPath invariants."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="Print errors only."),
) -> None:
    """Validate each file against the base R4 definitions, the profiles it claims in
    meta.profile (held in fhir/ig/) and any --profile. Exit code 1 if any file has an error."""
    failed = 0
    for path in files:
        try:
            resource = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            typer.echo(f"{path}: error: cannot read JSON ({type(exc).__name__})")
            failed += 1
            continue
        issues = validate(resource, profile, options=Options(invariants=invariants))
        errors = has_errors(issues)
        failed += errors
        if output == "json":
            typer.echo(orjson.dumps({"file": str(path), "outcome": operation_outcome(issues)}))
            continue
        shown = [i for i in issues if not quiet or i.severity in ("error", "fatal")]
        status = "FAIL" if errors else "ok"
        typer.echo(f"{path}: {status} ({len(issues)} findings)")
        for i in shown:
            typer.echo(f"  {i.severity:<11} {i.code:<13} {i.expression}  [{i.rule}] {i.message}")
    typer.echo(f"{len(files) - failed} of {len(files)} files valid")
    raise typer.Exit(1 if failed else 0)
