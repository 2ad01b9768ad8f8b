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
    folder: Path

    def token_source(self) -> TokenSource:
        return TokenSource({"default": self.tokens["municipal"], **self.tokens})


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def serve_in_thread(app: object, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(app, log_level="warning", lifespan="on", loop="asyncio", http="h11")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
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
        "directory": token("SE2120002122-S009", "system/*.* system/directory.admin", M, MH),
        "municipal": token("SE2120002122-S001", "system/*.*", M, MH),
        "region": token("SE2321000164-S001", "system/*.*", R, RW),
        "regionvc": token("SE2321000164-S002", "system/*.*", R, RV),
        "nurse": token("SE2120002122-P001", "user/*.read user/*.write", M, MH),
        "physician": token("SE2321000164-P001", "user/*.read user/*.write", R, RV, "201011"),
    }
    try:
        yield LiveServer(base, tokens, folder)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class _Proxy:
    """A deliberately broken FHIR server: it forwards to a real one and breaks one rule.
    `drop_if_match` ignores If-Match (no optimistic locking); `leak_totals_from` takes the
    total of every search from an unfiltered twin server (the HAPI #1507 bug)."""

    def __init__(
        self, upstream: str, *, drop_if_match: bool = False, leak_totals_from: str | None = None
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.drop_if_match = drop_if_match
        self.leak_totals_from = leak_totals_from

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        import httpx
        from starlette.requests import Request
        from starlette.responses import Response

        if scope["type"] == "lifespan":
            while True:
                message = await receive()  # type: ignore[operator]
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})  # type: ignore[operator]
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})  # type: ignore[operator]
                    return
        request = Request(scope, receive)  # type: ignore[arg-type]
        path = scope["path"].removeprefix("/fhir")
        query = scope.get("query_string", b"").decode()
        url = f"{self.upstream}{path}" + (f"?{query}" if query else "")
        headers = {
            k: v
            for k, v in request.headers.items()
            if k not in ("host", "content-length") and not (self.drop_if_match and k == "if-match")
        }
        body = await request.body()
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.request(request.method, url, headers=headers, content=body)
            content = answer.content
            if self.leak_totals_from and request.method == "GET" and b'"searchset"' in content:
                twin = await client.get(
                    f"{self.leak_totals_from}{path}" + (f"?{query}" if query else "")
                )
                import json

                page = json.loads(content)
                page["total"] = json.loads(twin.content).get("total", page.get("total"))
                content = json.dumps(page).encode()
        keep = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        }
        await Response(content, answer.status_code, headers=keep)(scope, receive, send)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def broken_servers(
    live_hub: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Base URLs of two broken servers over the live hub's data: one ignores If-Match, one
    leaks totals (its totals come from an unfiltered twin of the hub on the same database)."""
    folder = live_hub.folder
    twin_sock = free_socket()
    twin_base = f"http://127.0.0.1:{twin_sock.getsockname()[1]}/fhir"
    twin_settings = Settings(
        database_url=f"sqlite:///{folder / 'hub.db'}", auth="off", validation_workers=0
    )
    servers = [serve_in_thread(create_app(twin_settings), twin_sock)]
    bases = {}
    for name, proxy in (
        ("ignores-if-match", _Proxy(live_hub.base_url, drop_if_match=True)),
        ("leaks-totals", _Proxy(live_hub.base_url, leak_totals_from=twin_base)),
    ):
        sock = free_socket()
        bases[name] = f"http://127.0.0.1:{sock.getsockname()[1]}/fhir"
        servers.append(serve_in_thread(proxy, sock))
    try:
        yield bases
    finally:
        for server, thread in servers:
            server.should_exit = True
            thread.join(timeout=10)
