"""The names the service's ``/metrics`` endpoint exposes: the contract the exported rules and panels use."""

from __future__ import annotations

import re

REQUESTS_TOTAL = "recsys_http_requests_total"            # counter {endpoint, status}
LATENCY = "recsys_request_latency_seconds"               # histogram {endpoint}
FALLBACK_TOTAL = "recsys_fallback_total"                 # counter {method}
ERRORS_TOTAL = "recsys_errors_total"                     # counter {endpoint}
RELOADS_TOTAL = "recsys_model_reloads_total"             # counter
RELOAD_FAILURES_TOTAL = "recsys_model_reload_failures_total"  # counter
LOG_DROPPED_TOTAL = "recsys_request_log_dropped_total"   # counter
MODEL_INFO = "recsys_model_info"                         # gauge 1 {model_id, model_version, model_type}

# Every series name a scrape can contain (a histogram is three series).
EXPOSED_SERIES = frozenset({
    REQUESTS_TOTAL, f"{LATENCY}_bucket", f"{LATENCY}_sum", f"{LATENCY}_count", FALLBACK_TOTAL, ERRORS_TOTAL,
    RELOADS_TOTAL, RELOAD_FAILURES_TOTAL, LOG_DROPPED_TOTAL, MODEL_INFO,
})

RECOMMEND_ENDPOINT = "/recommend"  # the `endpoint` label of the recommendation route

_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PROMQL_WORDS = frozenset({
    "sum", "avg", "min", "max", "count", "rate", "irate", "increase", "absent", "histogram_quantile", "by",
    "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "clamp_min",
    "le", "vector", "scalar", "time", "topk", "bottomk", "delta", "deriv",
})


def series_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (labels, functions, durations and strings left out)."""
    text = re.sub(r'"[^"]*"', '""', expr)           # label values
    text = re.sub(r"\{[^}]*\}", "{}", text)          # label matchers
    text = re.sub(r"\[[^\]]*\]", "[]", text)         # range durations and $__rate_interval
    text = re.sub(r"\$\{?\w+\}?", "", text)          # Grafana variables
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping label lists
    names = set()
    for match in _IDENT.finditer(text):
        word = match.group(0)
        if word in _PROMQL_WORDS or text[match.end():match.end() + 1] == "(":
            continue
        names.add(word)
    return names
