"""The recommendation service: FastAPI app (``app``), request monitoring, aggregation jobs.

Entry points: ``recsys.service.app.create_app`` and ``recsys serve``.
"""
