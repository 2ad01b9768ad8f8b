"""A fresh, empty database per run: a SQLite file in a temporary folder, or a PostgreSQL
database (default hub_bench on 127.0.0.1:5432, user postgres) dropped and created anew."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/hub_bench"


@dataclass
class Database:
    kind: str
    url: str
    path: Path | None = None

    def size_bytes(self) -> int | None:
        if self.path is not None:
            return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
        import psycopg

        parsed = make_url(self.url)
        with psycopg.connect(_admin_dsn(self.url)) as conn:
            row = conn.execute("SELECT pg_database_size(%s)", (parsed.database,)).fetchone()
        return int(row[0]) if row else None


def _admin_dsn(url: str) -> str:
    parsed = make_url(url)
    return (
        f"host={parsed.host or '127.0.0.1'} port={parsed.port or 5432} "
        f"user={parsed.username or 'postgres'} dbname=postgres"
        + (f" password={parsed.password}" if parsed.password else "")
    )


def _recreate_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = make_url(url).database
    if not name:
        raise ValueError("the PostgreSQL URL needs a database name")
    with psycopg.connect(_admin_dsn(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_postgres(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = make_url(url).database or ""
    with psycopg.connect(_admin_dsn(url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def fresh(
    kind: str, postgres_url: str = DEFAULT_POSTGRES, keep: bool = False
) -> Iterator[Database]:
    """An empty database of `kind` for one benchmark; removed afterwards unless `keep`."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="hub-bench-"))
        path = folder / "hub.db"
        try:
            yield Database("sqlite", f"sqlite:///{path}", path)
        finally:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
        return
    _recreate_postgres(postgres_url)
    try:
        yield Database("postgresql", postgres_url)
    finally:
        if not keep:
            _drop_postgres(postgres_url)
