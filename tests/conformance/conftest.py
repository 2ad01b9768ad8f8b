"""A hub served over real HTTP on an ephemeral 127.0.0.1 port, with real signed tokens for
the identities the suites name (municipal and region system clients, a nurse, a physician)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from conformance.tokens import TokenSource
from hub.app import create_app
from hub.auth import generate_signing_key, mint_token
from hub.settings import Settings

ISSUER = "urn:conformance-test"
R, RV, RW = "SE2321000164-0000", "SE2321000164-7381", "SE2321000164-7382"
M, MH = "SE2120002122-0000", "SE2120002122-1001"


@dataclass
class LiveServer:
    base_url: str
    tokens: dict[str, str]

    def token_source(self) -> TokenSource:
        return TokenSource({"default": self.tokens["municipal"], **self.tokens})


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def serve_in_thread(app: object, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return server, thread


@pytest.fixture(scope="module")
def live_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    folder: Path = tmp_path_factory.mktemp("live-hub")
    sock = free_socket()
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}/fhir"
    key = generate_signing_key(folder / "signing.pem", folder / "jwks.json")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'hub.db'}",
        jwks_path=str(folder / "jwks.json"),
        token_revocation_path=str(folder / "revoked.json"),
        token_issuer=ISSUER,
        token_audience=base,
        audit_key_path=str(folder / "audit.pem"),
        validation_workers=0,
    )
    server, thread = serve_in_thread(create_app(settings), sock)

    def token(sub: str, scopes: str, provider: str, unit: str, role: str | None = None) -> str:
        return mint_token(
            key,
            issuer=ISSUER,
            audience=base,
            subject=sub,
            scopes=scopes.split(),
            care_unit=unit,
            care_provider=provider,
            role=role,
        )

    tokens = {
        "municipal": token("SE2120002122-S001", "system/*.*", M, MH),
        "region": token("SE2321000164-S001", "system/*.*", R, RW),
        "regionvc": token("SE2321000164-S002", "system/*.*", R, RV),
        "nurse": token("SE2120002122-P001", "user/*.read user/*.write", M, MH),
        "physician": token("SE2321000164-P001", "user/*.read user/*.write", R, RV, "201011"),
    }
    try:
        yield LiveServer(base, tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
