"""The model registry (``artifacts/cf/registry.json``): registered models, the current best, its audit trail."""

from recsys.cf.registry._registry import ModelRegistry

__all__ = ["ModelRegistry"]
