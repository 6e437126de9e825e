"""``send_alert(subject, message, severity)`` as the spec has it, over the configured channels."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from recsys.paths import ProjectPaths

from .channels import Channel, DeliveryResult, EmailChannel, LogChannel, SlackChannel, deliver_all
from .config import SEVERITIES, AlertsConfig, load_project_alerts_config

SLACK_SEVERITIES = ("warning", "critical")
"""The spec sends to Slack only for these."""


def build_channels(config: AlertsConfig, paths: ProjectPaths) -> dict[str, Channel]:
    """The configured channels by name: ``log`` always, ``email``/``slack`` when enabled."""
    channels: dict[str, Channel] = {"log": LogChannel(paths.alerts_log)}
    timeout = config.delivery.timeout_seconds
    if config.email is not None and config.email.is_enabled:
        channels["email"] = EmailChannel.from_config(config.email, timeout=timeout)
    if config.slack is not None and config.slack.is_enabled:
        channels["slack"] = SlackChannel(config.slack.webhook, timeout=timeout)
    return channels


def dispatch(
    channels: Sequence[Channel],
    subject: str,
    message: str,
    severity: str,
    *,
    config: AlertsConfig | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryResult]:
    """Deliver to ``channels`` with the config's retries; failures are also written to the log channel."""
    delivery = (config or AlertsConfig()).delivery
    results = deliver_all(
        channels, subject, message, severity,
        attempts=delivery.attempts, backoff_seconds=delivery.backoff_seconds, sleep=sleep,
    )
    log = next((channel for channel in channels if isinstance(channel, LogChannel)), None)
    for result in results:
        if not result.ok and log is not None and result.channel != "log":
            log.record("warning", f"Alert delivery failed | channel={result.channel}, subject={subject}, "
                                  f"attempts={result.attempts}, error={result.error}")
    return results


def send_alert(
    subject: str,
    message: str,
    severity: str = "info",
    *,
    config: AlertsConfig | None = None,
    paths: ProjectPaths | None = None,
    channels: Iterable[Channel] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryResult]:
    """Send an alert: email if configured, Slack only for warning/critical, the alerts log always.

    ``channels`` overrides the choice (every given channel is used). Never raises for a channel that
    is down: each channel's outcome is in the returned results.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    paths = paths or ProjectPaths.from_env()
    if config is None:
        config = load_project_alerts_config(paths)
    if channels is None:
        available = build_channels(config, paths)
        chosen = [available["log"]]
        if "email" in available:
            chosen.append(available["email"])
        if "slack" in available and severity in SLACK_SEVERITIES:
            chosen.append(available["slack"])
    else:
        chosen = list(channels)
    return dispatch(chosen, subject, message, severity, config=config, sleep=sleep)
