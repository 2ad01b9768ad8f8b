"""``hub audit``: verify the access log, give a patient their log extract, follow up accesses.

The database comes from ``HUB_DATABASE_URL`` (``Settings().database_url``); opening it runs
pending migrations. The checkpoint key is the Ed25519 PEM at ``HUB_AUDIT_KEY_PATH``
(default ``var/keys/audit-ed25519.pem``); ``verify`` only reads it (a private or public
key PEM) and never creates one.

Exit codes: 0 success, 1 the log failed verification, 2 a usage or configuration error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import orjson
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from consent.audit import AuditRecord
from consent.audit_export import audit_event_bundle, redacted, to_csv
from consent.audit_review import DEFAULT_DAILY_PATIENT_THRESHOLD, follow_up_report
from consent.periods import STOCKHOLM
from hub.audit.log import AuditLog, load_audit_public_key
from hub.settings import DEFAULT_BASE_URL, Settings

__all__ = [
    "DEFAULT_BASE_URL",
    "app",
    "audit_checkpoint_interval",
    "audit_key_path",
]


app = typer.Typer(
    name="audit",
    help="The tamper-evident access log: verify it, extract a patient's log, follow up.",
    no_args_is_help=True,
    add_completion=False,
)


class ExtractFormat(StrEnum):
    """Output formats of the patient's log extract."""

    fhir = "fhir"
    csv = "csv"


def audit_key_path() -> Path:
    """``HUB_AUDIT_KEY_PATH`` (default ``var/keys/audit-ed25519.pem``)."""
    return Path(Settings().audit_key_path)


def audit_checkpoint_interval() -> int:
    """``HUB_AUDIT_CHECKPOINT_INTERVAL`` (default 100)."""
    return Settings().audit_checkpoint_interval


def _database_url() -> str:
    return Settings().database_url


def _base_url() -> str:
    return Settings().command_base_url


@contextmanager
def _read_only_log() -> Iterator[AuditLog]:
    """The configured log, opened read-only (no signing key needed)."""
    from hub.store import open_store

    store = open_store(_database_url())
    try:
        yield AuditLog(store.engine, None)
    finally:
        store.close()


def _public_key(key_path: Path | None) -> Ed25519PublicKey:
    """The verification key; exit 2 if it is missing (it is never created here)."""
    path = key_path or audit_key_path()
    try:
        return load_audit_public_key(path)
    except FileNotFoundError:
        typer.echo(f"audit key not found: {path}", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"audit key unusable: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("verify")
def verify_command(
    interval: int | None = typer.Option(
        None,
        "--interval",
        min=0,
        help="Demand a checkpoint at every multiple of N records "
        "(default HUB_AUDIT_CHECKPOINT_INTERVAL; 0 skips this check).",
    ),
    key: Path | None = typer.Option(
        None, "--key", help="Ed25519 key PEM (private or public); default HUB_AUDIT_KEY_PATH."
    ),
) -> None:
    """Check the hash chain and the signed checkpoints; exit 1 naming the first problem."""
    expected = audit_checkpoint_interval() if interval is None else interval
    public_key = _public_key(key)
    with _read_only_log() as log:
        report = log.verify(public_key, expected or None)
    problem = report.first_problem
    if problem is not None:
        typer.echo(
            f"chain broken at sequence {problem.sequence}: {problem.kind} ({problem.detail}); "
            f"{len(report.problems)} problem(s) in {report.records_checked} records",
            err=True,
        )
        raise typer.Exit(1)
    tail = report.unsigned_tail
    suffix = f" ({tail} records after the last checkpoint)" if tail else ""
    typer.echo(
        f"chain intact: {report.records_checked} records, "
        f"{report.checkpoints_checked} checkpoints{suffix}"
    )


@app.command("extract")
def extract_command(
    patient: str = typer.Option(..., "--patient", help="The Patient id."),
    output_format: ExtractFormat = typer.Option(
        ExtractFormat.fhir, "--format", help="fhir: a Bundle of AuditEvent; csv: a table."
    ),
    output: Path | None = typer.Option(None, "--output", help="Write to FILE, not stdout."),
    provider: str | None = typer.Option(
        None,
        "--provider",
        help="A care provider's HSA-id: only what that provider hands the patient "
        "(its own accesses and those that showed its data), as GET $access-log gives it.",
    ),
) -> None:
    """The patient's log extract: who read their data, when, from which unit and provider.

    Nothing in it tells about blocks: hidden providers (other than --provider's own) are
    left out and the reasons a source was hidden read `not-shown`."""
    from hub.audit.names import directory_names
    from hub.store import open_store

    store = open_store(_database_url())
    try:
        found = AuditLog(store.engine, None).extract(patient, care_provider=provider)
        records = [redacted(record, provider) for record in found]
        names = directory_names(store, records) if output_format is ExtractFormat.csv else {}
    finally:
        store.close()
    if output_format is ExtractFormat.csv:
        text = to_csv(records, names)
        encoding = "utf-8-sig"  # spreadsheet programs then read å, ä, ö correctly
    else:
        bundle = audit_event_bundle(records, _base_url())
        text = orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
        encoding = "utf-8"
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding=encoding, newline="")
    typer.echo(f"{len(records)} accesses written to {output}", err=True)


def _parse_day(text: str | None) -> date:
    if text is None:
        return datetime.now(STOCKHOLM).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--date") from None


def _describe(record: AuditRecord) -> str:
    moment = record.timestamp.astimezone(STOCKHOLM).isoformat(timespec="seconds")
    return (
        f"  #{record.sequence} {moment} {record.subject} unit={record.care_unit or '-'} "
        f"provider={record.care_provider or '-'} patient={record.patient_id} "
        f"{record.action} {record.decision}:{record.reason}"
    )


@app.command("follow-up")
def follow_up_command(
    day_text: str | None = typer.Option(
        None, "--date", help="Calendar day (Europe/Stockholm), YYYY-MM-DD; default today."
    ),
    threshold: int = typer.Option(
        DEFAULT_DAILY_PATIENT_THRESHOLD,
        "--threshold",
        min=1,
        help="Flag readers who opened more distinct patients than this on the day.",
    ),
) -> None:
    """List the day's emergency accesses and readers with unusual volumes for review."""
    day = _parse_day(day_text)
    following = day + timedelta(days=1)
    start = datetime(day.year, day.month, day.day, tzinfo=STOCKHOLM)
    end = datetime(following.year, following.month, following.day, tzinfo=STOCKHOLM)
    with _read_only_log() as log:
        records = log.records(since=start, until=end)
    report = follow_up_report(records, daily_patient_threshold=threshold)
    typer.echo(f"Follow-up {day.isoformat()}: {len(records)} accesses")
    typer.echo(f"Emergency accesses: {len(report.emergency_accesses)}")
    for record in report.emergency_accesses:
        typer.echo(_describe(record))
    typer.echo(f"Readers above {threshold} distinct patients: {len(report.unusual_volumes)}")
    for flag in report.unusual_volumes:
        typer.echo(
            f"  {flag.subject} unit={flag.care_unit or '-'}: "
            f"{flag.distinct_patients} patients, {flag.accesses} accesses"
        )
