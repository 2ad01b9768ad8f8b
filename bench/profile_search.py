"""`python -m bench.profile_search`: where a guarded search's time goes (cProfile).

A hub served by `bench.server --profile` (SQLite, HUB_AUTH=on, a system client's real
token, audit on; the event loop and every thread-pool thread profiled) with 300 Patients,
300 searches Patient?family= from one keep-alive connection. Writes the raw stats to
bench/figures/search-guarded.prof and the 35 most expensive functions (cumulative, own
time) to bench/figures/search-guarded-profile.txt."""

from __future__ import annotations

import io
import pstats
import shutil
import tempfile
from pathlib import Path

import httpx

from bench.guarded import FAMILIES, _hub_env, hub_server, patients, seed
from bench.server import ServedApp

FIGURES = Path(__file__).resolve().parent / "figures"


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="hub-profile-"))
    try:
        keys = work / "keys"
        keys.mkdir()
        database = f"sqlite:///{work / 'hub.db'}"
        with hub_server(database, keys, auth=True) as (base, headers):
            seed(base, headers, len(patients(300)))
            port = int(base.rsplit(":", 1)[1].split("/")[0])
        env = _hub_env(database, keys, port, auth=True)  # the token's audience stays valid
        FIGURES.mkdir(exist_ok=True)
        raw = FIGURES / "search-guarded.prof"
        with (
            ServedApp("hub", env=env, profile=raw, ready_path="/fhir/metadata") as served,
            httpx.Client(base_url=served.url, headers=headers, timeout=60) as client,
        ):
            for i in range(300):
                family = FAMILIES[i % len(FAMILIES)]
                answer = client.get("/fhir/Patient", params={"family": family})
                assert answer.status_code == 200, answer.text[:200]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = io.StringIO()
    stats = pstats.Stats(str(raw), stream=text)
    stats.strip_dirs().sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(35)
    (FIGURES / "search-guarded-profile.txt").write_text(text.getvalue())
    print(text.getvalue())


if __name__ == "__main__":
    main()
