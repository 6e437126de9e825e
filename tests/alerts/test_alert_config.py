"""Validation of config/alerts_config.yaml: the spec's file loads, bad rules are named, secrets stay hidden."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from recsys.alerts.config import load_alerts_config, parse_alerts_config, parse_duration
from recsys.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config" / "alerts_config.yaml"

GOOD_RULE = {"name": "high_latency", "metric": "avg_latency_ms", "threshold": 200, "window": "5min",
             "severity": "warning", "action": "email"}


def test_the_spec_file_loads_with_its_rules_and_meanings():
    config = load_alerts_config(REPO_CONFIG, env={})
    rules = {rule.name: rule for rule in config.alerts}
    assert list(rules) == ["high_latency", "high_error_rate", "high_fallback_rate", "data_drift", "registry_health",
                           "model_reload_failed", "no_best_model", "data_quality"]
    assert rules["high_latency"].effective_condition == "above"
    assert rules["data_drift"].effective_condition == "equals" and rules["data_drift"].threshold is True
    assert rules["registry_health"].effective_condition == "equals"
    assert rules["no_best_model"].effective_condition == "is_null"
    assert rules["data_drift"].window_delta == timedelta(days=7)
    assert rules["data_drift"].repeat_every == timedelta(days=7)  # not re-sent every 4 hours for a week
    assert rules["high_latency"].repeat_every == timedelta(hours=4)
    assert rules["high_error_rate"].channels == ("email", "slack")
    # the committed file's email and Slack stay dormant until the environment provides secrets
    assert not config.email.is_enabled and not config.slack.is_enabled


def test_environment_secrets_enable_channels_and_stay_hidden():
    env = {"RECSYS_SMTP_PASSWORD": "pw-very-secret", "RECSYS_SLACK_WEBHOOK_URL": "https://hooks.example/T/B/tok-secret"}
    config = load_alerts_config(REPO_CONFIG, env=env)
    assert config.email.is_enabled and config.slack.is_enabled
    assert config.email.password.get_secret_value() == "pw-very-secret"
    assert config.slack.webhook.get_secret_value() == "https://hooks.example/T/B/tok-secret"
    for text in (repr(config), str(config), repr(config.email), repr(config.slack), config.model_dump_json()):
        assert "pw-very-secret" not in text and "tok-secret" not in text


def test_placeholder_webhook_counts_as_unset_and_a_real_one_in_the_file_is_used():
    assert not parse_alerts_config({"slack": {"webhook_url": "https://hooks.slack.com/services/..."}}, env={}) \
        .slack.is_enabled
    config = parse_alerts_config({"slack": {"webhook_url": "http://127.0.0.1:9/hook"}}, env={})
    assert config.slack.webhook.get_secret_value() == "http://127.0.0.1:9/hook"
    config = parse_alerts_config({}, env={"RECSYS_SLACK_WEBHOOK_URL": "http://127.0.0.1:9/env"})
    assert config.slack.webhook.get_secret_value() == "http://127.0.0.1:9/env"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"metric": "avg_latency"}, "metric", "unknown metric"),
        ({"metric": "avg_latency_ms); DROP TABLE service_health; --"}, "metric", "unknown metric"),
        ({"window": "fortnight"}, "window", "unknown duration"),
        ({"window": 5}, "window", "needs a unit"),
        ({"severity": "urgent"}, "severity", "unknown severity"),
        ({"action": "email+pager"}, "action", "unknown action"),
        ({"threshold": "high"}, "threshold", "numeric threshold"),
        ({"condition": "sideways"}, "condition", ""),
        ({"threshhold": 3}, "threshhold", "unknown field"),
        ({"for": "soon"}, "for", "unknown duration"),
        ({"repeat_interval": "often"}, "repeat_interval", "unknown duration"),
    ],
)
def test_a_bad_rule_names_the_rule_and_the_field(change, field, words):
    rule = {**GOOD_RULE, **change}
    with pytest.raises(ConfigError) as caught:
        parse_alerts_config({"alerts": [rule]}, source="alerts.yaml", env={})
    error = caught.value
    assert error.entry == "high_latency" and error.field == field
    assert words in error.reason
    assert "high_latency" in str(error) and field in str(error)


def test_missing_field_and_kind_mismatches():
    rule = {k: v for k, v in GOOD_RULE.items() if k != "window"}
    with pytest.raises(ConfigError) as caught:
        parse_alerts_config({"alerts": [rule]}, env={})
    assert caught.value.field == "window" and "missing" in caught.value.reason
    flag = {**GOOD_RULE, "name": "drift", "metric": "drift_detected", "threshold": 5}
    with pytest.raises(ConfigError) as caught:
        parse_alerts_config({"alerts": [flag]}, env={})
    assert (caught.value.entry, caught.value.field) == ("drift", "threshold")
    status = {**GOOD_RULE, "name": "reg", "metric": "registry_status", "threshold": "sick"}
    with pytest.raises(ConfigError, match="healthy"):
        parse_alerts_config({"alerts": [status]}, env={})
    above_id = {**GOOD_RULE, "name": "best", "metric": "current_best", "threshold": 1, "condition": "above"}
    with pytest.raises(ConfigError) as caught:
        parse_alerts_config({"alerts": [above_id]}, env={})
    assert caught.value.field == "condition"


def test_duplicate_names_password_in_file_and_unknown_sections():
    with pytest.raises(ConfigError, match="duplicate"):
        parse_alerts_config({"alerts": [GOOD_RULE, GOOD_RULE]}, env={})
    email = {"smtp_server": "smtp.example.com", "sender": "a@example.com", "recipients": ["b@example.com"],
             "password": "hunter2"}
    with pytest.raises(ConfigError) as caught:
        parse_alerts_config({"email": email}, env={})
    assert caught.value.field == "password" and "RECSYS_SMTP_PASSWORD" in caught.value.reason
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_alerts_config({"email": {**email, "password": None, "smtp_port": 99999}}, env={})
    with pytest.raises(ConfigError, match="unknown section"):
        parse_alerts_config({"alerts": [], "pagerduty": {}}, env={})


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "alerts_config.yaml"
    path.write_text("alerts:\n  - name: x\n    metric: [unclosed\n    window: 5min\n")
    with pytest.raises(ConfigError) as caught:
        load_alerts_config(path, env={})
    assert "line " in caught.value.reason and str(path) in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read"):
        load_alerts_config(tmp_path / "absent.yaml", env={})


def test_explicit_conditions_round_trip(tmp_path):
    rules = [
        {**GOOD_RULE, "name": "low_traffic", "metric": "requests_per_minute", "threshold": 5, "condition": "below",
         "for": "10min", "repeat_interval": "never"},
        {**GOOD_RULE, "name": "best_is", "metric": "current_best", "threshold": "als_v1", "condition": "equals"},
    ]
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"alerts": rules}))
    low, best = load_alerts_config(path, env={}).alerts
    assert low.effective_condition == "below" and low.for_ == timedelta(minutes=10) and low.repeat_every is None
    assert best.effective_condition == "equals"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1min", timedelta(minutes=1)), ("5min", timedelta(minutes=5)), ("1hour", timedelta(hours=1)),
     ("2h", timedelta(hours=2)), ("1day", timedelta(days=1)), ("weekly", timedelta(days=7)),
     ("30s", timedelta(seconds=30)), ("hourly", timedelta(hours=1)), ("15mins", timedelta(minutes=15))],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["fortnight", "5", "min", "-5min", "5 parsecs", True])
def test_bad_durations(text):
    if text == "5":
        assert parse_duration(5) == timedelta(seconds=5)  # numbers are seconds; the string "5" has no unit
    with pytest.raises(ValueError):
        parse_duration(text)
