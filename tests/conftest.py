"""Shared fixtures: every test gets its own project root in a temp dir, never the checkout's logs/."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from recsys.paths import ProjectPaths
from recsys.testing.loopback import MailBox, WebhookReceiver, free_port
from recsys.testing.service import register, save_tiny_model, tiny_data, write_products


@pytest.fixture
def paths(tmp_path, monkeypatch) -> ProjectPaths:
    """A fresh project root under tmp_path, also exported as RECSYS_HOME."""
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path))
    return ProjectPaths.from_env(tmp_path)


@pytest.fixture
def data():
    """A tiny interaction matrix with raw ids (users 1000.., items 500..)."""
    return tiny_data()


@pytest.fixture
def project(paths, data):
    """``paths`` with products and one registered, selected tiny ALS model; returns (paths, model_id)."""
    write_products(paths, data.item_ids)
    model_id = register(paths, save_tiny_model(paths, data), 0.2)
    return paths, model_id


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (no TLS, no AUTH); ``.box.messages`` holds what arrived."""
    box = MailBox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.box = box
    yield controller
    controller.stop()


@pytest.fixture
def slack_receiver():
    """A real HTTP server on 127.0.0.1 collecting webhook POSTs."""
    receiver = WebhookReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
