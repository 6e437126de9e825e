"""Fixtures of the dashboard tests: the current time and a project whose stores are filled by hand."""

from __future__ import annotations

from datetime import datetime

import pytest
from dash_stores import fill_all

from recsys.clock import utc_now
from recsys.paths import ProjectPaths


@pytest.fixture
def now() -> datetime:
    return utc_now()


@pytest.fixture
def filled(paths: ProjectPaths, now: datetime) -> ProjectPaths:
    """A project whose every store holds the hand-made figures above."""
    fill_all(paths, now)
    return paths
