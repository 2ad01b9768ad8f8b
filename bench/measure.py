"""Bounded request loops over keep-alive httpx clients: counts, rates and latencies."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

HEADERS = {"Accept": "application/fhir+json"}
Request = Callable[[httpx.Client, int], httpx.Response]


@dataclass
class Rate:
    """`count` operations (requests, or resources when `unit` says so) in `seconds`."""

    name: str
    count: int
    seconds: float
    unit: str = "req"
    requests: int = 0
    errors: int = 0
    concurrency: int = 1
    mean_bytes: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["per_second"] = round(self.per_second, 2)
        out["seconds"] = round(self.seconds, 3)
        return out


def client(base_url: str, timeout: float = 600.0) -> httpx.Client:
    """Keep-alive client for one benchmark thread."""
    return httpx.Client(base_url=base_url, headers=HEADERS, timeout=timeout)


def _latencies(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 3)

    return {
        "mean": round(statistics.fmean(ordered) * 1000, 3),
        "p50": pct(0.50),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "max": round(ordered[-1] * 1000, 3),
    }


def run_requests(
    name: str,
    base_url: str,
    request: Request,
    *,
    count: int,
    max_seconds: float,
    concurrency: int = 1,
    warmup: int = 20,
) -> Rate:
    """Send up to `count` requests (stopping after `max_seconds`), `concurrency` at a time,
    each thread sequential on its own keep-alive client; request(i) builds request i."""
    counter = itertools.count()
    lock = threading.Lock()
    samples: list[float] = []
    sizes: list[int] = []
    errors: list[str] = []

    def worker(http: httpx.Client, deadline: float) -> None:
        mine: list[float] = []
        my_sizes: list[int] = []
        while time.perf_counter() < deadline:
            i = next(counter)
            if i >= count:
                break
            started = time.perf_counter()
            response = request(http, i)
            mine.append(time.perf_counter() - started)
            my_sizes.append(len(response.content))
            if response.status_code >= 300:
                with lock:
                    errors.append(f"{response.status_code}: {response.text[:300]}")
        with lock:
            samples.extend(mine)
            sizes.extend(my_sizes)

    clients = [client(base_url) for _ in range(concurrency)]
    try:
        for http in clients:  # open the connections and warm the route up, untimed
            for i in range(warmup):
                request(http, count + i)
        started = time.perf_counter()
        deadline = started + max_seconds
        threads = [threading.Thread(target=worker, args=(h, deadline)) for h in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        for http in clients:
            http.close()
    if errors:
        print(f"  ! {name}: {len(errors)} failed requests, first: {errors[0]}", flush=True)
    return Rate(
        name=name,
        count=len(samples),
        seconds=elapsed,
        requests=len(samples),
        errors=len(errors),
        concurrency=concurrency,
        mean_bytes=round(statistics.fmean(sizes), 1) if sizes else 0.0,
        latency_ms=_latencies(samples),
    )


@dataclass
class Series:
    """One request loop of an interleaved measurement: its name, server and request."""

    name: str
    base_url: str
    request: Request


def interleaved(
    series: list[Series], *, count: int, blocks: int, max_seconds: float, warmup: int = 20
) -> list[Rate]:
    """Up to `count` sequential requests per series, sent in `blocks` rounds that take
    the series in turn, so that a slower or faster phase of the machine falls on all of
    them alike. Each series keeps its keep-alive client; only request time is counted."""
    per_block = max(1, count // blocks)
    clients = [client(s.base_url) for s in series]
    samples: list[list[float]] = [[] for _ in series]
    sizes: list[list[int]] = [[] for _ in series]
    errors: list[list[str]] = [[] for _ in series]
    try:
        for s, http in zip(series, clients, strict=True):
            for i in range(warmup):
                s.request(http, count + i)
        deadline = time.perf_counter() + max_seconds * len(series)
        for block in range(blocks):
            if time.perf_counter() >= deadline:
                break
            for k, (s, http) in enumerate(zip(series, clients, strict=True)):
                for i in range(block * per_block, (block + 1) * per_block):
                    started = time.perf_counter()
                    response = s.request(http, i)
                    samples[k].append(time.perf_counter() - started)
                    sizes[k].append(len(response.content))
                    if response.status_code >= 300:
                        errors[k].append(f"{response.status_code}: {response.text[:300]}")
    finally:
        for http in clients:
            http.close()
    rates = []
    for k, s in enumerate(series):
        if errors[k]:
            print(f"  ! {s.name}: {len(errors[k])} failed requests, first: {errors[k][0]}")
        rates.append(
            Rate(
                name=s.name,
                count=len(samples[k]),
                seconds=sum(samples[k]),
                requests=len(samples[k]),
                errors=len(errors[k]),
                mean_bytes=round(statistics.fmean(sizes[k]), 1) if sizes[k] else 0.0,
                latency_ms=_latencies(samples[k]),
                extra={"interleaved_blocks": blocks},
            )
        )
    return rates
