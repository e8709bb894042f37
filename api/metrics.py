"""`GET /metrics`: the server's figures in Prometheus' text format (prometheus-client).

- requests: `okr_http_requests_total{method, route, status_class}` and the latency histogram
  `okr_http_request_duration_seconds{method, route}`, by route template (`/api/v1/objectives/
  {objective_id}`, never the raw path, so the series stay few), and
  `okr_http_error_responses_total{status}` for every 4xx and 5xx answer;
- the store, read when scraped: the log's head, the live projections' position and lag, the
  hash chain's head, and with Kafka the relay's and the projection workers' lag — the same
  figures `/api/v1/ready` reports. A database that is away or slow does not fail the scrape:
  those figures are left out and `okr_database_up` is 0;
- the chain's last verification in this process (`infra.verifications`);
- the process itself (CPU, memory, open files, garbage collection).

No label holds personal data: routes are templates, methods and statuses are from fixed sets.
Every metric is described in docs/deploy.md.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from infra.chain import ChainedApplicationRecorder
from infra.settings import Settings, get_settings
from infra.verifications import VERIFICATIONS

log = logging.getLogger("okrledger.metrics")

PATH = "/metrics"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404 for an unknown path)."""
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class HttpMetrics:
    """The request counters and histogram of one app, in the app's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "okr_http_requests",
            "HTTP requests answered, by method, route template and status class (2xx ... 5xx).",
            ["method", "route", "status_class"],
            registry=registry,
        )
        self.duration = Histogram(
            "okr_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "okr_http_error_responses",
            "Answers with a 4xx or 5xx status, by status code.",
            ["status"],
            registry=registry,
        )

        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        """(method, route, status) → its children of the three metrics: `labels()` costs more
        than the increment, and the combinations are few."""

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in METHODS else "other"
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.requests.labels(method, route, f"{status // 100}xx"),
                self.duration.labels(method, route),
                self.errors.labels(str(status)) if status >= 400 else None,
            )
        requests, duration, errors = series
        requests.inc()
        duration.observe(seconds)
        if errors is not None:
            errors.inc()


def route_of(scope: Scope) -> str:
    """The template of the route that answered (`/api/v1/objectives/{objective_id}`).

    The route in the scope knows its path within its router (`/objectives/{objective_id}`);
    the router's prefix is the part of the request's path before the part that route matches.
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    pattern = getattr(route, "path_regex", None)
    if not isinstance(template, str) or pattern is None:
        return UNMATCHED
    path = str(scope.get("path", ""))
    for cut, character in enumerate(path):
        if character == "/" and pattern.match(path[cut:]):
            return path[:cut] + template
    return template


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI, like api.app.RequestIdMiddleware)."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # An exception escaping the app is answered 500 by the server-error middleware.
            self.metrics.observe(
                scope["method"], route_of(scope), status, time.perf_counter() - began
            )


@dataclass
class StoreFigures:
    """What the store says when scraped (None: unknown, left out of the answer)."""

    head: int | None = None
    projections: int | None = None
    chain_head: int | None = None
    chain_head_at: float | None = None
    kafka: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)


class StoreCollector(Collector):
    """Gauges read from the database at scrape time, within a time limit."""

    def __init__(self, app: FastAPI, timeout: float) -> None:
        self.app = app
        self.timeout = timeout
        self._busy = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        figures = self._read_in_time()
        up = GaugeMetricFamily(
            "okr_database_up",
            "1 when the event store answered this scrape in time, else 0 (its figures are "
            "then left out).",
        )
        up.add_metric([], 0 if figures is None or figures.problems else 1)
        yield up
        if figures is not None:
            yield from _store_metrics(figures)
        yield from _verification_metrics()

    def _read_in_time(self) -> StoreFigures | None:
        """The figures, or None when the database did not answer within the timeout. One read
        at a time: a scrape while an earlier read still hangs does not start another."""
        if not self._busy.acquire(blocking=False):
            return None
        result: list[StoreFigures] = []

        def read() -> None:
            try:
                result.append(read_store(self.app))
            finally:
                self._busy.release()

        worker = threading.Thread(target=read, name="metrics-scrape", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if not result:
            log.warning("the event store did not answer the metrics scrape in %ss", self.timeout)
            return None
        return result[0]


def read_store(app: FastAPI) -> StoreFigures:
    """The store's figures; when the event store fails to answer, the figures read so far and
    the problem (the scrape then says the database is down). A Kafka figure that cannot be
    read is left out alone."""
    services = app.state.services
    figures = StoreFigures()
    recorder = services.ledger.recorder
    try:
        figures.head = recorder.max_notification_id() or 0
        if services.readmodels is not None:
            figures.projections = services.readmodels.caught_up_position()
        if isinstance(recorder, ChainedApplicationRecorder):
            link = recorder.chain.head()
            if link is not None:
                figures.chain_head = link.position
                figures.chain_head_at = link.committed_at.timestamp()
    except Exception as error:  # the database away: the scrape still answers
        log.warning("metrics: cannot read the event store: %s", error)
        figures.problems.append(str(error))
        return figures
    settings = services.settings or get_settings()
    if settings.kafka_bootstrap:
        from infra.kafka.service import kafka_readiness

        try:
            figures.kafka = kafka_readiness(services.ledger, settings)
        except Exception as error:
            log.warning("metrics: cannot read the Kafka lag: %s", error)
    return figures


def _gauge(name: str, documentation: str, value: float | None) -> Iterator[Metric]:
    if value is not None:
        gauge = GaugeMetricFamily(name, documentation)
        gauge.add_metric([], value)
        yield gauge


def _store_metrics(figures: StoreFigures) -> Iterator[Metric]:
    yield from _gauge("okr_log_head_position", "The event log's last position.", figures.head)
    yield from _gauge(
        "okr_projections_position",
        "The last log position the live projections (views) have applied.",
        figures.projections,
    )
    if figures.projections is not None and figures.head is not None:
        yield from _gauge(
            "okr_projections_lag_events",
            "Events in the log the live projections have not applied yet (as /ready's lag).",
            max(0, figures.head - figures.projections),
        )
    yield from _gauge(
        "okr_chain_head_position", "The hash chain's last link (position).", figures.chain_head
    )
    yield from _gauge(
        "okr_chain_head_committed_timestamp_seconds",
        "When the chain's last link was committed (Unix time, database clock).",
        figures.chain_head_at,
    )
    kafka = figures.kafka
    if kafka is not None:
        relay, workers = kafka["relay"], kafka["workers"]
        yield from _gauge(
            "okr_relay_lag_events",
            "Events committed but not yet acknowledged by the Kafka broker.",
            relay["lag"],
        )
        yield from _gauge(
            "okr_relay_position",
            "The last log position the broker acknowledged.",
            relay["position"],
        )
        yield from _gauge(
            "okr_relay_active", "1 while a relay holds the relay lock.", int(relay["active"])
        )
        yield from _gauge(
            "okr_workers_unapplied_events",
            "Events the projection workers' views have not applied (absent before any ran).",
            workers["unapplied"],
        )
        last_batch = workers["last_batch_at"]
        yield from _gauge(
            "okr_workers_last_batch_timestamp_seconds",
            "When the projection workers' group last committed a batch (Unix time).",
            datetime.fromisoformat(last_batch).timestamp() if last_batch else None,
        )


def _verification_metrics() -> Iterator[Metric]:
    last = VERIFICATIONS.last
    if last is not None:
        yield from _gauge(
            "okr_chain_verification_last_ok",
            "1 when this process's last chain verification found nothing wrong, else 0.",
            int(last.ok),
        )
        yield from _gauge(
            "okr_chain_verification_last_timestamp_seconds",
            "When this process's last chain verification finished (Unix time).",
            last.at,
        )
        yield from _gauge(
            "okr_chain_verification_last_head_position",
            "The last position that verification checked (before its first problem).",
            last.head_position,
        )
    counts = CounterMetricFamily(
        "okr_chain_verifications",
        "Chain verifications run in this process, by result (ok, failed).",
        labels=["result"],
    )
    for result, count in VERIFICATIONS.counts().items():
        counts.add_metric([result], count)
    yield counts


def install(app: FastAPI, settings: Settings | None = None) -> None:
    """Count and time every request of `app`, and serve the figures at `GET /metrics`."""
    settings = settings or get_settings()
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    registry.register(StoreCollector(app, settings.metrics_scrape_timeout_seconds))
    app.add_middleware(MetricsMiddleware, metrics=HttpMetrics(registry))
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @app.get(PATH, include_in_schema=False)
    def metrics(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return problem(
                    401,
                    "token_invalid",
                    "GET /metrics needs the metrics token (OKR_METRICS_TOKEN) as a bearer token",
                    headers={"WWW-Authenticate": 'Bearer realm="okrledger metrics"'},
                )
        # Prometheus' text format, or OpenMetrics when the scraper asks for it
        encode, media_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encode(registry), headers={"Content-Type": media_type})
