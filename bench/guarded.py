"""`python -m bench.guarded`: the path users take, auth and audit ON, against its baselines.

In one run, over loopback, with the same data in every server:

- hub (guarded): `hub serve`, HUB_AUTH=on, a system client's real bearer token, every
  read and search audited (group commit) before it is answered; SQLite, one process;
- hub (open): the same hub with HUB_AUTH=off (no token check, no PDL filter, no audit);
- bare FastAPI: one `def` route returning fixed bytes of the hub's read size;
- sekmet-fhir 0.1.1 (PyPI, installed by this script into ~/.cache/hub-bench; no auth);
- hub (guarded) on PostgreSQL with `--workers 1` and `--workers 2`.

Read Patient by id (directory data), read CarePlan by id (clinical data, judged by the PDL
rules), search Patient?family=, create CarePlan (one connection). The arms are
measured in rounds that take turns (the machine is shared: a busy phase falls on all of
them alike), and the load average is recorded before each round. The load generator is
wrk (bench.wrk: one C thread, Debian's package, installed when missing), or with
`--load httpx` httpx threads in this process, which on a small machine compete with the
servers for the cores: the ratios are the figures to compare, not the absolute rates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.measure import Rate, run_requests
from bench.server import free_port
from bench.wrk import ensure_wrk, run_wrk

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
SEKMET_VENV = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hub-bench" / "sekmet-venv"
)
"""Outside the repository: the project's layout tests walk every file in it."""
SEKMET_VERSION = "0.1.1"
AUDIENCE_PATH = "/fhir"
ISSUER = "urn:hub:bench"
FAMILIES = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson"]
FHIR_JSON = "application/fhir+json"
BARE = "bare FastAPI"


def _python_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


class Server:
    """A server subprocess in its own process group; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, command: list[str], env: dict[str, str], port: int, ready: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited with {self.process.returncode}")
            with suppress(httpx.HTTPError):
                if httpx.get(self.url + ready, timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{command[0]} did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _hub_env(database_url: str, keys: Path, port: int, auth: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=database_url,
        HUB_AUTH="on" if auth else "off",
        HUB_JWKS_PATH=str(keys / "jwks.json"),
        HUB_TOKEN_SIGNING_KEY_PATH=str(keys / "token-signing-key.pem"),
        HUB_AUDIT_KEY_PATH=str(keys / "audit-ed25519.pem"),
        HUB_TOKEN_REVOCATION_PATH=str(keys / "revoked.json"),
        HUB_TOKEN_ISSUER=ISSUER,
        HUB_TOKEN_AUDIENCE=f"http://127.0.0.1:{port}/fhir",
        HUB_BASE_URL=f"http://127.0.0.1:{port}/fhir",
        HUB_VALIDATION_WORKERS="0",
        HUB_LOG_LEVEL="warning",
    )
    return env


def _token(keys: Path, port: int) -> str:
    from hub.auth import generate_signing_key, mint_token
    from hub.auth.keys import load_signing_key

    pem = keys / "token-signing-key.pem"
    key = load_signing_key(pem) if pem.exists() else generate_signing_key(pem, keys / "jwks.json")
    return mint_token(
        key,
        issuer=ISSUER,
        audience=f"http://127.0.0.1:{port}/fhir",
        subject="SE2120002122-S001",
        scopes=["system/*.*"],
        care_provider="SE2120002122-0000",
        care_unit="SE2120002122-1001",
    )


@contextmanager
def hub_server(
    database_url: str, keys: Path, *, auth: bool, workers: int = 1
) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    headers = {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
    if auth:
        headers["Authorization"] = f"Bearer {_token(keys, port)}"
    command = [_python_bin("hub"), "serve", "--port", str(port), "--workers", str(workers)]
    server = Server(command, _hub_env(database_url, keys, port, auth), port, "/fhir/metadata")
    try:
        yield server.url + "/fhir", headers
    finally:
        server.stop()


@contextmanager
def bare_server(body_bytes: int) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {**os.environ, "BENCH_BODY_BYTES": str(body_bytes)}
    command = [sys.executable, "-m", "bench.server", "--app", "bare", "--port", str(port)]
    server = Server(command, env, port, "/ready")
    try:
        yield server.url + "/fhir", {"Accept": FHIR_JSON}
    finally:
        server.stop()


def install_sekmet() -> Path:
    """sekmet-fhir from PyPI into its own virtual environment (once)."""
    binary = SEKMET_VENV / "bin" / "sekmet"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(SEKMET_VENV)], check=True)
        pip = [str(SEKMET_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, f"sekmet-fhir=={SEKMET_VERSION}"], check=True)
    return binary


@contextmanager
def sekmet_server(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    binary = install_sekmet()
    port = free_port()
    env = {
        **os.environ,
        "SEKMET_DB": str(folder / "sekmet.db"),
        "SEKMET_PORT": str(port),
        "SEKMET_BASE_URL": f"http://127.0.0.1:{port}/fhir",
        "SEKMET_CONFIG": str(folder / "settings.yaml"),
    }
    (folder / "settings.yaml").write_text("{}\n")
    command = [str(binary), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = Server(command, env, port, "/fhir/metadata")
    try:
        yield server.url + "/fhir", {"Accept": FHIR_JSON, "Content-Type": FHIR_JSON}
    finally:
        server.stop()


# -- data and requests ------------------------------------------------------------------------


def patients(count: int) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Patient",
            "id": f"bench-{n:05d}",
            "name": [{"family": FAMILIES[n % len(FAMILIES)], "given": [f"Given{n}"]}],
            "gender": "female" if n % 2 else "male",
            "birthDate": f"19{40 + n % 50}-0{1 + n % 9}-1{n % 9}",
        }
        for n in range(count)
    ]


def seeded_care_plans(count: int) -> list[dict[str, Any]]:
    """One care plan per patient, `bench-plan-NNNNN` of `bench-NNNNN`: clinical data, which
    the PDL rules judge per patient (a Patient is directory data)."""
    return [
        {
            "resourceType": "CarePlan",
            "id": f"bench-plan-{n:05d}",
            "status": "active",
            "intent": "plan",
            "title": f"SIP {n}",
            "subject": {"reference": f"Patient/bench-{n:05d}"},
        }
        for n in range(count)
    ]


def seed(base: str, headers: dict[str, str], count: int) -> None:
    with httpx.Client(headers=headers, timeout=60) as client:
        for resource in [*patients(count), *seeded_care_plans(count)]:
            path = f"{base}/{resource['resourceType']}/{resource['id']}"
            answer = client.put(path, json=resource)
            if answer.status_code >= 300:
                raise RuntimeError(f"seeding failed: {answer.status_code} {answer.text[:200]}")


def care_plan(n: int) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "title": f"SIP {uuid.uuid4().hex[:8]}",
        "subject": {"reference": f"Patient/bench-{n % 100:05d}"},
    }


Maker = Callable[[str, dict[str, str], int], Callable[[httpx.Client, int], httpx.Response]]


def read_request(base: str, headers: dict[str, str], count: int) -> Any:
    def request(client: httpx.Client, i: int) -> httpx.Response:
        return client.get(f"{base}/Patient/bench-{i % count:05d}", headers=headers)

    return request


def read_plan_request(base: str, headers: dict[str, str], count: int) -> Any:
    def request(client: httpx.Client, i: int) -> httpx.Response:
        return client.get(f"{base}/CarePlan/bench-plan-{i % count:05d}", headers=headers)

    return request


def search_request(base: str, headers: dict[str, str], count: int) -> Any:
    def request(client: httpx.Client, i: int) -> httpx.Response:
        family = FAMILIES[i % len(FAMILIES)]
        return client.get(f"{base}/Patient", params={"family": family}, headers=headers)

    return request


def create_request(base: str, headers: dict[str, str], count: int) -> Any:
    def request(client: httpx.Client, i: int) -> httpx.Response:
        return client.post(f"{base}/CarePlan", json=care_plan(i), headers=headers)

    return request


WORKLOADS: dict[str, tuple[Maker, int]] = {
    "read Patient by id": (read_request, 8),
    "read CarePlan by id": (read_plan_request, 8),
    "search Patient?family=": (search_request, 8),
    "create CarePlan, one connection": (create_request, 1),
}
WRK_NAMES = {
    "read Patient by id": "read",
    "read CarePlan by id": "read-plan",
    "search Patient?family=": "search",
    "create CarePlan, one connection": "create",
}
"""Each workload's script in bench.wrk."""


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def measure(
    arms: dict[str, tuple[str, dict[str, str]]],
    patients_count: int,
    rounds: int,
    seconds: float,
    wrk: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Every workload on every arm, in `rounds` rounds that take the arms in turn; the load
    from wrk when `wrk` is its path, else from httpx threads in this process."""
    out: dict[str, dict[str, Any]] = {}
    scripts = tempfile.mkdtemp(prefix="hub-bench-wrk-")
    for workload, (maker, concurrency) in WORKLOADS.items():
        totals: dict[str, list[Rate]] = {name: [] for name in arms}
        loads: list[float] = []
        for _round in range(rounds):
            for name, (base, headers) in arms.items():
                if name == BARE and maker is not read_request:
                    continue  # the bare app serves the read's bytes only
                loads.append(_load())
                if wrk is not None:
                    rate = run_wrk(
                        wrk,
                        f"{workload} / {name}",
                        base,
                        WRK_NAMES[workload],
                        headers,
                        patients=patients_count,
                        seconds=seconds,
                        connections=concurrency,
                        script_dir=scripts,
                    )
                else:
                    rate = run_requests(
                        f"{workload} / {name}",
                        base,
                        maker(base, headers, patients_count),
                        count=10**9,
                        max_seconds=seconds,
                        concurrency=concurrency,
                        warmup=5,
                    )
                totals[name].append(rate)
        out[workload] = {
            name: {
                "per_second": round(sum(r.count for r in rates) / sum(r.seconds for r in rates), 1),
                "errors": sum(r.errors for r in rates),
                "p50_ms": rates[-1].latency_ms.get("p50"),
                "p95_ms": rates[-1].latency_ms.get("p95"),
                "rounds": [round(r.per_second, 1) for r in rates],
            }
            for name, rates in totals.items()
            if rates
        }
        out[workload]["_load_average"] = {"min": min(loads), "max": max(loads)}
        print(workload, json.dumps(out[workload]), flush=True)
    shutil.rmtree(scripts, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES", ""))
    parser.add_argument("--skip-sekmet", action="store_true")
    parser.add_argument(
        "--load",
        choices=["wrk", "httpx"],
        default="wrk",
        help="the load generator: wrk (installed with apt-get when missing) or httpx threads",
    )
    options = parser.parse_args()
    wrk = ensure_wrk() if options.load == "wrk" else None
    if options.load == "wrk" and wrk is None:
        print("wrk is not installed and could not be: the load comes from httpx", flush=True)
    work = Path(tempfile.mkdtemp(prefix="hub-bench-guarded-"))
    result: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "options": vars(options),
        "load_generator": "wrk" if wrk else "httpx threads",
    }
    try:
        keys = work / "keys"
        keys.mkdir()
        guarded_db = f"sqlite:///{work / 'guarded.db'}"
        open_db = f"sqlite:///{work / 'open.db'}"
        with hub_server(guarded_db, keys, auth=True) as (base, headers):
            seed(base, headers, options.patients)
        with hub_server(open_db, keys, auth=False) as (base, headers):
            seed(base, headers, options.patients)
            body_bytes = len(httpx.get(f"{base}/Patient/bench-00001", headers=headers).content)
        with (
            hub_server(guarded_db, keys, auth=True) as guarded,
            hub_server(open_db, keys, auth=False) as unguarded,
            bare_server(body_bytes) as bare,
            _maybe_sekmet(work, options) as sekmet,
        ):
            arms = {"hub guarded": guarded, "hub auth off": unguarded, BARE: bare}
            if sekmet is not None:
                seed(*sekmet, options.patients)
                arms["sekmet-fhir"] = sekmet
            result["sqlite"] = measure(arms, options.patients, options.rounds, options.seconds, wrk)
        if options.postgres:
            result["postgresql"] = _postgres(options, keys, wrk)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"guarded-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {path}")


@contextmanager
def _maybe_sekmet(
    work: Path, options: argparse.Namespace
) -> Iterator[tuple[str, dict[str, str]] | None]:
    if options.skip_sekmet:
        yield None
        return
    folder = work / "sekmet"
    folder.mkdir()
    try:
        context = sekmet_server(folder)
        served = context.__enter__()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"sekmet-fhir not measured: {error}", flush=True)
        yield None
        return
    try:
        yield served
    finally:
        context.__exit__(None, None, None)


def _postgres(options: argparse.Namespace, keys: Path, wrk: str | None) -> dict[str, Any]:
    import psycopg

    schema = f"bench_speed_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(options.postgres, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{options.postgres}?options=-csearch_path%3D{schema}"
    try:
        with hub_server(url, keys, auth=True) as (base, headers):
            seed(base, headers, options.patients)
        with psycopg.connect(url, autocommit=True) as conn:
            # The statistics autovacuum would gather within a minute or so on a live
            # database: without them a just-seeded schema's plans assume one row a table.
            conn.execute("ANALYZE")
        with (
            hub_server(url, keys, auth=True, workers=1) as one,
            hub_server(url, keys, auth=True, workers=2) as two,
        ):
            arms = {"hub guarded, 1 worker": one, "hub guarded, 2 workers": two}
            return measure(arms, options.patients, options.rounds, options.seconds, wrk)
    finally:
        with psycopg.connect(options.postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
