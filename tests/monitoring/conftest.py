"""Fixtures of the drift and retrain tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator per test."""
    return np.random.default_rng(20250303)
