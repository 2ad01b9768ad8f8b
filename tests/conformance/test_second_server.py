"""The runner against a second, independent FHIR server: SEKMET FHIR R4 Tester (PyPI
`sekmet-fhir` 0.1.1, a FastAPI FHIR R4 server with its own store), which ./scripts/test
installs into .cache/sekmet-venv (HUB_TEST_SEKMET may name another `sekmet` executable);
started here on 127.0.0.1 on a free port, with its own SQLite file."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.cli import run_suites
from conformance.tokens import TokenSource

SEKMET_BIN = Path(__file__).resolve().parents[2] / ".cache" / "sekmet-venv" / "bin"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sekmet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = os.environ.get("HUB_TEST_SEKMET") or shutil.which("sekmet", path=str(SEKMET_BIN))
    if executable is None:
        message = "sekmet-fhir is not installed: ./scripts/test installs it in .cache/sekmet-venv"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message + " (this fails under CI=true)")
    folder = tmp_path_factory.mktemp("sekmet")
    port = _free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    env = {
        **os.environ,
        "SEKMET_BASE_URL": base,
        "SEKMET_DB": str(folder / "sekmet.db"),
        "SEKMET_CONFIG": str(folder / "settings.yaml"),
    }
    process = subprocess.Popen(
        [executable, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("SEKMET did not start")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_core_suite_runs_against_an_independent_server(sekmet: str) -> None:
    results = run_suites(["core-rest"], sekmet, TokenSource(), echo=False)
    outcome = {test.name: test.result for test in results[0].tests}
    assert all(a.result == "pass" for a in results[0].setup)
    passing = {name for name, result in outcome.items() if result == "pass"}
    assert {
        "create",
        "read",
        "read by location",
        "update",
        "stale update",
        "vread",
        "history",
        "patch",
        "search",
        "delete",
        "unknown id",
    } <= passing
    # SEKMET's $validate accepts "yes" for a boolean (pydantic coerces it): the suite says so
    assert outcome["validate"] == "fail"
    validate = next(t for t in results[0].tests if t.name == "validate")
    failed = next(a for a in validate.actions if a.result == "fail")
    assert failed.message == "$validate reports the boolean given as a string as an error"
