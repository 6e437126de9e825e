"""Fixtures: a project with a registered tiny ALS model and a product catalogue."""

from __future__ import annotations

import pytest
from service_helpers import register, save_tiny_model, tiny_data, write_products


@pytest.fixture
def data():
    return tiny_data()


@pytest.fixture
def project(paths, data):
    """``paths`` with products and one registered, selected model; returns (paths, model_id)."""
    write_products(paths, data.item_ids)
    model_id = register(paths, save_tiny_model(paths, data), 0.2)
    return paths, model_id
