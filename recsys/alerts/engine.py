"""Evaluates the alert rules and drives each one's state machine (spec Component 5's check task).

Per rule: inactive → pending (condition true, ``for`` not yet elapsed) → firing (notified once) →
re-notified only after ``repeat_interval`` → resolved (a RESOLVED notice). No data in the window
counts as "condition false". The state lives in the ``alerts`` table, so a restarted monitor picks
up where it left off instead of firing again. A transition is claimed in a write transaction before
anything is sent, so two monitors cannot both send it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from recsys.clock import Clock, format_ts, parse_ts, utc_now
from recsys.paths import ProjectPaths

from .channels import Channel, DeliveryResult
from .config import AlertRule, AlertsConfig, load_project_alerts_config
from .notify import build_channels, dispatch
from .sources import SourceContext, read_metric
from .store import AlertStore

log = logging.getLogger(__name__)


@dataclass
class RuleOutcome:
    """What one rule's evaluation did."""

    rule: str
    state: str
    """Rule state afterwards: inactive | pending | firing | resolved | error."""
    event: str
    """none | no_data | pending | fired | renotified | resolved | cleared | error."""
    value: Any = None
    threshold: Any = None
    condition: str = ""
    severity: str = ""
    message: str | None = None
    deliveries: list[DeliveryResult] = field(default_factory=list)
    error: str | None = None


def condition_holds(rule: AlertRule, value: Any) -> bool:
    """Whether ``value`` is bad according to the rule (``value`` may be None only for is_null)."""
    condition, threshold = rule.effective_condition, rule.threshold
    if condition == "is_null":
        return value is None
    if value is None:
        return False
    if condition == "above":
        return float(value) > float(threshold)
    if condition == "below":
        return float(value) < float(threshold)
    if isinstance(threshold, bool):
        return bool(value) is threshold
    if isinstance(threshold, (int, float)):
        return float(value) == float(threshold)
    return str(value) == str(threshold)


def describe(rule: AlertRule, value: Any) -> str:
    """Why the rule fires: ``avg_latency_ms = 250 is above the threshold 200 (window 5min)``."""
    condition = rule.effective_condition
    if condition == "is_null":
        return f"{rule.metric} is not set (window {rule.window})"
    if condition == "equals":
        return f"{rule.metric} is {_show(value)} (window {rule.window})"
    words = {"above": "is above", "below": "is below"}[condition]
    return f"{rule.metric} = {_show(value)} {words} the threshold {_show(rule.threshold)} (window {rule.window})"


def describe_ok(rule: AlertRule, value: Any) -> str:
    """Why the rule no longer fires: ``avg_latency_ms = 90 is back within the threshold 200``."""
    condition = rule.effective_condition
    if condition == "is_null":
        return f"{rule.metric} is set again ({_show(value)})"
    if condition == "equals":
        return f"{rule.metric} is {_show(value)} now"
    return f"{rule.metric} = {_show(value)} is back within the threshold {_show(rule.threshold)}"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class AlertEngine:
    """Evaluates every rule of ``config`` against the stores under ``paths`` at ``clock()``."""

    def __init__(
        self,
        paths: ProjectPaths,
        config: AlertsConfig | None = None,
        clock: Clock = utc_now,
        channels: Mapping[str, Channel] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.paths = paths
        self.config = config if config is not None else load_project_alerts_config(paths)
        self.clock = clock
        self.channels = dict(channels) if channels is not None else build_channels(self.config, paths)
        self.sleep = sleep
        self.store = AlertStore(paths)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def evaluate(self) -> list[RuleOutcome]:
        """Evaluate every rule once; a rule whose source fails is reported as 'error', the rest still run."""
        now = self.clock()
        context = SourceContext(self.paths, now)
        try:
            outcomes = [self._evaluate_rule(rule, context, now) for rule in self.config.alerts]
        finally:
            context.close()
        self._retire_orphans(now)
        return outcomes

    def _retire_orphans(self, now: datetime) -> None:
        """Close open episodes of rules no longer in the config (silently: the rule is gone, not fixed)."""
        names = {rule.name for rule in self.config.alerts}
        stamp = format_ts(now)
        with self.store.transaction():
            for alert in self.store.firing():
                if alert["rule"] not in names:
                    self.store.update(alert["id"], state="inactive", resolved_at=stamp, updated_at=stamp,
                                      message="rule removed from the config")

    def _evaluate_rule(self, rule: AlertRule, context: SourceContext, now: datetime) -> RuleOutcome:
        outcome = RuleOutcome(rule.name, "inactive", "none", threshold=rule.threshold,
                              condition=rule.effective_condition, severity=rule.severity)
        try:
            value = read_metric(rule.metric, context, rule.window_delta)
        except Exception as exc:  # one broken source must not stop the other rules
            log.warning("alert rule %s: cannot read %s: %s", rule.name, rule.metric, exc)
            current = self.store.open_alert(rule.name)
            outcome.state = current["state"] if current else "inactive"
            outcome.event, outcome.error = "error", f"{type(exc).__name__}: {exc}"
            return outcome
        outcome.value = value
        has_data = value is not None or rule.effective_condition == "is_null"
        bad = has_data and condition_holds(rule, value)

        with self.store.transaction():
            current = self.store.open_alert(rule.name)
            plan = self._plan(rule, current, bad, has_data, value, now)
        outcome.state, outcome.event, outcome.message = plan["state"], plan["event"], plan.get("message")
        if outcome.event in ("fired", "renotified"):
            log.warning("Alert triggered: %s | value=%s, threshold=%s", rule.name, _show(value), _show(rule.threshold))
        elif outcome.event == "resolved":
            log.info("Alert resolved: %s | value=%s", rule.name, _show(value))
        if plan.get("notify"):
            outcome.deliveries = self._notify(rule, plan["alert_id"], plan["event"], plan["subject"],
                                              plan["message"], now)
        return outcome

    def _plan(self, rule: AlertRule, current: dict | None, bad: bool, has_data: bool, value: Any,
              now: datetime) -> dict:
        """Decide and record the transition (inside the write transaction); sending happens after."""
        store, stamp = self.store, format_ts(now)
        if bad:
            text = describe(rule, value)
            if current is None:
                if rule.for_.total_seconds() > 0:
                    alert_id = store.insert(rule.name, state="pending", severity=rule.severity, value=value,
                                            threshold=rule.threshold, started_at=stamp, message=text,
                                            updated_at=stamp)
                    return {"state": "pending", "event": "pending", "alert_id": alert_id, "message": text}
                alert_id = store.insert(rule.name, state="firing", severity=rule.severity, value=value,
                                        threshold=rule.threshold, started_at=stamp, fired_at=stamp,
                                        last_notified_at=stamp, message=text, updated_at=stamp)
                return self._send_plan("firing", "fired", alert_id, rule.name, text)
            alert_id = current["id"]
            if current["state"] == "pending":
                if now - parse_ts(current["started_at"]) >= rule.for_:
                    store.update(alert_id, state="firing", value=value, fired_at=stamp, last_notified_at=stamp,
                                 message=text, updated_at=stamp)
                    return self._send_plan("firing", "fired", alert_id, rule.name, text)
                store.update(alert_id, value=value, message=text, updated_at=stamp)
                return {"state": "pending", "event": "none", "alert_id": alert_id, "message": text}
            last = parse_ts(current["last_notified_at"] or current["fired_at"])
            if rule.repeat_every is not None and now - last >= rule.repeat_every:
                store.update(alert_id, value=value, last_notified_at=stamp, message=text, updated_at=stamp)
                return self._send_plan("firing", "renotified", alert_id, rule.name,
                                       f"{text}; still firing since {current['fired_at'][:19]} UTC")
            store.update(alert_id, value=value, message=text, updated_at=stamp)
            return {"state": "firing", "event": "none", "alert_id": alert_id, "message": text}

        no_data = "" if has_data else f"no data for {rule.metric} in the last {rule.window}"
        if current is None:
            return {"state": "inactive", "event": "none" if has_data else "no_data"}
        alert_id = current["id"]
        if current["state"] == "pending":
            store.update(alert_id, state="inactive", resolved_at=stamp, updated_at=stamp,
                         value=value if has_data else current["value"])
            return {"state": "inactive", "event": "cleared", "alert_id": alert_id}
        reason = no_data or describe_ok(rule, value)
        text = f"{reason}; was firing since {current['fired_at'][:19]} UTC"
        store.update(alert_id, state="resolved", resolved_at=stamp, last_notified_at=stamp, message=text,
                     updated_at=stamp, value=value if has_data else current["value"])
        return self._send_plan("resolved", "resolved", alert_id, f"RESOLVED: {rule.name}", text)

    @staticmethod
    def _send_plan(state: str, event: str, alert_id: int, subject: str, message: str) -> dict:
        return {"state": state, "event": event, "alert_id": alert_id, "notify": True,
                "subject": subject, "message": message}

    def _notify(self, rule: AlertRule, alert_id: int, event: str, subject: str, message: str,
                now: datetime) -> list[DeliveryResult]:
        chosen = [self.channels["log"]] if "log" in self.channels else []
        chosen += [self.channels[name] for name in rule.channels if name != "log" and name in self.channels]
        results = dispatch(chosen, subject, message, rule.severity, config=self.config, sleep=self.sleep)
        errors = [
            {"at": format_ts(now), "event": event, "channel": r.channel, "error": r.error, "attempts": r.attempts}
            for r in results if not r.ok
        ]
        with self.store.transaction():
            row = self.store.get(alert_id)
            self.store.update(alert_id, notifications_sent=(row["notifications_sent"] or 0) + 1)
        self.store.add_delivery_errors(alert_id, errors)
        return results

    def open_alerts(self) -> list[dict]:
        """Pending and firing episodes."""
        return self.store.firing()

    def recent(self, limit: int = 20) -> list[dict]:
        """The newest episodes of any state."""
        return self.store.recent(limit)


def evaluate_alerts(paths: ProjectPaths, *, clock: Clock = utc_now, config: AlertsConfig | None = None) -> list[dict]:
    """One evaluation with the project's config (the monitor's every-minute job); outcomes as dicts."""
    engine = AlertEngine(paths, config, clock)
    try:
        return [outcome_dict(o) for o in engine.evaluate()]
    finally:
        engine.close()


def outcome_dict(outcome: RuleOutcome) -> dict:
    """A RuleOutcome as plain data."""
    data = {k: v for k, v in outcome.__dict__.items() if k != "deliveries"}
    data["deliveries"] = [d.as_dict() for d in outcome.deliveries]
    return data
