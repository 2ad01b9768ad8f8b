"""The `hub` command: serve the API, load demo data (more verbs arrive with their features)."""

from __future__ import annotations

import typer

from hub.settings import Settings

app = typer.Typer(
    name="hub",
    help="Care-record hub: a FHIR R4 hub for shared care records between Swedish "
    "municipalities and regions. Settings come from HUB_* environment variables "
    "(see README).",
    no_args_is_help=True,
    add_completion=False,
)


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
    from hub.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")


@app.command()
def demo(
    patients: int = typer.Option(
        12, "--patients", min=1, max=100_000, help="How many synthetic patients to create."
    ),
) -> None:
    """Load a synthetic Swedish data set: a region, two municipalities, patients with SIPs, care teams, episodes and encounters. Loading twice changes nothing."""  # noqa: E501
    from hub.demo import load_demo
    from hub.store import open_store

    settings = Settings()
    store = open_store(settings.database_url, base_url=settings.base_url)
    try:
        counts = load_demo(store, patients, settings.patient_id_secret.encode("utf-8"))
    finally:
        store.close()
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    typer.echo(f"Demo data loaded into {_safe_url(settings.database_url)}: {summary}")


def _safe_url(url: str) -> str:
    """The database URL without a password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app(prog_name="hub")


if __name__ == "__main__":
    main()
