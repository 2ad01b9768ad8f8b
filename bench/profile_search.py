"""`python -m bench.profile_search`: where a guarded read's and search's time goes (cProfile).

A hub served by `bench.server --profile` (SQLite, HUB_AUTH=on, a system client's real
token, audit on; the event loop and every thread-pool thread profiled) with 300 Patients.
For each workload, 300 requests from one keep-alive connection: read Patient by id, and
search Patient?family=. Writes the raw stats to bench/figures/<workload>-guarded.prof and
the 35 most expensive functions (cumulative, own time) to
bench/figures/<workload>-guarded-profile.txt.
"""

from __future__ import annotations

import io
import pstats
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.guarded import FAMILIES, _hub_env, hub_server, patients, seed
from bench.server import ServedApp

FIGURES = Path(__file__).resolve().parent / "figures"
REQUESTS = 300

Workload = Callable[[httpx.Client, int], httpx.Response]
WORKLOADS: dict[str, Workload] = {
    "read": lambda client, i: client.get(f"/fhir/Patient/bench-{i % 300:05d}"),
    "search": lambda client, i: client.get(
        "/fhir/Patient", params={"family": FAMILIES[i % len(FAMILIES)]}
    ),
}


def profile(name: str, workload: Workload, env: dict[str, str], headers: dict[str, str]) -> str:
    """Serve under cProfile, send the requests, and return the summary text."""
    raw = FIGURES / f"{name}-guarded.prof"
    with (
        ServedApp("hub", env=env, profile=raw, ready_path="/fhir/metadata") as served,
        httpx.Client(base_url=served.url, headers=headers, timeout=60) as client,
    ):
        for i in range(REQUESTS):
            answer = workload(client, i)
            assert answer.status_code == 200, answer.text[:200]
    text = io.StringIO()
    stats = pstats.Stats(str(raw), stream=text)
    stats.strip_dirs().sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(35)
    (FIGURES / f"{name}-guarded-profile.txt").write_text(text.getvalue())
    return text.getvalue()


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
        for name, workload in WORKLOADS.items():
            print(profile(name, workload, env, headers))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
