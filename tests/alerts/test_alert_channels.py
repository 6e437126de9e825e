"""Channels against real loopback servers: SMTP (plain, STARTTLS, AUTH), a webhook receiver, the log file."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import time

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from recsys.alerts.channels import EmailChannel, LogChannel, SlackChannel, deliver
from recsys.alerts.config import parse_alerts_config
from recsys.alerts.notify import dispatch, send_alert
from recsys.testing.loopback import MailBox, alerts_config, free_port


def test_email_subject_carries_severity_and_goes_to_every_recipient(smtp_server):
    channel = EmailChannel("127.0.0.1", smtp_server.port, "alerts@example.com", ["a@example.com", "b@example.com"])
    channel.send("Data Drift Detected", "Rating distribution has shifted.", "info")
    [mail] = smtp_server.box.messages
    assert mail["Subject"] == "[INFO] Data Drift Detected"
    assert mail["From"] == "alerts@example.com" and mail["To"] == "a@example.com, b@example.com"
    assert mail.get_content().strip() == "Rating distribution has shifted."
    assert smtp_server.box.tls == [False] and smtp_server.box.logins == []  # no STARTTLS offered, no password


def test_login_only_with_a_password(smtp_auth_server):
    channel = EmailChannel("127.0.0.1", smtp_auth_server.port, "alerts@example.com", ["t@example.com"],
                           password=SecretStr("s3cr3t-smtp-pw"), allow_plaintext_login=True)
    channel.send("s", "m", "warning")
    assert smtp_auth_server.box.logins == ["alerts@example.com"]
    wrong = EmailChannel("127.0.0.1", smtp_auth_server.port, "alerts@example.com", ["t@example.com"],
                         password=SecretStr("nope"), allow_plaintext_login=True)
    result = deliver(wrong, "s", "m", "warning", attempts=2, backoff_seconds=0)
    assert not result.ok and "Authentication" in result.error and result.attempts == 2


def test_password_is_not_sent_unencrypted_to_a_remote_looking_server(smtp_auth_server):
    channel = EmailChannel("127.0.0.1", smtp_auth_server.port, "alerts@example.com", ["t@example.com"],
                           password=SecretStr("s3cr3t-smtp-pw"), allow_plaintext_login=False)
    result = deliver(channel, "s", "m", "warning", attempts=1)
    assert not result.ok and "unencrypted" in result.error
    assert smtp_auth_server.box.logins == [] and smtp_auth_server.box.messages == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a test certificate")
def test_starttls_is_used_when_offered_and_login_happens_inside_it(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    box = MailBox(password="s3cr3t-smtp-pw")
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), tls_context=server_tls,
                            authenticator=box.authenticate, auth_require_tls=True)
    controller.start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))
        channel = EmailChannel("127.0.0.1", controller.port, "alerts@example.com", ["t@example.com"],
                               password=SecretStr("s3cr3t-smtp-pw"), ssl_context=client_tls)
        channel.send("over tls", "m", "critical")
    finally:
        controller.stop()
    assert box.tls == [True] and box.logins == ["alerts@example.com"]
    assert box.messages[0]["Subject"] == "[CRITICAL] over tls"


def test_slack_payload_and_retry_with_backoff(slack_receiver):
    slack_receiver.statuses = [500, 503]
    waits = []
    channel = SlackChannel(SecretStr(slack_receiver.url()))
    result = deliver(channel, "high_error_rate", "error_rate = 0.2", "critical", attempts=3, backoff_seconds=0.5,
                     sleep=waits.append)
    assert result.ok and result.attempts == 3
    assert waits == [0.5, 1.0]  # exponential backoff
    assert [p["json"] for p in slack_receiver.posts][-1] == {"text": "*[CRITICAL] high_error_rate*\nerror_rate = 0.2"}


def test_slack_failure_text_never_contains_the_webhook(slack_receiver):
    secret_path = "/services/T0/B0/SECRETTOKEN123"
    slack_receiver.status = 404  # the receiver echoes the path, as some servers do
    result = deliver(SlackChannel(SecretStr(slack_receiver.url(secret_path))), "s", "m", "warning",
                     attempts=1)
    assert not result.ok and "404" in result.error
    assert "SECRETTOKEN123" not in result.error


def test_log_channel_writes_the_spec_line_format(paths):
    LogChannel(paths.alerts_log).send("high_latency", "avg_latency_ms = 250\nsecond line", "critical")
    [line] = paths.alerts_log.read_text().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| CRITICAL \| Alert \| subject=high_latency, severity=critical, "
        r"message=avg_latency_ms = 250 / second line",
        line,
    )


def test_send_alert_email_always_slack_only_for_warning_and_critical(paths, smtp_server, slack_receiver):
    config = parse_alerts_config(alerts_config(smtp_port=smtp_server.port, webhook=slack_receiver.url()), env={})
    info = send_alert("Data Drift Detected", "m", config=config, paths=paths)
    assert [r.channel for r in info] == ["log", "email"] and all(r.ok for r in info)
    assert slack_receiver.posts == []
    critical = send_alert("Registry unhealthy", "m", "critical", config=config, paths=paths)
    assert [r.channel for r in critical] == ["log", "email", "slack"] and all(r.ok for r in critical)
    assert [m["Subject"] for m in smtp_server.box.messages] == ["[INFO] Data Drift Detected",
                                                                 "[CRITICAL] Registry unhealthy"]
    assert len(slack_receiver.posts) == 1
    with pytest.raises(ValueError):
        send_alert("x", "y", "urgent", config=config, paths=paths)


def test_send_alert_without_email_or_slack_goes_to_the_log(paths):
    results = send_alert("Model Retrain Triggered", "Reasons: drift", "warning",
                         config=parse_alerts_config({}, env={}), paths=paths)
    assert [(r.channel, r.ok) for r in results] == [("log", True)]
    assert "subject=Model Retrain Triggered" in paths.alerts_log.read_text()


def test_a_slow_failing_channel_does_not_hold_up_the_others(paths, slack_receiver):
    class Stuck:
        name = "email"

        def send(self, subject, message, severity):
            time.sleep(0.4)
            raise TimeoutError("smtp server not answering")

    config = parse_alerts_config(alerts_config(attempts=2), env={})
    started = time.monotonic()
    results = dispatch([LogChannel(paths.alerts_log), Stuck(), SlackChannel(SecretStr(slack_receiver.url()))],
                       "s", "m", "warning", config=config)
    assert slack_receiver.posts[0]["at"] - started < 0.3  # delivered while the stuck channel was still trying
    assert [(r.channel, r.ok) for r in results] == [("log", True), ("email", False), ("slack", True)]
    assert "smtp server not answering" in paths.alerts_log.read_text()
