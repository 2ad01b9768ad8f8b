"""`hub serve --workers 2` on PostgreSQL: the workers share only the database (conditional
creates stay single across them), and they never outlive the serving command, so a
restart after SIGKILL of it binds the same port again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.serving import HUB, REPO, free_port, server_env, system_token, wait_until_serving


def _children(parent: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _serve(database_url: str, keys: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(HUB), "serve", "--port", str(port), "--workers", "2"],
        cwd=REPO,
        env=server_env(database_url, keys),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_workers_share_the_database_and_stop_with_their_parent(
    tmp_path: Path, postgres_url: str
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    headers = {
        "Authorization": f"Bearer {system_token(keys)}",
        "Content-Type": "application/fhir+json",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    first = _serve(postgres_url, keys, port)
    workers: list[int] = []
    try:
        wait_until_serving(first, base)
        workers = _children(first.pid)
        assert len(workers) >= 2, "hub serve --workers 2 started fewer than two workers"
        plan = {
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "identifier": [{"system": "urn:test:plans", "value": "one-only"}],
            "subject": {"reference": "Patient/worker-patient"},
        }
        condition = {"If-None-Exist": "identifier=urn:test:plans|one-only"}

        def create(_: int) -> int:
            with httpx.Client(timeout=90.0) as client:  # a new connection: any worker
                answer = client.post(f"{base}/CarePlan", json=plan, headers=headers | condition)
                return answer.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(create, range(16)))
        assert statuses.count(201) == 1, statuses
        assert set(statuses) <= {200, 201, 409}, statuses
        found = httpx.get(
            f"{base}/CarePlan", params={"identifier": "urn:test:plans|one-only"}, headers=headers
        )
        assert found.status_code == 200
        assert len(found.json().get("entry", [])) == 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in workers if _running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, "workers kept running after their parent was killed"
    second = _serve(postgres_url, keys, port)
    try:
        wait_until_serving(second, base)  # the port is free again
    finally:
        second.terminate()
        second.wait(30)
