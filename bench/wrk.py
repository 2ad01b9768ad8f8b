"""Load from wrk (Debian's package `wrk`), a second process written in C, for the HTTP
benchmarks: on a two-core machine a Python load generator takes a core from the servers it
measures; one wrk thread drives eight keep-alive connections for a small part of one.

Each workload is a Lua script that builds every request (a different id, family name or
body each time) and prints wrk's summary as one JSON line, read back into a `Rate`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from urllib.parse import urlsplit

from bench.measure import Rate

__all__ = ["WRK_WORKLOADS", "ensure_wrk", "run_wrk"]

_DONE = r"""
done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
    .. '"bytes": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    summary.bytes, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""

_COUNTER = r"""
counter = 0
thread_offset = 0
setup = function(thread) thread:set("thread_offset", math.random(0, 100000)) end
init = function(args) counter = thread_offset end
"""

WRK_WORKLOADS: dict[str, str] = {
    "read": r"""
request = function()
  counter = counter + 1
  return wrk.format("GET", base .. string.format("/Patient/bench-%05d", counter % patients))
end
""",
    "read-plan": r"""
request = function()
  counter = counter + 1
  return wrk.format("GET", base .. string.format("/CarePlan/bench-plan-%05d", counter % patients))
end
""",
    "search": r"""
local families = {"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson",
                  "Olsson"}
request = function()
  counter = counter + 1
  return wrk.format("GET", base .. "/Patient?family=" .. families[counter % #families + 1])
end
""",
    "create": r"""
request = function()
  counter = counter + 1
  local body = string.format(
    '{"resourceType": "CarePlan", "status": "active", "intent": "plan", '
    .. '"title": "SIP %d-%d", "subject": {"reference": "Patient/bench-%05d"}}',
    thread_offset, counter, counter % 100)
  return wrk.format("POST", base .. "/CarePlan", nil, body)
end
""",
}
"""The workloads of bench.guarded as wrk request functions (`base`, `patients` set)."""


def ensure_wrk() -> str | None:
    """wrk's path, installing Debian's package when it is missing and apt-get may run;
    None when neither works (the bench then falls back to its httpx load)."""
    found = shutil.which("wrk")
    if found is None and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], capture_output=True, check=False)
        found = shutil.which("wrk")
    return found


def _script(workload: str, base_path: str, patients: int, headers: dict[str, str]) -> str:
    header_lines = "".join(
        f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n"
        for name, value in headers.items()
    )
    return (
        f"base = {json.dumps(base_path)}\npatients = {patients}\n"
        + header_lines
        + _COUNTER
        + WRK_WORKLOADS[workload]
        + _DONE
    )


def run_wrk(
    wrk: str,
    name: str,
    base: str,
    workload: str,
    headers: dict[str, str],
    *,
    patients: int,
    seconds: float,
    connections: int,
    script_dir: str,
) -> Rate:
    """One wrk run of `workload` against `base` (a FHIR base URL) for `seconds`."""
    parts = urlsplit(base)
    sent = {"Accept": "application/fhir+json", **headers}
    if workload == "create":
        sent["Content-Type"] = "application/fhir+json"
    script = f"{script_dir}/{workload}-{abs(hash((name, base))) % 10**8}.lua"
    with open(script, "w", encoding="utf-8") as handle:
        handle.write(_script(workload, parts.path.rstrip("/"), patients, sent))
    completed = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            script,
            f"{parts.scheme}://{parts.netloc}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    errors = summary["status_errors"] + summary["socket_errors"]
    requests = summary["requests"]
    return Rate(
        name=name,
        count=requests - errors,
        seconds=summary["duration_us"] / 1e6,
        requests=requests,
        errors=errors,
        concurrency=connections,
        mean_bytes=summary["bytes"] / requests if requests else 0.0,
        latency_ms={
            "p50": summary["p50_us"] / 1000,
            "p95": summary["p95_us"] / 1000,
            "p99": summary["p99_us"] / 1000,
        },
        extra={"load_generator": "wrk"},
    )
