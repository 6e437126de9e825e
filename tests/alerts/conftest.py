"""Fixtures of the alert tests: real loopback servers, a fake clock."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from recsys.testing.loopback import FakeClock, MailBox, free_port


@pytest.fixture
def smtp_auth_server():
    """A real SMTP server on 127.0.0.1 that offers AUTH and accepts the password 's3cr3t-smtp-pw'."""
    box = MailBox(password="s3cr3t-smtp-pw")
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), authenticator=box.authenticate,
                            auth_require_tls=False)
    controller.start()
    controller.box = box
    yield controller
    controller.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused at once)."""
    return free_port()
