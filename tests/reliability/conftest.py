"""Reliability suite: the real service on loopback under load, crashes, faults and bad input (all slow).

Helpers come from ``recsys.testing`` and the shared fixtures from ``tests/conftest.py``. Measured
figures (rates, rows lost, latencies) are collected in ``figures`` and printed at the end of the run.
"""

from __future__ import annotations

import pytest

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
