"""Shared fixtures: every test gets its own project root in a temp dir, never the checkout's logs/."""

from __future__ import annotations

import pytest

from recsys.paths import ProjectPaths


@pytest.fixture
def paths(tmp_path, monkeypatch) -> ProjectPaths:
    """A fresh project root under tmp_path, also exported as RECSYS_HOME."""
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path))
    return ProjectPaths.from_env(tmp_path)
