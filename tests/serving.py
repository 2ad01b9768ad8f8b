"""Helpers of the tests that start the real `hub serve` process (authentication on)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hub.auth import generate_signing_key, mint_token

HUB = Path(sys.executable).with_name("hub")
REPO = Path(__file__).resolve().parents[2]
AUDIENCE = "https://hub.durability.test/fhir"
ISSUER = "urn:hub:dev-issuer"
PROVIDER = "SE2120002122-0000"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database_url: str, keys: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE_URL=database_url,
        HUB_AUTH="on",
        HUB_JWKS_PATH=str(keys / "jwks.json"),
        HUB_TOKEN_SIGNING_KEY_PATH=str(keys / "token-signing-key.pem"),
        HUB_AUDIT_KEY_PATH=str(keys / "audit-ed25519.pem"),
        HUB_TOKEN_REVOCATION_PATH=str(keys / "revoked.json"),
        HUB_TOKEN_AUDIENCE=AUDIENCE,
        HUB_TOKEN_ISSUER=ISSUER,
        HUB_VALIDATION_WORKERS="0",
    )
    return env


def system_token(keys: Path) -> str:
    key = generate_signing_key(keys / "token-signing-key.pem", keys / "jwks.json")
    return mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject="SE2120002122-S001",
        scopes=["system/*.*"],
        care_provider=PROVIDER,
        care_unit="SE2120002122-1001",
    )


def wait_until_serving(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 120  # a loaded machine starts slowly
    while time.monotonic() < deadline:
        assert process.poll() is None, "hub serve exited at start-up"
        try:
            if httpx.get(f"{base}/metadata", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("hub serve did not start within 120 s")
