"""``config/alerts_config.yaml``: the spec's format, validated on load, secrets from the environment.

Each rule names an allow-listed ``metric``, a ``threshold``, a ``window``, a ``severity`` and an
``action`` (the channels: ``email``, ``slack``, ``log``, joined with ``+``; the log channel always
records every alert as well). Extensions over the spec, all optional:

- ``condition``: ``above`` | ``below`` | ``equals`` | ``is_null``. When absent it follows from the
  threshold, so the spec's rules mean what they say: a number → ``above`` (value > threshold),
  ``true``/``"unhealthy"`` → ``equals``, ``null`` → ``is_null``.
- ``for``: how long the condition must hold before the alert fires (default 0: at once).
- ``repeat_interval``: how often a still-firing alert is sent again (default: the longer of 4 hours,
  Prometheus Alertmanager's default, and the rule's window, so a weekly drift flag is not re-sent
  every 4 hours; ``never`` sends it once per episode).

Durations are ``<number><unit>`` with unit s/sec, min, h/hour, d/day, w/week (``5min``, ``1hour``,
``1day``) or ``hourly``/``daily``/``weekly``.

Secrets never come from the file: the SMTP password is ``$RECSYS_SMTP_PASSWORD`` and the Slack
webhook is ``$RECSYS_SLACK_WEBHOOK_URL`` (which overrides the file's placeholder; a URL containing
``...`` counts as unset). Both are held as ``SecretStr``, whose repr hides the value.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator

from recsys.errors import ConfigError
from recsys.paths import ProjectPaths

from .sources import METRIC_KINDS, STATUS_VALUES

SMTP_PASSWORD_ENV = "RECSYS_SMTP_PASSWORD"
SLACK_WEBHOOK_ENV = "RECSYS_SLACK_WEBHOOK_URL"
CONFIG_FILE_NAME = "alerts_config.yaml"

SEVERITIES = ("info", "warning", "critical")
CHANNEL_NAMES = ("email", "slack", "log")
CONDITIONS = ("above", "below", "equals", "is_null")
DEFAULT_REPEAT = timedelta(hours=4)

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "m": 60, "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400, "w": 604800, "week": 604800,
}
_ALIASES = {"hourly": "1hour", "daily": "1day", "weekly": "1week"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$")


def parse_duration(text: Any) -> timedelta:
    """``'5min'`` → 5 minutes; also ``30s``, ``1hour``, ``2d``, ``1week``, ``hourly``, ``daily``, ``weekly``."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, (int, float)):
        return timedelta(seconds=float(text))
    word = _ALIASES.get(text.strip().lower(), text.strip().lower())
    match = _DURATION.match(word)
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"unknown duration {text!r}; use e.g. 1min, 5min, 1hour, 1day, weekly")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


class AlertRule(BaseModel):
    """One alert rule of ``alerts:``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    """Unique rule name; it is the alert's subject."""
    metric: str
    """An allow-listed metric (see ``recsys.alerts.sources.METRIC_SOURCES``)."""
    threshold: Any = None
    """The value the metric is compared with (number, true/false, a status word, or null)."""
    window: Any
    """How far back the metric looks: ``1min``, ``5min``, ``1hour``, ``1day``, ``weekly`` ..."""
    severity: Literal["info", "warning", "critical"]
    """info | warning | critical; shown as ``[SEVERITY]`` in the subject."""
    action: str = "log"
    """Channels, joined with '+': email, slack, log (the log channel records every alert anyway)."""
    condition: Literal["above", "below", "equals", "is_null"] | None = None
    """Which way is bad; inferred from the threshold when absent (see the module docstring)."""
    for_: timedelta = Field(default=timedelta(0), alias="for")
    """How long the condition must hold before the alert fires."""
    repeat_interval: timedelta | Literal["never"] | None = None
    """How often a still-firing alert is re-sent; 'never' sends once per episode; absent → see ``repeat_every``."""

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRIC_KINDS:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(sorted(METRIC_KINDS))}")
        return value

    @field_validator("window")
    @classmethod
    def _known_window(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"window {value!r} needs a unit, e.g. 1min, 5min, 1hour, 1day, weekly")
        if parse_duration(value) <= timedelta(0):
            raise ValueError("window must be longer than 0")
        return value

    @field_validator("severity", mode="before")
    @classmethod
    def _known_severity(cls, value: Any) -> Any:
        if value not in SEVERITIES:
            raise ValueError(f"unknown severity {value!r}; use one of {', '.join(SEVERITIES)}")
        return value

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        parts = [part.strip() for part in value.split("+")]
        unknown = [part for part in parts if part not in CHANNEL_NAMES]
        if unknown or not parts:
            raise ValueError(f"unknown action {value!r}; use channels {', '.join(CHANNEL_NAMES)} joined with '+'")
        return "+".join(parts)

    @field_validator("for_", mode="before")
    @classmethod
    def _for(cls, value: Any) -> timedelta:
        return timedelta(0) if value is None else parse_duration(value)

    @field_validator("repeat_interval", mode="before")
    @classmethod
    def _repeat(cls, value: Any) -> timedelta | str | None:
        if value is None:
            return None
        if isinstance(value, str) and value.strip().lower() in ("never", "none"):
            return "never"
        duration = parse_duration(value)
        return duration if duration > timedelta(0) else "never"

    @property
    def repeat_every(self) -> timedelta | None:
        """Re-send interval of a firing alert: as configured, else the longer of 4 hours and the window."""
        if self.repeat_interval == "never":
            return None
        if isinstance(self.repeat_interval, timedelta):
            return self.repeat_interval
        return max(DEFAULT_REPEAT, self.window_delta)

    @property
    def window_delta(self) -> timedelta:
        """The window as a timedelta."""
        return parse_duration(self.window)

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names this rule notifies (the log channel is added by the sender)."""
        return tuple(self.action.split("+"))

    @property
    def effective_condition(self) -> str:
        """The condition, explicit or inferred from the threshold."""
        return self.condition or infer_condition(self.threshold)


def infer_condition(threshold: Any) -> str:
    """The spec's rules: null → is_null; true/false or a word → equals; a number → above."""
    if threshold is None:
        return "is_null"
    if isinstance(threshold, (bool, str)):
        return "equals"
    return "above"


def check_rule_semantics(rule: AlertRule) -> tuple[str, str] | None:
    """(field, reason) when the rule's metric, condition and threshold do not fit together."""
    kind = METRIC_KINDS[rule.metric]
    condition, threshold = rule.effective_condition, rule.threshold
    is_number = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
    if kind == "number":
        if condition == "is_null":
            return "threshold", f"metric {rule.metric} is a number; give a numeric threshold"
        if not is_number:
            return "threshold", f"metric {rule.metric} needs a numeric threshold, got {threshold!r}"
    elif kind == "flag":
        if condition != "equals" or not isinstance(threshold, bool):
            return "threshold", f"metric {rule.metric} is true/false: use threshold true or false (condition equals)"
    elif kind == "status":
        if condition != "equals" or threshold not in STATUS_VALUES:
            return "threshold", f"metric {rule.metric} is a status: threshold must be one of {STATUS_VALUES}"
    elif kind == "id":
        if condition == "is_null" and threshold is not None:
            return "threshold", "condition is_null takes threshold null"
        if condition in ("above", "below"):
            return "condition", f"metric {rule.metric} is an id: use is_null or equals"
    return None


class EmailConfig(BaseModel):
    """``email:`` — SMTP delivery. The password comes from ``$RECSYS_SMTP_PASSWORD`` only."""

    model_config = ConfigDict(extra="forbid")

    smtp_server: str = Field(min_length=1)
    """SMTP host."""
    smtp_port: int = Field(587, ge=1, le=65535)
    """SMTP port (587 submission with STARTTLS, 25 plain)."""
    sender: str = Field(min_length=3)
    """From address (and login user unless ``username`` is set)."""
    recipients: list[str] = Field(min_length=1)
    """To addresses."""
    username: str | None = None
    """Login user when it differs from the sender."""
    enabled: bool | None = None
    """Send mail? Absent: only when ``$RECSYS_SMTP_PASSWORD`` is set, so the spec's placeholder stays quiet."""
    allow_plaintext_login: bool = False
    """Log in without TLS (never needed on a real server; loopback servers are always allowed)."""
    _password: SecretStr | None = PrivateAttr(default=None)

    @property
    def password(self) -> SecretStr | None:
        """The SMTP password from the environment, hidden in reprs."""
        return self._password

    @property
    def is_enabled(self) -> bool:
        """Whether alerts go out by mail."""
        return self.enabled if self.enabled is not None else self._password is not None

    @property
    def plaintext_login_ok(self) -> bool:
        """Login without TLS is allowed (explicitly, or because the server is on this machine)."""
        return self.allow_plaintext_login or _is_loopback(self.smtp_server)


class SlackConfig(BaseModel):
    """``slack:`` — incoming webhook. The real URL comes from ``$RECSYS_SLACK_WEBHOOK_URL``."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: str | None = None
    """Placeholder or URL; ``$RECSYS_SLACK_WEBHOOK_URL`` overrides it, a URL with '...' counts as unset."""
    _webhook: SecretStr | None = PrivateAttr(default=None)

    @property
    def webhook(self) -> SecretStr | None:
        """The effective webhook URL (hidden in reprs), or None when Slack is not configured."""
        return self._webhook

    @property
    def is_enabled(self) -> bool:
        """Whether alerts go to Slack."""
        return self._webhook is not None


class DeliveryConfig(BaseModel):
    """``delivery:`` — retries and timeouts of every channel."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(3, ge=1, le=10)
    """Tries per channel and alert."""
    backoff_seconds: float = Field(0.5, ge=0)
    """Wait before the 2nd try; doubles each further try."""
    timeout_seconds: float = Field(10.0, gt=0)
    """Network timeout of one try."""


class AlertsConfig(BaseModel):
    """The whole alerts config file."""

    model_config = ConfigDict(extra="forbid")

    alerts: list[AlertRule] = Field(default_factory=list)
    """The rules."""
    email: EmailConfig | None = None
    """SMTP settings; absent → no mail."""
    slack: SlackConfig | None = None
    """Slack webhook settings; absent → Slack only when ``$RECSYS_SLACK_WEBHOOK_URL`` is set."""
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    """Retry and timeout settings."""
    source: str = "<defaults>"
    """Where this config was read from (for messages)."""

    def rule(self, name: str) -> AlertRule:
        """The rule called ``name``."""
        for rule in self.alerts:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def resolve_secrets(self, env: Mapping[str, str]) -> AlertsConfig:
        """Fill the SMTP password and Slack webhook from ``env`` (in place); returns self."""
        password = env.get(SMTP_PASSWORD_ENV) or None
        if self.email is not None:
            self.email._password = SecretStr(password) if password else None
        url = env.get(SLACK_WEBHOOK_ENV) or None
        if url is None and self.slack is not None:
            url = self.slack.webhook_url
        if url is not None and ("..." in url or not url.strip()):
            url = None
        if url is not None:
            if self.slack is None:
                self.slack = SlackConfig()
            self.slack._webhook = SecretStr(url.strip())
        elif self.slack is not None:
            self.slack._webhook = None
        return self


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- loading -------------------------------------------------------------------------------------


def load_alerts_config(path: str | Path, env: Mapping[str, str] | None = None) -> AlertsConfig:
    """Read and validate ``path``; any problem → ``ConfigError`` naming the rule and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), f"YAML syntax error at {where}{problem}") from exc
    return parse_alerts_config(raw, source=str(path), env=os.environ if env is None else env)


def parse_alerts_config(raw: Any, *, source: str = "<config>", env: Mapping[str, str] | None = None) -> AlertsConfig:
    """Validate an already-parsed config mapping (see ``load_alerts_config``)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, "the file must be a mapping with 'alerts', 'email', 'slack'")
    raw_rules = raw.get("alerts") or []
    if not isinstance(raw_rules, list):
        raise ConfigError(source, "must be a list of rules", field="alerts")
    rules, seen = [], set()
    for index, entry in enumerate(raw_rules):
        rule = _parse_rule(entry, index, source)
        if rule.name in seen:
            raise ConfigError(source, "duplicate rule name", entry=rule.name, field="name")
        seen.add(rule.name)
        rules.append(rule)
    sections: dict[str, Any] = {}
    for key, model in (("email", EmailConfig), ("slack", SlackConfig), ("delivery", DeliveryConfig)):
        if raw.get(key) is None:
            continue
        if key == "email" and isinstance(raw[key], dict) and "password" in raw[key]:
            raise ConfigError(source, f"never put the password in the file; set ${SMTP_PASSWORD_ENV}",
                              entry="email", field="password")
        try:
            sections[key] = model.model_validate(raw[key])
        except ValidationError as exc:
            field, reason = _first_error(exc)
            raise ConfigError(source, reason, entry=key, field=field) from None
    unknown = set(raw) - {"alerts", "email", "slack", "delivery"}
    if unknown:
        raise ConfigError(source, f"unknown section(s) {sorted(unknown)}")
    config = AlertsConfig(alerts=rules, source=source, **sections)
    return config.resolve_secrets(os.environ if env is None else env)


def _parse_rule(entry: Any, index: int, source: str) -> AlertRule:
    label = f"alerts[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(source, "a rule must be a mapping", entry=label)
    name = entry.get("name") if isinstance(entry.get("name"), str) and entry.get("name") else label
    try:
        rule = AlertRule.model_validate(entry)
    except ValidationError as exc:
        field, reason = _first_error(exc)
        raise ConfigError(source, reason, entry=name, field=field) from None
    problem = check_rule_semantics(rule)
    if problem:
        raise ConfigError(source, problem[1], entry=rule.name, field=problem[0])
    return rule


def _first_error(exc: ValidationError) -> tuple[str, str]:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]).replace("for_", "for") or None
    reason = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        reason = "unknown field"
    elif error["type"] == "missing":
        reason = "required field is missing"
    return field, reason


def default_config_path(paths: ProjectPaths) -> Path:
    """The project's alerts config: ``config/alerts_config.yaml`` under the project root."""
    return paths.config_dir / CONFIG_FILE_NAME


def load_project_alerts_config(paths: ProjectPaths, env: Mapping[str, str] | None = None) -> AlertsConfig:
    """The project's config; without one, the copy shipped with recsys; else no rules, log only."""
    from recsys.config_files import config_file

    path = config_file(paths, CONFIG_FILE_NAME)
    if path.exists():
        return load_alerts_config(path, env)
    return AlertsConfig().resolve_secrets(os.environ if env is None else env)
