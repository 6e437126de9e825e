"""The dashboard's queries: read-only, parameterised, time ranges from an injected ``now``; DataFrames out."""

from recsys.dashboard.queries._db import read_frame, window

__all__ = ["read_frame", "window"]
