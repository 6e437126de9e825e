"""Generated data sets shared by the data tests (generated once per session; tests copy before changing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from recsys.data.dataset import prepare
from recsys.data.generate import GenerateConfig, generate

END = datetime(2025, 6, 1, tzinfo=UTC)
NOW = datetime(2025, 6, 2, tzinfo=UTC)


@pytest.fixture(scope="session")
def tiny_raw():
    """Raw (interactions, products) of the tiny preset."""
    return generate(GenerateConfig(preset="tiny", seed=3, end=END), progress=False)


@pytest.fixture(scope="session")
def tiny_prepared(tiny_raw):
    """The tiny preset after ``prepare``."""
    return prepare(*tiny_raw)


@pytest.fixture(scope="session")
def small_prepared():
    """The small preset (the default data set) after ``prepare``."""
    return prepare(*generate(GenerateConfig(preset="small", seed=5, end=END), progress=False))
