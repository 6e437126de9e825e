"""Alerting (spec Component 5): validated rules, metric sources, channels, and the rule engine."""

from .channels import Channel, DeliveryResult, EmailChannel, LogChannel, SlackChannel, deliver, deliver_all
from .config import AlertRule, AlertsConfig, load_alerts_config, load_project_alerts_config, parse_duration
from .engine import AlertEngine, RuleOutcome, evaluate_alerts
from .notify import build_channels, send_alert
from .sources import METRIC_SOURCES, SourceContext, read_metric
from .store import AlertStore

__all__ = [
    "AlertEngine", "AlertRule", "AlertStore", "AlertsConfig", "Channel", "DeliveryResult", "EmailChannel",
    "LogChannel", "METRIC_SOURCES", "RuleOutcome", "SlackChannel", "SourceContext", "build_channels", "deliver",
    "deliver_all", "evaluate_alerts", "load_alerts_config", "load_project_alerts_config", "parse_duration",
    "read_metric", "send_alert",
]
