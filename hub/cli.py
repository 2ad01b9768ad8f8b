"""The `hub` command: serve the API, load demo data (more verbs arrive with their features)."""

from __future__ import annotations

from pathlib import Path

import typer

from hub.audit.cli import app as audit_app
from hub.auth.cli import app as token_app
from hub.ingest.cli import app as ingest_app
from hub.settings import Settings

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


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
) -> None:
    """Serve the FHIR API over the configured database (HUB_DATABASE_URL), as it is."""
    import uvicorn

    settings = Settings()
    typer.echo(f"FHIR base URL: http://{host}:{port}/fhir   (API docs: http://{host}:{port}/docs)")
    if workers > 1:
        uvicorn.run("hub.asgi:app", host=host, port=port, workers=workers, log_level="warning")
        return
    from hub.app import serving_app

    uvicorn.run(serving_app(settings), host=host, port=port, log_level="warning")


@app.command()
def demo(
    patients: int = typer.Option(
        12, "--patients", min=1, max=100_000, help="How many synthetic patients to create."
    ),
    folder: Path = typer.Option(
        Path("var/demo-exports"), "--folder", help="Where the generated source exports go."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the generator (same seed, same data)."),
) -> None:
    """Generate synthetic source exports (RIVTA XML, municipal CSV, HL7 v2 ADT) for Region
    Örebro län and two municipalities, load them through the adapters, and print bearer
    tokens for the demo users. Loading twice changes nothing."""
    from hub.auth.cli import demo_tokens
    from hub.demo.clinical import add_clinical_content
    from hub.demo.exports import demo_people, load_demo_exports, write_demo_exports
    from hub.store import open_store

    settings = Settings()
    store = open_store(settings.database_url, base_url=settings.base_url)
    try:
        write_demo_exports(folder, patients, seed=seed)
        summaries = load_demo_exports(store, folder, settings.patient_id_secret)
        clinical = add_clinical_content(
            store, demo_people(patients, seed), settings.patient_id_secret
        )
    finally:
        store.close()
    created = sum(s.created for s in summaries)
    updated = sum(s.updated for s in summaries)
    unchanged = sum(s.unchanged for s in summaries)
    typer.echo(
        f"Demo data: {len(summaries)} export files from {folder} loaded into "
        f"{_safe_url(settings.database_url)}: {created} created, {updated} updated, "
        f"{unchanged} unchanged; {clinical} clinical demo resources (medication, plans, "
        "contacts, admissions) written."
    )
    if settings.auth == "off":
        return
    audience = settings.token_audience or settings.base_url or "http://127.0.0.1:8000/fhir"
    typer.echo(f"Bearer tokens for the demo users (8 h; audience {audience}):")
    for label, token in demo_tokens(settings):
        typer.echo(f"  {label}:\n    {token}")


def _safe_url(url: str) -> str:
    """The database URL without a password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app(prog_name="hub")


if __name__ == "__main__":
    main()
