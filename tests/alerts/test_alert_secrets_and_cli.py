"""Secrets never reach logs or stores; the ``recsys alerts`` commands against loopback servers."""

from __future__ import annotations

import logging

import yaml
from click.testing import CliRunner

from recsys.alerts.config import default_config_path, load_project_alerts_config
from recsys.alerts.engine import AlertEngine
from recsys.cli import cli
from recsys.db import connect
from recsys.testing.loopback import write_health

PASSWORD = "s3cr3t-smtp-pw"
TOKEN = "SECRETTOKEN123"


def write_config(paths, smtp_port: int, *, rules=None) -> None:
    raw = {
        "alerts": rules if rules is not None else [
            {"name": "high_error_rate", "metric": "error_rate", "threshold": 0.05, "window": "5min",
             "severity": "critical", "action": "email+slack"},
        ],
        "email": {"smtp_server": "127.0.0.1", "smtp_port": smtp_port, "sender": "alerts@example.com",
                  "recipients": ["team@example.com"]},
        "slack": {"webhook_url": "https://hooks.slack.com/services/..."},
        "delivery": {"attempts": 2, "backoff_seconds": 0.01, "timeout_seconds": 3},
    }
    default_config_path(paths).parent.mkdir(parents=True, exist_ok=True)
    default_config_path(paths).write_text(yaml.safe_dump(raw))


def test_secrets_never_appear_in_logs_or_stores(paths, clock, smtp_auth_server, slack_receiver, monkeypatch,
                                                caplog):
    monkeypatch.setenv("RECSYS_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("RECSYS_SLACK_WEBHOOK_URL", slack_receiver.url(f"/services/T0/B0/{TOKEN}"))
    write_config(paths, smtp_auth_server.port)
    caplog.set_level(logging.DEBUG)
    config = load_project_alerts_config(paths)
    assert config.email.is_enabled  # enabled by the password in the environment

    engine = AlertEngine(paths, config, clock)
    write_health(paths, clock.now, avg_latency_ms=50, error_rate=0.3)
    [fired] = engine.evaluate()
    assert {d.channel: d.ok for d in fired.deliveries} == {"log": True, "email": True, "slack": True}
    assert smtp_auth_server.box.logins == ["alerts@example.com"]
    assert slack_receiver.posts[0]["path"].endswith(TOKEN)

    slack_receiver.status = 410  # the hook was revoked; the receiver's answer echoes the secret path
    clock.advance(minutes=10)
    write_health(paths, clock.now, avg_latency_ms=50, error_rate=0.0)
    [resolved] = engine.evaluate()
    assert resolved.event == "resolved"
    slack = next(d for d in resolved.deliveries if d.channel == "slack")
    assert not slack.ok and "410" in slack.error
    engine.close()

    conn = connect(paths.monitor_db, readonly=True)
    dump = "\n".join(conn.iterdump())
    conn.close()
    assert "410" in dump  # the failure is recorded ...
    texts = {"alerts.log": paths.alerts_log.read_text(), "monitor.db": dump,
             "captured logs": "\n".join(r.getMessage() for r in caplog.records), "repr": repr(config)}
    for where, text in texts.items():
        assert PASSWORD not in text, where  # ... but never a secret
        assert TOKEN not in text, where


def test_cli_check_list_and_test(paths, smtp_server, slack_receiver, monkeypatch):
    monkeypatch.setenv("RECSYS_SLACK_WEBHOOK_URL", slack_receiver.url())
    monkeypatch.delenv("RECSYS_SMTP_PASSWORD", raising=False)
    rules = [{"name": "high_latency", "metric": "avg_latency_ms", "threshold": 200, "window": "5min",
              "severity": "warning", "action": "email+slack"}]
    write_config(paths, smtp_server.port, rules=rules)
    runner = CliRunner()
    home = ["--home", str(paths.root)]

    from datetime import UTC, datetime

    write_health(paths, datetime.now(UTC), avg_latency_ms=700)
    result = runner.invoke(cli, [*home, "alerts", "check"])
    assert result.exit_code == 0, result.output
    assert "high_latency" in result.output and "firing" in result.output and "[slack: ok]" in result.output
    assert smtp_server.box.messages == []  # email not enabled: no password and no `enabled: true`
    assert len(slack_receiver.posts) == 1

    result = runner.invoke(cli, [*home, "alerts", "list"])
    assert result.exit_code == 0 and "open: 1" in result.output and "high_latency" in result.output

    result = runner.invoke(cli, [*home, "alerts", "test", "--channel", "slack"])
    assert result.exit_code == 0 and "slack: ok" in result.output
    assert slack_receiver.posts[-1]["json"]["text"].startswith("*[WARNING] Test alert*")

    result = runner.invoke(cli, [*home, "alerts", "test", "--channel", "email"])
    assert result.exit_code != 0 and "RECSYS_SMTP_PASSWORD" in result.output

    raw = yaml.safe_load(default_config_path(paths).read_text())
    raw["email"]["enabled"] = True
    default_config_path(paths).write_text(yaml.safe_dump(raw))
    result = runner.invoke(cli, [*home, "alerts", "test", "--channel", "email"])
    assert result.exit_code == 0 and "email: ok" in result.output
    assert smtp_server.box.messages[-1]["Subject"] == "[WARNING] Test alert"

    slack_receiver.status = 500
    result = runner.invoke(cli, [*home, "alerts", "test", "--channel", "slack"])
    assert result.exit_code == 1 and "FAILED" in result.output


def test_cli_reports_a_bad_config_in_one_line(paths):
    default_config_path(paths).parent.mkdir(parents=True, exist_ok=True)
    default_config_path(paths).write_text(yaml.safe_dump({"alerts": [
        {"name": "oops", "metric": "latency", "threshold": 1, "window": "5min", "severity": "info", "action": "log"},
    ]}))
    result = CliRunner().invoke(cli, ["--home", str(paths.root), "alerts", "check"])
    assert result.exit_code == 1
    assert "entry 'oops'" in result.output and "field 'metric'" in result.output
    assert "Traceback" not in result.output
