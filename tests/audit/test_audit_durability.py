"""An answered read is always in the access log: the real `hub serve` process, reads and
searches from several connections at once (each read path hands its records to the log its
own way: a read by id in line on SQLite's event loop, a search from the read executor),
killed with SIGKILL the moment an answer arrives."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import httpx

from hub.audit.log import AuditLog, load_or_create_audit_key
from hub.store import open_store
from tests.serving import HUB, REPO, free_port, server_env, system_token, wait_until_serving


def answered_reads_survive_sigkill(database_url: str, keys: Path, workers: int = 1) -> None:
    """Serve, write one care plan, read and search it from 8 connections, SIGKILL the
    server (its whole process group) as soon as the 150th answer arrives; then every
    request id that got its 200 must be in the log, and the chain must verify."""
    keys.mkdir(parents=True, exist_ok=True)
    token = system_token(keys)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    port = free_port()
    command = [str(HUB), "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(
        command,
        cwd=REPO,
        env=server_env(database_url, keys),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/fhir"
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    try:
        wait_until_serving(process, base)
        plan = {
            "resourceType": "CarePlan",
            "id": "durable-plan",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": "Patient/durable-patient"},
        }
        created = httpx.put(
            f"{base}/CarePlan/durable-plan", json=plan, headers=headers, timeout=60.0
        )  # the first write of a process loads the definitions: slow on a loaded machine
        assert created.status_code in (200, 201), created.text

        def reader(number: int) -> None:
            with httpx.Client(timeout=10.0, headers=headers) as client:
                count = 0
                while not stop.is_set():
                    request_id = f"kill-{number}-{count}"
                    count += 1
                    path = (
                        "CarePlan/durable-plan"
                        if count % 2
                        else "CarePlan?subject=Patient/durable-patient"
                    )
                    try:
                        response = client.get(
                            f"{base}/{path}", headers={"X-Request-Id": request_id}
                        )
                    except httpx.HTTPError:
                        return
                    if response.status_code == 200:
                        with lock:
                            answered.append(request_id)
                            if len(answered) >= 150:
                                os.killpg(process.pid, signal.SIGKILL)
                                stop.set()
                                return

        threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert stop.is_set(), "the readers never reached 150 answers"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    store = open_store(database_url)
    try:
        key = load_or_create_audit_key(keys / "audit-ed25519.pem")
        log = AuditLog(store.engine, key)
        logged = {record.request_id for record in log.records(patient_id="durable-patient")}
        missing = [request_id for request_id in answered if request_id not in logged]
        assert not missing, f"{len(missing)} answered reads have no audit record"
        report = log.verify(key.public_key())
        assert report.ok, report.problems
    finally:
        store.close()


def test_every_answered_read_is_logged_when_sqlite_server_is_killed(tmp_path: Path) -> None:
    answered_reads_survive_sigkill(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path / "keys")


def test_every_answered_read_is_logged_when_two_postgresql_workers_are_killed(
    tmp_path: Path, postgres_url: str
) -> None:
    answered_reads_survive_sigkill(postgres_url, tmp_path / "keys", workers=2)
