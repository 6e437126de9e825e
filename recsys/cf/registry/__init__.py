"""The model registry (``artifacts/cf/registry.json``): registered models, the current best, its audit trail."""

from recsys.cf.registry._loader import ModelLoader, log_loader_stats
from recsys.cf.registry._registry import ModelRegistry

__all__ = ["ModelLoader", "ModelRegistry", "log_loader_stats"]
