"""The `hub` command: serve the API, load demo data (more verbs arrive with their features)."""

from __future__ import annotations

from pathlib import Path

import typer

from conformance.cli import app as conformance_app
from hub.audit.cli import app as audit_app
from hub.auth.cli import app as token_app
from hub.ingest.cli import app as ingest_app
from hub.settings import Settings
from hub.validation.cli import validate_files

app = typer.Typer(
    name="hub",
    help="Care-record hub: a FHIR R4 hub for shared care records between Swedish "
    "municipalities and regions. Settings come from HUB_* environment variables "
    "(see README).",
    no_args_is_help=True,
    add_completion=False,
)


app.add_typer(ingest_app, name="ingest")
app.add_typer(audit_app, name="audit")
app.add_typer(token_app, name="token")
app.command("validate")(validate_files)
app.add_typer(conformance_app, name="conformance")


WORKER_HEALTHCHECK_SECONDS = 60
"""How long the parent of `--workers N` waits for a worker to answer its health check
before it kills and restarts the worker. uvicorn's default (5 s) is shorter than a
worker's start-up (imports, the search definitions, the heap freeze) on a loaded
machine: workers were killed and restarted over and over before serving."""


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        max=64,
        help="Worker processes sharing only the database (PostgreSQL; SQLite: keep 1).",
    ),
    tour: bool = typer.Option(
        False, "--tour", help="Print the demo tour (tokens for this host and port) first."
    ),
    log_level: str | None = typer.Option(
        None, "--log-level", help="debug, info, warning or error (default HUB_LOG_LEVEL, info)."
    ),
    log_format: str | None = typer.Option(
        None, "--log-format", help="text or json (default HUB_LOG_FORMAT, text)."
    ),
) -> None:
    """Serve the FHIR API over the configured database (HUB_DATABASE_URL), as it is.

    With --workers N, N stateless processes share the port; they stop when this command's
    process exits, even if it is killed (SIGKILL), so a restart finds the port free."""
    import os

    import uvicorn
    from pydantic import ValidationError

    from hub.demo.tour import base_url_for, tour_lines
    from hub.operations.logs import configure_logging

    # Worker processes read the same choice from the environment.
    if log_level is not None:
        os.environ["HUB_LOG_LEVEL"] = log_level.lower()
    if log_format is not None:
        os.environ["HUB_LOG_FORMAT"] = log_format.lower()
    try:
        settings = Settings()
    except ValidationError as error:
        names = ", ".join(str(e["loc"][0]) for e in error.errors())
        typer.echo(f"invalid setting: {names} (see README, Settings)", err=True)
        raise typer.Exit(2) from None
    configure_logging(settings.log_level, settings.log_format)
    base = base_url_for(host, port)
    origin = base.removesuffix("/fhir")
    if tour:
        for line in tour_lines(settings, base):
            typer.echo(line)
    typer.echo(f"FHIR base URL: {base}   (API docs: {origin}/docs)")
    if workers > 1:
        if settings.database_url.startswith("sqlite"):
            typer.echo(
                "Note: on SQLite one process is the default; its writes are serialised "
                "across workers (PostgreSQL is the database for --workers).",
                err=True,
            )
        os.environ["HUB_SERVE_PARENT_PID"] = str(os.getpid())
        uvicorn.run(
            "hub.asgi:app",
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
        return
    from hub.app import serving_app

    uvicorn.run(serving_app(settings), host=host, port=port, log_config=None, access_log=False)


demo_app = typer.Typer(
    help="Synthetic demo data for Region Örebro län and two municipalities, and its tour.",
    invoke_without_command=True,
    add_completion=False,
)
app.add_typer(demo_app, name="demo")

_PATIENTS = typer.Option(
    12, "--patients", min=1, max=100_000, help="How many synthetic patients to create."
)
_SEED = typer.Option(0, "--seed", help="Seed of the generator (same seed, same data).")


@demo_app.callback()
def demo(
    ctx: typer.Context,
    patients: int = _PATIENTS,
    folder: Path = typer.Option(
        Path("var/demo-exports"), "--folder", help="Where the generated source exports go."
    ),
    seed: int = _SEED,
    reload: bool = typer.Option(
        False,
        "--reload",
        help="Load the demo again, dated today, even into a database that holds it "
        "(overwrites demo records users changed).",
    ),
    tour: bool = typer.Option(True, "--tour/--no-tour", help="Print the tour afterwards."),
) -> None:
    """Generate synthetic source exports (RIVTA XML, municipal CSV, HL7 v2 ADT) dated
    relative to today for Region Örebro län and two municipalities, load them through the
    adapters (with a relative's representation consent), and print the tour. A database
    that holds the demo already is left as it is (--reload loads it again)."""
    if ctx.invoked_subcommand is not None:
        return
    from hub.demo.load import load_demo
    from hub.demo.tour import tour_lines
    from hub.store import open_store

    settings = Settings()
    store = open_store(settings.database_url, base_url=settings.base_url)
    try:
        loaded = load_demo(
            store,
            folder,
            settings.patient_id_secret,
            patients=patients,
            seed=seed,
            reload=reload,
        )
    finally:
        store.close()
    where = _safe_url(settings.database_url)
    if loaded.already_loaded:
        typer.echo(
            f"Demo data: {where} holds the demo already; nothing was loaded, so changes "
            "made to it are kept. `hub demo --reload` loads it again, dated today "
            "(demo records changed since are overwritten)."
        )
    else:
        summaries = loaded.summaries
        created = sum(s.created for s in summaries)
        updated = sum(s.updated for s in summaries)
        unchanged = sum(s.unchanged for s in summaries)
        extra = sum(loaded.parts.values())
        typer.echo(
            f"Demo data dated {loaded.today}: {len(summaries)} export files from {folder} "
            f"loaded into {where}: {created} created, {updated} updated, {unchanged} "
            f"unchanged; {extra} more records ({', '.join(loaded.parts)})."
        )
    if tour:
        base = settings.command_base_url
        for line in tour_lines(settings, base, patients=patients, seed=seed):
            typer.echo(line)


@demo_app.command("tour")
def demo_tour(
    host: str = typer.Option("127.0.0.1", "--host", help="Host the hub serves on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port the hub serves on."),
    patients: int = _PATIENTS,
    seed: int = _SEED,
) -> None:
    """Print the ready-to-paste tour: `export` lines with a token per demo caller (for
    http://HOST:PORT/fhir, or HUB_BASE_URL) and one visible patient per user."""
    from hub.demo.tour import base_url_for, tour_lines

    settings = Settings()
    for line in tour_lines(settings, base_url_for(host, port), patients=patients, seed=seed):
        typer.echo(line)


@app.command()
def reindex(
    types: list[str] = typer.Option(
        [], "--type", help="Only this resource type (repeatable); default every type."
    ),
    batch_size: int = typer.Option(500, "--batch-size", min=1, max=100_000),
) -> None:
    """Rebuild the search index and the patient security column of the stored resources
    from the current search definitions (run after fhir/search-index.json changed)."""
    from rich.progress import Progress

    from hub.search.reindex import reindex as run_reindex
    from hub.store import open_store

    settings = Settings()
    store = open_store(settings.database_url, base_url=settings.base_url)
    unknown = sorted(set(types) - set(store.registry.resource_types))
    if unknown:
        store.close()
        typer.echo(f"Unknown resource type: {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("Reindexing", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = run_reindex(
                store, types=types or None, batch_size=batch_size, progress=advance
            )
    finally:
        store.close()
    typer.echo(
        f"Reindexed {summary.resources} resources: {summary.index_rows} index rows, "
        f"{summary.patient_changes} patient columns changed."
    )


def _safe_url(url: str) -> str:
    """The database URL without a password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app(prog_name="hub")


if __name__ == "__main__":
    main()
