"""Serve the hub or the bare baseline with uvicorn in a subprocess, the same way for both.

`python -m bench.server --app hub|bare --port P [--profile FILE]`: one worker,
log_level warning, asyncio loop, h11. The hub reads HUB_DATABASE_URL from the environment.
With --profile the process runs under cProfile: the event-loop thread and every thread-pool
thread (where FastAPI runs the hub's sync routes and dependencies, and the hub's read
executor) get a profiler, and the merged stats are written to FILE when the server stops
(SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

UVICORN_OPTIONS: dict[str, Any] = {
    "host": "127.0.0.1",
    "workers": 1,
    "log_level": "warning",
    "loop": "asyncio",
    "http": "h11",
    "access_log": False,
}


def free_port() -> int:
    """A free loopback port: the first free one in BENCH_PORTS (e.g. `18700-18799`, for a
    machine whose ports are shared out), else one the system picks."""
    low, _, high = os.environ.get("BENCH_PORTS", "").partition("-")
    candidates = range(int(low), int(high) + 1) if low and high else [0]
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError(f"no free port in BENCH_PORTS={low}-{high}")


class ServedApp:
    """A uvicorn subprocess; `url` is its base, `stop()` ends it (SIGINT, then kill)."""

    def __init__(
        self,
        app: str,
        *,
        env: dict[str, str] | None = None,
        profile: Path | None = None,
        ready_path: str = "/ready",
        timeout: float = 120.0,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "bench.server", "--app", app, "--port", str(self.port)]
        if profile is not None:
            command += ["--profile", str(profile)]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            cwd=Path(__file__).resolve().parent.parent,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {app} server exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {app} server did not start in {timeout:.0f} s")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> ServedApp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# -- the subprocess side -----------------------------------------------------------------------


class _ThreadProfiles:
    """One cProfile.Profile per thread that runs thread-pool work; merged at the end."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.all: list[cProfile.Profile] = []
        self.lock = threading.Lock()

    def wrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def profiled(*args: Any) -> Any:
            prof = getattr(self.local, "prof", None)
            if prof is None:
                prof = cProfile.Profile()
                self.local.prof = prof
                with self.lock:
                    self.all.append(prof)
            prof.enable()
            try:
                return func(*args)
            finally:
                prof.disable()

        return profiled


def _install_thread_profiling(profiles: _ThreadProfiles) -> None:
    import anyio.to_thread

    original = anyio.to_thread.run_sync

    async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await original(profiles.wrap(func), *args, **kwargs)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]

    import asyncio.base_events

    loop_class = asyncio.base_events.BaseEventLoop
    original_executor = loop_class.run_in_executor

    def run_in_executor(self: Any, executor: Any, func: Callable[..., Any], *args: Any) -> Any:
        # the hub's read executor (hub.fhir_api.routes.read_by_id) is a plain thread pool
        return original_executor(self, executor, profiles.wrap(func), *args)

    loop_class.run_in_executor = run_in_executor  # type: ignore[method-assign,assignment]


def _make_app(name: str) -> Any:
    if name == "hub":
        from hub.app import serving_app
        from hub.settings import Settings

        return serving_app(Settings())  # as `hub serve` builds it
    from bench.bare import create_bare_app

    return create_bare_app()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server")
    parser.add_argument("--app", choices=("hub", "bare"), required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()

    import uvicorn

    config = uvicorn.Config(_make_app(args.app), port=args.port, **UVICORN_OPTIONS)
    server = uvicorn.Server(config)
    if args.profile is None:
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        return
    import pstats

    profiles = _ThreadProfiles()
    _install_thread_profiling(profiles)
    loop_profile = cProfile.Profile()
    loop_profile.enable()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
    finally:
        loop_profile.disable()
        stats = pstats.Stats(loop_profile)
        for prof in profiles.all:
            stats.add(prof)
        stats.dump_stats(str(args.profile))


if __name__ == "__main__":
    main()
