"""Fixtures for registry tests: fake artifacts directories and a fake clock."""

from __future__ import annotations

import pytest
from registry_helpers import FakeClock, make_artifacts, metrics

from recsys.cf.registry import ModelRegistry


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(paths, clock) -> ModelRegistry:
    return ModelRegistry(paths=paths, clock=clock)


@pytest.fixture
def add(paths, registry):
    """``add('als', 'v1_20250115_103000', 0.18)`` → registered model id."""

    def _add(model_type: str, name: str, ndcg: float, **kwargs) -> str:
        directory = make_artifacts(paths, model_type, name)
        return registry.register_model(directory, model_type, {"factors": 64}, metrics(ndcg), **kwargs)

    return _add
