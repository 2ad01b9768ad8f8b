"""`python -m bench.profile_ingest`: where each adapter's ingest time goes (cProfile).

Generates the demo exports for N patients (default 300), loads every adapter's files with
`hub.ingest.batch.ingest_files` (the CLI's path) into a fresh SQLite file and a fresh
PostgreSQL schema under cProfile (each load without remembered verdicts, after the warm-up
a running hub has had: definitions read, model modules imported), and
writes the 30 most expensive functions (cumulative and own time) per adapter and database
to bench/figures/ingest-<adapter>-<database>-profile.txt.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import uuid
from pathlib import Path

import psycopg
from fhir.resources.R4B import get_fhir_model_class

from adapters.model import TranslationContext
from bench.adapters import DEFAULT_POSTGRES, SECRET, _register_demo_ward, load_all
from hub.demo.exports import write_demo_exports
from hub.ingest.registry import ADAPTERS
from hub.store import open_store
from hub.validation.resources import forget_verdicts, validate_resource

FIGURES = Path(__file__).resolve().parent / "figures"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    _register_demo_ward()
    FIGURES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        exports = write_demo_exports(folder / "exports", args.patients, 0)
        urls = {"sqlite": f"sqlite:///{folder / 'profile.db'}"}
        schema = None
        if not args.no_postgres:
            schema = f"ingestspeed_profile_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            urls["postgresql"] = f"{args.postgres}?options=-csearch_path%3D{schema}"
        try:
            for database, url in urls.items():
                store = open_store(url)
                try:
                    for adapter in ADAPTERS:
                        files = [(p.name, p.read_bytes()) for a, p in exports if a == adapter]
                        _warm_up(adapter, files)
                        forget_verdicts()
                        profile = cProfile.Profile()
                        profile.enable()
                        load_all(store, adapter, files, SECRET)
                        profile.disable()
                        text = io.StringIO()
                        stats = pstats.Stats(profile, stream=text).strip_dirs()
                        stats.sort_stats("cumulative").print_stats(30)
                        stats.sort_stats("tottime").print_stats(30)
                        out = FIGURES / f"ingest-{adapter}-{database}-profile.txt"
                        out.write_text(text.getvalue())
                        print(f"{out.name}: {stats.total_tt:.2f} s")  # type: ignore[attr-defined]
                finally:
                    store.close()
        finally:
            if schema is not None:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _warm_up(adapter_name: str, files: list[tuple[str, bytes]]) -> None:
    """What a running hub has already done, as in bench.adapters before its timing: the
    definitions read and the fhir.resources model modules of the translated types imported."""
    adapter = ADAPTERS[adapter_name]
    for name, data in files:
        records = adapter.parse(data, name)
        context = TranslationContext(SECRET, adapter.source_system(records) or "bench")
        for item in adapter.translate(records, context):
            get_fhir_model_class(item.resource["resourceType"]).model_validate(item.resource)
    validate_resource({"resourceType": "Patient", "id": "warm-up", "active": True})


if __name__ == "__main__":
    main()
