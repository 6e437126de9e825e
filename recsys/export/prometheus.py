"""Prometheus alerting rules equivalent to ``config/alerts_config.yaml``, over what ``/metrics`` exposes.

Each config rule whose metric the service exports becomes one alerting rule with the same threshold,
its window as the PromQL range, its ``for`` as the rule's ``for`` and its severity (and action) as labels.
Rules about things Prometheus cannot see (drift, registry health) stay with the recsys monitor; the
output lists them in a comment rather than faking an expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from recsys.errors import ConfigError
from recsys.export import metrics as m

GROUP_NAME = "recsys-alerts"
CONDITIONS = {"above": ">", "below": "<", "equals": "=="}

_DURATION = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$")
_UNITS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hour": "h", "hours": "h", "d": "d", "day": "d", "days": "d",
    "w": "w", "week": "w", "weeks": "w",
}
_WORDS = {"minutely": "1m", "hourly": "1h", "daily": "1d", "weekly": "1w"}


@dataclass(frozen=True)
class AlertRule:
    """One entry of ``alerts:`` in the alerts config (the fields the export needs)."""

    name: str
    metric: str
    threshold: Any
    window: str
    severity: str
    action: str | None = None
    condition: str | None = None
    for_: str | None = None
    repeat_interval: str | None = None


def prometheus_duration(text: Any, *, path: str = "", entry: str | None = None, field: str = "window") -> str:
    """A config duration (``5min``, ``1hour``, ``weekly``, ``30s``) as a Prometheus one (``5m``, ``1h``, ``1w``)."""
    raw = str(text).strip().lower()
    if raw in _WORDS:
        return _WORDS[raw]
    match = _DURATION.match(raw)
    if not match or match.group(2) not in _UNITS:
        raise ConfigError(path, f"'{text}' is not a duration such as 5min, 1hour or weekly", entry, field)
    return f"{int(match.group(1))}{_UNITS[match.group(2)]}"


def load_alert_rules(path: str | Path) -> list[AlertRule]:
    """The ``alerts:`` list of an alerts config file; a clear ``ConfigError`` naming rule and field otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "file not found (the monitor's alerts config; pass --config to use another)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"not valid YAML: {exc}") from exc
    entries = document.get("alerts") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(str(path), "expected a list under 'alerts:'", field="alerts")
    rules = []
    for index, entry in enumerate(entries):
        label = entry.get("name") if isinstance(entry, dict) and entry.get("name") else f"#{index + 1}"
        if not isinstance(entry, dict):
            raise ConfigError(str(path), "each alert must be a mapping", label)
        for field in ("name", "metric", "window", "severity"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise ConfigError(str(path), "missing or not a string", label, field)
        if "threshold" not in entry:
            raise ConfigError(str(path), "missing (use null for 'is missing' rules)", label, "threshold")
        condition = entry.get("condition")
        if condition is not None and condition not in (*CONDITIONS, "is_null"):
            raise ConfigError(str(path), f"'{condition}' is not one of above, below, equals, is_null", label,
                              "condition")
        prometheus_duration(entry["window"], path=str(path), entry=label, field="window")
        if entry.get("for") is not None:
            prometheus_duration(entry["for"], path=str(path), entry=label, field="for")
        rules.append(AlertRule(
            name=entry["name"], metric=entry["metric"], threshold=entry["threshold"], window=entry["window"],
            severity=entry["severity"], action=entry.get("action"), condition=condition, for_=entry.get("for"),
            repeat_interval=entry.get("repeat_interval"),
        ))
    return rules


def _ratio(numerator: str, window: str, endpoint: str) -> str:
    total = f'sum(rate({m.REQUESTS_TOTAL}{{endpoint="{endpoint}"}}[{window}]))'
    return f"sum(rate({numerator}[{window}])) / {total}"


def _value_expression(metric: str, window: str, endpoint: str) -> str | None:
    """PromQL computing the config metric's value over ``window`` (None: not observable from ``/metrics``)."""
    selector = f'{{endpoint="{endpoint}"}}'
    if metric == "avg_latency_ms":
        return (f"1000 * sum(rate({m.LATENCY}_sum{selector}[{window}]))"
                f" / sum(rate({m.LATENCY}_count{selector}[{window}]))")
    if metric == "p95_latency_ms":
        return f"1000 * histogram_quantile(0.95, sum by (le) (rate({m.LATENCY}_bucket{selector}[{window}])))"
    if metric == "requests_per_minute":
        return f"60 * sum(rate({m.REQUESTS_TOTAL}{selector}[{window}]))"
    if metric == "error_rate":
        return _ratio(f"{m.ERRORS_TOTAL}{selector}", window, endpoint)
    if metric == "fallback_rate":
        return _ratio(m.FALLBACK_TOTAL, window, endpoint)
    if metric == "reload_error":
        return f"sum(increase({m.RELOAD_FAILURES_TOTAL}[{window}]))"
    return None


def rule_expression(rule: AlertRule, endpoint: str = m.RECOMMEND_ENDPOINT) -> tuple[str | None, str]:
    """``(expr, reason)``: the rule as a PromQL alert condition, or ``None`` and why it cannot be one."""
    window = prometheus_duration(rule.window)
    if rule.metric == "current_best":
        if rule.threshold is None or rule.condition == "is_null":
            return f"absent({m.MODEL_INFO})", ""  # the service exports no model-info series: nothing is served
        return None, "only 'current best is missing' can be seen from /metrics"
    value = _value_expression(rule.metric, window, endpoint)
    if value is None:
        return None, f"'{rule.metric}' has no Prometheus metric; the recsys monitor evaluates it"
    if rule.condition == "is_null":
        return f"absent({value})", ""
    threshold = rule.threshold
    if isinstance(threshold, bool):  # "reload_error: true" — any failure in the window
        if not threshold:
            return None, "a 'false' threshold never fires"
        return f"{value} > 0", ""
    if not isinstance(threshold, int | float):
        return None, f"threshold {threshold!r} is not a number"
    operator = CONDITIONS[rule.condition or "above"]
    return f"{value} {operator} {threshold:g}", ""


def prometheus_rules(rules: list[AlertRule], endpoint: str = m.RECOMMEND_ENDPOINT,
                     source: str = "config/alerts_config.yaml") -> tuple[dict[str, Any], list[tuple[AlertRule, str]]]:
    """``(rules document, skipped)``: a Prometheus rule-file document and the config rules left out, with why."""
    exported, skipped = [], []
    for rule in rules:
        expr, reason = rule_expression(rule, endpoint)
        if expr is None:
            skipped.append((rule, reason))
            continue
        entry: dict[str, Any] = {"alert": rule.name, "expr": expr}
        if rule.for_ is not None:
            entry["for"] = prometheus_duration(rule.for_)
        labels = {"severity": rule.severity}
        if rule.action:
            labels["action"] = rule.action  # routes to email/Slack receivers in Alertmanager
        entry["labels"] = labels
        annotations = {
            "summary": f"{rule.name}: {rule.metric} {_describe(rule)} over {prometheus_duration(rule.window)}",
            "source": source,
        }
        if rule.repeat_interval:
            annotations["repeat_interval"] = prometheus_duration(rule.repeat_interval, field="repeat_interval")
        entry["annotations"] = annotations
        exported.append(entry)
    return {"groups": [{"name": GROUP_NAME, "rules": exported}]}, skipped


def _describe(rule: AlertRule) -> str:
    if rule.metric == "current_best" or rule.condition == "is_null":
        return "is missing"
    if isinstance(rule.threshold, bool):
        return "occurred"
    return f"{rule.condition or 'above'} {rule.threshold}"


def render_rules(rules: list[AlertRule], source: str, endpoint: str = m.RECOMMEND_ENDPOINT) -> str:
    """The rule file's text: a header naming the source and the rules not exported, then the rules."""
    document, skipped = prometheus_rules(rules, endpoint, source)
    lines = [f"# Prometheus alerting rules generated by `recsys export prometheus-rules` from {source}.",
             "# Regenerate instead of editing. Metrics: the recsys service's /metrics endpoint."]
    if skipped:
        lines.append("# Not exported (no Prometheus metric; the recsys monitor evaluates these):")
        lines += [f"#   - {rule.name} ({rule.metric}): {reason}" for rule, reason in skipped]
    return "\n".join(lines) + "\n" + yaml.safe_dump(document, sort_keys=False, width=1000)
