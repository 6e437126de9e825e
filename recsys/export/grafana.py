"""A provisionable Grafana dashboard (fixed uid, Prometheus data source variable) over the service's metrics."""

from __future__ import annotations

import json
from typing import Any

from recsys.export import metrics as m

DASHBOARD_UID = "recsys-service"
TITLE = "recsys: recommendation service"
_RANGE = "[$__rate_interval]"


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": {"type": "prometheus", "uid": "${datasource}"}, "expr": expr, "legendFormat": legend,
            "refId": ref, "range": True}


def _panel(panel_id: int, title: str, targets: list[tuple[str, str]], *, x: int, y: int, unit: str = "short",
           kind: str = "timeseries", width: int = 12, height: int = 8, description: str = "") -> dict[str, Any]:
    return {
        "id": panel_id, "type": kind, "title": title, "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": width, "h": height},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "targets": [_target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(targets)],
    }


def grafana_dashboard(endpoint: str = m.RECOMMEND_ENDPOINT) -> dict[str, Any]:
    """The dashboard model; ``id`` is null and ``uid`` fixed so file provisioning updates it in place."""
    sel = f'{{endpoint="{endpoint}"}}'
    requests = f"sum(rate({m.REQUESTS_TOTAL}{sel}{_RANGE}))"

    def quantile(q: float) -> str:
        return f"histogram_quantile({q}, sum by (le) (rate({m.LATENCY}_bucket{sel}{_RANGE})))"

    panels = [
        _panel(1, "Request rate by endpoint and status",
               [(f"sum by (endpoint, status) (rate({m.REQUESTS_TOTAL}{_RANGE}))", "{{endpoint}} {{status}}")],
               x=0, y=0, unit="reqps"),
        _panel(2, f"Latency quantiles ({endpoint})",
               [(quantile(q), f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)]
               + [(f"sum(rate({m.LATENCY}_sum{sel}{_RANGE})) / sum(rate({m.LATENCY}_count{sel}{_RANGE}))", "avg")],
               x=12, y=0, unit="s", description="From the request latency histogram."),
        _panel(3, "Fallback ratio",
               [(f"sum(rate({m.FALLBACK_TOTAL}{_RANGE})) / {requests}", "all methods"),
                (f"sum by (method) (rate({m.FALLBACK_TOTAL}{_RANGE})) / ignoring(method) group_left {requests}",
                 "{{method}}")],
               x=0, y=8, unit="percentunit"),
        _panel(4, "Error ratio", [(f"sum(rate({m.ERRORS_TOTAL}{sel}{_RANGE})) / {requests}", "errors")],
               x=12, y=8, unit="percentunit"),
        _panel(5, "Model reloads",
               [(f"sum(increase({m.RELOADS_TOTAL}{_RANGE}))", "reloads"),
                (f"sum(increase({m.RELOAD_FAILURES_TOTAL}{_RANGE}))", "failures")],
               x=0, y=16, unit="short"),
        _panel(6, "Dropped request-log records",
               [(f"sum(rate({m.LOG_DROPPED_TOTAL}{_RANGE}))", "dropped/s")], x=12, y=16, unit="short",
               description="Records the service's request logger could not queue (monitoring data lost)."),
        _panel(7, "Model in service", [(f"max by (model_id, model_version, model_type) ({m.MODEL_INFO})",
                                        "{{model_type}} {{model_id}} ({{model_version}})")],
               x=0, y=24, width=24, height=5, kind="table"),
    ]
    return {
        "id": None, "uid": DASHBOARD_UID, "title": TITLE, "tags": ["recsys"], "timezone": "utc",
        "editable": True, "schemaVersion": 39, "version": 1, "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [{
            "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "options": [],
        }]},
        "annotations": {"list": []},
        "panels": panels,
    }


def render_dashboard(endpoint: str = m.RECOMMEND_ENDPOINT) -> str:
    """The dashboard as JSON text."""
    return json.dumps(grafana_dashboard(endpoint), indent=2) + "\n"
