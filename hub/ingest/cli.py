"""`hub ingest`: load export files through an adapter, and manage the quarantine.

    hub ingest --adapter NAME PATH...         files or folders; exit code 1 if any is rejected
    hub ingest quarantine list [--all]
    hub ingest quarantine show ID [--raw FILE]
    hub ingest quarantine replay ID [--source-system ID] [--force]
    hub ingest quarantine purge --before DATE

For municipal_csv a folder holding manifest.csv, or a zip, is ONE export; a folder without
one is searched for exports. For the other adapters every file in a folder (recursively,
hidden files skipped) is one input. The database is HUB_DATABASE_URL.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from hub.errors import HubError
from hub.ingest.batch import ingest_files
from hub.ingest.intake import IngestRejected, replay
from hub.ingest.quarantine import QuarantineStore, ReplayNeedsForce
from hub.ingest.registry import adapter_names, get_adapter
from hub.settings import Settings
from hub.store import open_store
from hub.store.sql_store import SqlStore
from hub.validation.pool import ValidationPool, default_workers

__all__ = ["ExportInput", "app", "export_inputs", "zip_folder"]

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_LOG = logging.getLogger("hub.ingest")
_STOCKHOLM = ZoneInfo("Europe/Stockholm")


class _LoadByDefault(TyperGroup):
    """`hub ingest --adapter X PATH...` runs the `load` command; named subcommands run as such."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["load", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    name="ingest",
    cls=_LoadByDefault,
    help="Load source exports through an adapter (hub ingest --adapter NAME PATH...), "
    "and manage the quarantine of rejected files.",
    no_args_is_help=True,
    add_completion=False,
)
quarantine_app = typer.Typer(
    name="quarantine", help="Rejected files: list, show, replay, purge.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")


@dataclass(frozen=True)
class ExportInput:
    """One input for one load: a display name and its bytes (a folder export is zipped)."""

    name: str
    path: Path
    folder: bool

    def read(self) -> bytes:
        return zip_folder(self.path) if self.folder else self.path.read_bytes()


def zip_folder(folder: Path) -> bytes:
    """A folder's files as one zip (fixed timestamps: the same folder gives the same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                info = zipfile.ZipInfo(path.name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            yield path


def _municipal_inputs(path: Path) -> Iterator[ExportInput]:
    if path.is_file():
        yield ExportInput(path.name, path, folder=False)
    elif (path / "manifest.csv").is_file() or (path / "MANIFEST.CSV").is_file():
        yield ExportInput(f"{path.name}.zip", path, folder=True)
    else:
        for item in sorted(path.iterdir()):
            if not item.name.startswith(".") and (item.is_dir() or item.suffix.lower() == ".zip"):
                yield from _municipal_inputs(item)


def export_inputs(adapter: str, paths: list[Path]) -> list[ExportInput]:
    """The loads for the given files and folders, in order."""
    inputs: list[ExportInput] = []
    for path in paths:
        if adapter == "municipal_csv":
            inputs.extend(_municipal_inputs(path))
        elif path.is_dir():
            inputs.extend(ExportInput(file.name, file, folder=False) for file in _files(path))
        else:
            inputs.append(ExportInput(path.name, path, folder=False))
    return inputs


@contextmanager
def _store() -> Iterator[tuple[SqlStore, Settings]]:
    settings = Settings()
    store = open_store(settings.database_url, base_url=settings.base_url)
    try:
        yield store, settings
    finally:
        store.close()


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code=2)


@contextmanager
def _validation_pool(settings: Settings) -> Iterator[ValidationPool]:
    """The worker processes that validate while the batches are written
    (HUB_VALIDATION_WORKERS; by default one per core but this one's, none on one core)."""
    workers = settings.validation_workers
    pool = ValidationPool(default_workers() if workers is None else workers)
    try:
        yield pool
    finally:
        pool.close()


@app.command("load")
def load(
    paths: list[Path] = typer.Argument(
        ..., exists=True, readable=True, help="Files or folders to load."
    ),
    adapter: str = typer.Option(
        ..., "--adapter", "-a", help=f"Adapter: {', '.join(adapter_names())}."
    ),
    source_system: str | None = typer.Option(
        None,
        "--source-system",
        help="Sending system's id, for files that name none themselves.",
    ),
) -> None:
    """Load files through an adapter; small files share a transaction, each file stays
    all-or-nothing (hub.ingest.batch; the default command)."""
    try:
        get_adapter(adapter)
    except HubError as exc:
        raise _fail(exc.message) from None
    inputs = export_inputs(adapter, paths)
    totals = {
        "files": 0,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "superseded": 0,
        "rejected": 0,
    }
    late: list[str] = []
    rejections: list[tuple[str, IngestRejected]] = []
    console = Console(stderr=True)
    with _store() as (store, settings), _validation_pool(settings) as validation:
        columns: list[Any] = [
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        ]
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"ingest {adapter}", total=len(inputs))
            results = ingest_files(
                store,
                adapter,
                ((item.name, item.read()) for item in inputs),
                source_system=source_system,
                secret=settings.patient_id_secret,
                validation=validation,
            )
            for result in results:
                totals["files"] += 1
                if isinstance(result, IngestRejected):
                    totals["rejected"] += 1
                    rejections.append((result.filename, result))
                else:
                    for key in ("created", "updated", "unchanged", "superseded"):
                        totals[key] += getattr(result, key)
                    if result.superseded_entry is not None:
                        late.append(
                            f"superseded {result.file}: {result.superseded} record(s) older "
                            f"than the stored state (quarantine entry {result.superseded_entry})"
                        )
                progress.advance(task)
    for line in late:
        typer.echo(line, err=True)
    for _name, rejected in rejections:
        error = rejected.error
        typer.echo(
            f"rejected {rejected.filename}: {error.code}: {error.message}"
            + (f" at {error.location}" if error.location else "")
            + (f" (quarantine entry {rejected.quarantine_id})" if rejected.quarantine_id else ""),
            err=True,
        )
    table = Table(title=f"hub ingest --adapter {adapter}")
    for key in totals:
        table.add_column(key, justify="right")
    table.add_row(*(str(value) for value in totals.values()))
    Console().print(table)
    typer.echo(" ".join(f"{key}={value}" for key, value in totals.items()))
    if totals["rejected"]:
        raise typer.Exit(code=1)


@quarantine_app.command("list")
def quarantine_list(
    show_all: bool = typer.Option(False, "--all", help="Include replayed entries."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many, newest first."),
) -> None:
    """Quarantined files, newest first."""
    with _store() as (store, _settings):
        entries = QuarantineStore(store.engine).entries(
            status=None if show_all else "quarantined", limit=limit
        )
    table = Table(title="quarantine")
    for column in ("id", "received", "adapter", "file", "status", "attempts", "error", "location"):
        table.add_column(column, justify="right" if column == "attempts" else "left")
    for entry in entries:
        table.add_row(
            str(entry.id),
            entry.received_at,
            entry.adapter,
            entry.filename,
            entry.status,
            str(entry.attempts),
            entry.error_code,
            entry.error_location or "",
        )
    Console(width=200).print(table)
    if not entries:
        typer.echo("no quarantined files")


@quarantine_app.command("show")
def quarantine_show(
    entry_id: int = typer.Argument(..., help="Quarantine entry id."),
    raw: Path | None = typer.Option(
        None, "--raw", help="Write the file's raw bytes to this path (may hold patient data)."
    ),
) -> None:
    """An entry's metadata and error; the raw bytes only to a file with --raw."""
    with _store() as (store, _settings):
        try:
            entry = QuarantineStore(store.engine).get(entry_id, with_raw=raw is not None)
        except HubError as exc:
            raise _fail(exc.message) from None
    for key, value in entry.as_dict().items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                typer.echo(f"{key}.{inner}: {inner_value if inner_value is not None else ''}")
        else:
            typer.echo(f"{key}: {value if value is not None else ''}")
    if raw is not None and entry.raw is not None:
        raw.write_bytes(entry.raw)
        typer.echo(f"raw bytes ({entry.size}) written to {raw}")


@quarantine_app.command("replay")
def quarantine_replay(
    entry_id: int = typer.Argument(..., help="Quarantine entry id."),
    source_system: str | None = typer.Option(
        None, "--source-system", help="Sending system's id, if the entry lacks one."
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="Replay an entry an access rule refused (error code forbidden), under the "
        "CLI's authority: it may load every care provider's records.",
    ),
) -> None:
    """Load a quarantined file again with the current mappings; marks it replayed on success."""
    with _store() as (store, settings):
        try:
            summary = replay(
                store,
                entry_id,
                secret=settings.patient_id_secret,
                source_system=source_system,
                force=force,
            )
        except ReplayNeedsForce as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(code=1) from None
        except IngestRejected as exc:
            typer.echo(
                f"replay rejected {exc.filename}: {exc.error.code}: {exc.error.message}"
                + (f" at {exc.error.location}" if exc.error.location else ""),
                err=True,
            )
            raise typer.Exit(code=1) from None
        except HubError as exc:
            raise _fail(exc.message) from None
    typer.echo(
        f"replayed entry {entry_id} ({summary.file}): created={summary.created} "
        f"updated={summary.updated} unchanged={summary.unchanged}"
    )


def _moment(text: str) -> datetime:
    """A date (its first moment, Swedish local time) or an ISO date-time (without an
    offset: Swedish local time)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=_STOCKHOLM)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            "give a date YYYY-MM-DD or a date-time YYYY-MM-DDTHH:MM[:SS][+HH:MM]"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_STOCKHOLM)


@quarantine_app.command("purge")
def quarantine_purge(
    before: str = typer.Option(
        ...,
        "--before",
        help="Delete the entries received before this date (YYYY-MM-DD, Swedish local "
        "midnight) or date-time; every status.",
    ),
) -> None:
    """Delete quarantine entries (their bytes too) received before DATE; prints how many."""
    cutoff = _moment(before)
    with _store() as (store, _settings):
        try:
            purged = QuarantineStore(store.engine).purge(cutoff)
        except HubError as exc:
            raise _fail(exc.message) from None
    _LOG.warning(
        "quarantine purge: %d entr%s received before %s deleted",
        purged,
        "y" if purged == 1 else "ies",
        cutoff.isoformat(timespec="seconds"),
    )
    typer.echo(
        f"purged {purged} quarantine entr{'y' if purged == 1 else 'ies'} received before "
        f"{cutoff.isoformat(timespec='seconds')}"
    )
