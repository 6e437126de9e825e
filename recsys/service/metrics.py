"""Prometheus metrics of the service, all prefixed ``recsys_``; one ``CollectorRegistry`` per app.

Labels are bounded: endpoint is a route path (unknown paths become ``other``), status an HTTP
code, method a fallback name. A user or product id is never a label.

Several uvicorn workers: ``recsys serve --workers N`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start; every worker then writes its values to files there and ``/metrics`` (answered by
whichever worker) reports the sum over workers (``recsys_model_info`` reports the max, i.e. 1 for
every model some worker serves).
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

PREFIX = "recsys"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class ServiceMetrics:
    """The service's counters, histogram and gauges, registered in ``registry`` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        reg = self.registry
        self.http_requests = Counter(f"{PREFIX}_http_requests", "HTTP requests answered, by endpoint and status.",
                                     ["endpoint", "status"], registry=reg)
        self.latency = Histogram(f"{PREFIX}_request_latency_seconds", "Time to answer a request, by endpoint.",
                                 ["endpoint"], buckets=LATENCY_BUCKETS, registry=reg)
        self.fallbacks = Counter(f"{PREFIX}_fallback", "Recommendations answered by a fallback, by method.",
                                 ["method"], registry=reg)
        self.errors = Counter(f"{PREFIX}_errors", "Requests that failed with an internal error, by endpoint.",
                              ["endpoint"], registry=reg)
        self.model_reloads = Counter(f"{PREFIX}_model_reloads", "Successful model swaps after the first load.",
                                     registry=reg)
        self.model_reload_failures = Counter(f"{PREFIX}_model_reload_failures",
                                             "Model loads that failed (the previous model kept serving).",
                                             registry=reg)
        self.request_log_dropped = Counter(f"{PREFIX}_request_log_dropped",
                                           "Request/feedback records dropped because the log queue was full.",
                                           registry=reg)
        self.request_log_write_errors = Counter(f"{PREFIX}_request_log_write_errors",
                                                "Request-log transactions that failed (retried, then dropped).",
                                                registry=reg)
        self.service_log_lines_lost = Counter(f"{PREFIX}_service_log_lines_lost",
                                              "Service log lines that could not be written (e.g. a full disk).",
                                              registry=reg)
        self.model_info = Gauge(f"{PREFIX}_model_info", "1 for the model being served.",
                                ["model_id", "model_version", "model_type"], registry=reg,
                                multiprocess_mode="max")
        self._children: dict[tuple[str, int], tuple] = {}
        self._fallback_children: dict[str, object] = {}
        self._model_labels: tuple[str, str, str] | None = None

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency (label children cached: this runs per request)."""
        key = (endpoint, status)
        children = self._children.get(key)
        if children is None:
            children = (self.http_requests.labels(endpoint, str(status)), self.latency.labels(endpoint))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def count_fallback(self, method: str) -> None:
        """Count one fallback answer (label child cached)."""
        child = self._fallback_children.get(method)
        if child is None:
            child = self._fallback_children[method] = self.fallbacks.labels(method)
        child.inc()

    def set_model(self, model_id: str | None, version: str | None, model_type: str | None) -> None:
        """Point ``recsys_model_info`` at the model now served (the previous one drops to 0)."""
        labels = (model_id or "none", version or "none", model_type or "none")
        if labels == self._model_labels:
            return
        if self._model_labels is not None:
            self.model_info.labels(*self._model_labels).set(0)
        self.model_info.labels(*labels).set(1)
        self._model_labels = labels

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) for ``GET /metrics``."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
