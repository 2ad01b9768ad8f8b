"""Prometheus metrics of one app (prometheus-client, a registry per app).

Counted as requests pass (hub.operations.requests): `hub_http_requests_total{method,
route, status}` and `hub_http_request_duration_seconds{method, route}`, where `route` is
the route template (`/fhir/{resource_type}/{resource_id}`), never a concrete path. Read from
the database at scrape time: `hub_audit_records` (records appended to the audit log),
`hub_ingest_quarantine_entries` and `hub_ingest_files_loaded` (one Provenance per loaded
file). No label ever holds an id, a personnummer or any other patient data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from hub.store.schema import audit_records, ingest_quarantine, resources

__all__ = ["HubMetrics"]

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _DatabaseGauges(Collector):
    """Counts read from the database when /metrics is scraped."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self._engine()
        if engine is None:
            return
        audit = GaugeMetricFamily(
            "hub_audit_records", "Records appended to the audit log (all time)"
        )
        quarantine = GaugeMetricFamily(
            "hub_ingest_quarantine_entries", "Rejected files kept in the ingest quarantine"
        )
        loaded = GaugeMetricFamily(
            "hub_ingest_files_loaded", "Files loaded through the adapters (one Provenance each)"
        )
        with engine.connect() as conn:
            audit.add_metric(
                [],
                float(conn.execute(select(func.count()).select_from(audit_records)).scalar_one()),
            )
            quarantine.add_metric(
                [],
                float(
                    conn.execute(select(func.count()).select_from(ingest_quarantine)).scalar_one()
                ),
            )
            provenance = (
                select(func.count())
                .select_from(resources)
                .where(resources.c.res_type == "Provenance")
            )
            loaded.add_metric([], float(conn.execute(provenance).scalar_one()))
        yield audit
        yield quarantine
        yield loaded


class HubMetrics:
    """The registry and request metrics of one app."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hub_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "hub_http_request_duration_seconds",
            "Time to answer, by method and route template",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_DatabaseGauges(engine))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
