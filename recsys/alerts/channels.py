"""Alert channels: email (SMTP), Slack (incoming webhook) and the alerts log file.

A channel's ``send`` raises on failure; ``deliver`` wraps it with retries and exponential backoff
and turns the outcome into a ``DeliveryResult`` (secrets scrubbed from the error text), and
``deliver_all`` runs the channels side by side so one that is down never holds up the others.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from recsys.logfmt import file_logger, format_fields

LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


@runtime_checkable
class Channel(Protocol):
    """Something that can carry an alert; ``send`` raises when delivery fails."""

    name: str

    def send(self, subject: str, message: str, severity: str) -> None:
        """Deliver one alert or raise."""


@dataclass(frozen=True)
class DeliveryResult:
    """How one channel's delivery of one alert went."""

    channel: str
    ok: bool
    error: str | None
    attempts: int

    def as_dict(self) -> dict:
        """Plain dict (for JSON)."""
        return asdict(self)


def tagged_subject(subject: str, severity: str) -> str:
    """``[WARNING] high_latency``: the subject every channel shows."""
    return f"[{severity.upper()}] {subject}"


class EmailChannel:
    """Mail over SMTP: STARTTLS when the server offers it, login only when a password is set."""

    name = "email"

    def __init__(
        self,
        smtp_server: str,
        smtp_port: int,
        sender: str,
        recipients: Sequence[str],
        *,
        username: str | None = None,
        password: SecretStr | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        allow_plaintext_login: bool = False,
    ):
        self.smtp_server, self.smtp_port = smtp_server, int(smtp_port)
        self.sender, self.recipients = sender, list(recipients)
        self.username, self._password = username, password
        self.timeout, self.ssl_context = timeout, ssl_context
        self.allow_plaintext_login = allow_plaintext_login

    @classmethod
    def from_config(cls, config, *, timeout: float = 10.0, ssl_context: ssl.SSLContext | None = None) -> EmailChannel:
        """A channel from an ``EmailConfig`` (password taken from the environment at load time)."""
        return cls(
            config.smtp_server, config.smtp_port, config.sender, config.recipients, username=config.username,
            password=config.password, timeout=timeout, ssl_context=ssl_context,
            allow_plaintext_login=config.plaintext_login_ok,
        )

    def secret_values(self) -> tuple[str, ...]:
        """Values that must never appear in an error text."""
        return (self._password.get_secret_value(),) if self._password else ()

    def send(self, subject: str, message: str, severity: str) -> None:
        """Send one mail to every recipient."""
        mail = EmailMessage()
        mail["Subject"] = tagged_subject(subject, severity)
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        mail["X-Recsys-Severity"] = severity
        mail.set_content(message)
        with smtplib.SMTP(self.smtp_server, self.smtp_port, timeout=self.timeout) as server:
            server.ehlo()
            encrypted = False
            if server.has_extn("starttls"):
                server.starttls(context=self.ssl_context or ssl.create_default_context())
                server.ehlo()
                encrypted = True
            if self._password is not None:
                if not encrypted and not self.allow_plaintext_login:
                    raise smtplib.SMTPException(
                        "server offers no STARTTLS; refusing to send the password unencrypted"
                    )
                server.login(self.username or self.sender, self._password.get_secret_value())
            server.send_message(mail)


class SlackChannel:
    """A Slack incoming webhook: POST ``{"text": "*[SEVERITY] subject*\\nmessage"}``."""

    name = "slack"

    def __init__(self, webhook: SecretStr, *, timeout: float = 10.0):
        self._webhook, self.timeout = webhook, timeout

    def secret_values(self) -> tuple[str, ...]:
        """Values that must never appear in an error text: the URL, its path and its longer path parts."""
        url = self._webhook.get_secret_value()
        path = urlsplit(url).path
        parts = tuple(part for part in path.split("/") if len(part) >= 8)
        return (url, path, *parts) if len(path) > 1 else (url, *parts)

    def send(self, subject: str, message: str, severity: str) -> None:
        """Post one message; any non-2xx answer is a failure."""
        payload = {"text": f"*{tagged_subject(subject, severity)}*\n{message}"}
        request = httpx.Request("POST", self._webhook.get_secret_value(), json=payload)
        request.extensions["timeout"] = httpx.Timeout(self.timeout).as_dict()
        # A transport, not httpx.Client: the client logs every request URL at INFO, and the webhook URL
        # is the secret.
        with httpx.HTTPTransport(retries=0) as transport:
            response = transport.handle_request(request)
            try:
                body = response.read().decode("utf-8", "replace")
            finally:
                response.close()
        if response.status_code >= 300:
            raise RuntimeError(f"webhook answered HTTP {response.status_code}: {body[:200]}")


class LogChannel:
    """Appends every alert to ``logs/service/alerts.log`` in the spec's line format."""

    name = "log"

    def __init__(self, path: Path):
        self.path = Path(path)
        self._logger = file_logger(f"recsys.alerts.{self.path.resolve()}", self.path)

    def send(self, subject: str, message: str, severity: str) -> None:
        """One line: ``<time> | WARNING | Alert | subject=..., severity=..., message=...``."""
        text = format_fields({"subject": subject, "severity": severity, "message": _one_line(message)})
        self.record(severity, f"Alert | {text}")

    def record(self, severity: str, text: str) -> None:
        """Write one line at the level matching ``severity``."""
        self._logger.log(LEVELS.get(severity, logging.INFO), _one_line(text))
        for handler in self._logger.handlers:
            handler.flush()


def _one_line(text: str) -> str:
    return " / ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def deliver(
    channel: Channel,
    subject: str,
    message: str,
    severity: str,
    *,
    attempts: int = 3,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Send through ``channel`` with up to ``attempts`` tries (waits backoff, 2×backoff, ...); never raises."""
    secrets = channel.secret_values() if hasattr(channel, "secret_values") else ()
    error = None
    for attempt in range(1, attempts + 1):
        try:
            channel.send(subject, message, severity)
            return DeliveryResult(channel.name, True, None, attempt)
        except Exception as exc:  # any failure of a channel is a recorded delivery failure
            error = _scrub(f"{type(exc).__name__}: {exc}", secrets)
            if attempt < attempts:
                sleep(backoff_seconds * 2 ** (attempt - 1))
    return DeliveryResult(channel.name, False, error, attempts)


def deliver_all(
    channels: Sequence[Channel],
    subject: str,
    message: str,
    severity: str,
    *,
    attempts: int = 3,
    backoff_seconds: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryResult]:
    """``deliver`` on every channel in parallel; results in the channels' order."""
    if not channels:
        return []
    with ThreadPoolExecutor(max_workers=len(channels), thread_name_prefix="alert-delivery") as pool:
        futures = [
            pool.submit(deliver, channel, subject, message, severity,
                        attempts=attempts, backoff_seconds=backoff_seconds, sleep=sleep)
            for channel in channels
        ]
        return [future.result() for future in futures]
