"""recsys: a collaborative-filtering recommender that monitors itself."""

__version__ = "0.1.0"
