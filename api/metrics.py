"""Prometheus metrics: request counts and latency per endpoint, advisories by status.

A pure ASGI middleware (no per-request task or body buffering) records every HTTP request under
its route template (``/v1/intersections/{intersection_id}``, so ids do not explode the label
set).  Each app has its own registry; with several uvicorn workers ``greenwave serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` aggregates all workers (prometheus_client's
multiprocess mode).
"""

from __future__ import annotations

import os
import time
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS_S = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)


class Metrics:
    """The service's metrics and their registry."""

    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        reg = None if self.multiprocess else self.registry
        self.requests = Counter(
            "greenwave_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "greenwave_http_request_duration_seconds",
            "Time from request start to the end of the response",
            ["method", "route"],
            buckets=LATENCY_BUCKETS_S,
            registry=reg,
        )
        self.advisories = Counter(
            "greenwave_advisories_total",
            "Advisories answered",
            ["endpoint", "status"],
            registry=reg,
        )
        self.group_size = Histogram(
            "greenwave_microbatch_size",
            "Single advisories answered by one core call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=reg,
        )
        self.writes = Counter(
            "greenwave_timing_writes_total", "Accepted plan and SPaT writes", ["kind"], registry=reg
        )
        self.stream_connections = Gauge(
            "greenwave_stream_connections",
            "Open advisory streams (WebSocket)",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.stream_messages = Counter(
            "greenwave_stream_messages_total",
            "Advisory stream messages: in (fixes), out_fix, out_timing (pushed), out_error",
            ["direction"],
            registry=reg,
        )
        self._children: dict = {}
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        ch = self._children.get(key)
        if ch is None:
            ch = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        ch[0].inc()
        ch[1].observe(seconds)

    def count_statuses(self, endpoint: str, counts: dict[str, int]) -> None:
        """Add ``{status: count}`` of advisories answered by ``endpoint``."""
        for s, c in counts.items():
            self.advisories.labels(endpoint, s).inc(c)

    def render(self, extra: str = "") -> tuple[bytes, str]:
        return generate_latest(self.registry) + extra.encode(), CONTENT_TYPE_LATEST


class Observer(Protocol):
    """What the middleware records into: :class:`Metrics`, or something forwarding to it."""

    def observe(self, method: str, route: str, status: int, seconds: float) -> None: ...


class MetricsMiddleware:
    """ASGI middleware timing every HTTP request into :class:`Metrics`."""

    def __init__(self, app, metrics: Observer):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], path, status, time.perf_counter() - start)
