"""Reliability suite: the real service on loopback under load, crashes, faults and bad input (all slow).

The helpers of the service and alert tests are reused (``service_helpers``, ``loopback``); their
directories are put on ``sys.path`` so this directory also runs alone. Measured figures (rates,
rows lost, latencies) are collected in ``figures`` and printed at the end of the run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for helpers in ("service", "alerts"):
    if str(TESTS / helpers) not in sys.path:
        sys.path.insert(0, str(TESTS / helpers))

from service_helpers import register, save_tiny_model, tiny_data, write_products  # noqa: E402

_FIGURES: dict[str, dict] = {}


@pytest.fixture
def figures(request) -> dict:
    """A dict the test fills with measured figures; printed under 'reliability figures' at the end."""
    return _FIGURES.setdefault(request.node.name, {})


def pytest_terminal_summary(terminalreporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("reliability figures")
    for test, values in _FIGURES.items():
        if values:
            terminalreporter.write_line(f"{test}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


@pytest.fixture
def data():
    return tiny_data()


@pytest.fixture
def project(paths, data):
    """``paths`` with products and one registered, selected tiny ALS model; returns (paths, model_id)."""
    write_products(paths, data.item_ids)
    model_id = register(paths, save_tiny_model(paths, data), 0.2)
    return paths, model_id
