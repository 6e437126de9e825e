"""The recommendation service: ``create_app(paths)`` builds a FastAPI app with its own state (no globals).

Endpoints: ``POST /recommend``, ``POST /feedback``, ``GET /health``, ``GET /model``, ``GET /metrics``,
``POST /admin/reload``, ``POST /admin/rollback``. Each request to ``/recommend`` is recorded by
its handler (where user, model and result are known): a ``requests`` row through the background
writer, a log line through the log queue, Prometheus counts in memory. Nothing on the request
path touches SQLite or a file.
"""

from __future__ import annotations

import hmac
import json
import time
from contextlib import asynccontextmanager
from logging import INFO, WARNING
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from recsys.cf.registry._loader import ModelLoader
from recsys.clock import Clock, utc_now
from recsys.errors import RecsysError
from recsys.paths import ProjectPaths
from recsys.service.api import ErrorResponse, FeedbackRequest, FeedbackResponse, RecommendRequest, RecommendResponse
from recsys.service.http_errors import http_error, validation_error
from recsys.service.metrics import ServiceMetrics
from recsys.service.middleware import REQUEST_ID_KEY, ServiceMiddleware
from recsys.service.request_log import RequestLogWriter
from recsys.service.rerank import Reranker
from recsys.service.service_log import ServiceLog
from recsys.service.serving import FALLBACK_POPULARITY, Recommendation, ServingModel
from recsys.service.settings import ServiceSettings
from recsys.service.state import ServiceState, event_dict

ENDPOINTS = ("/recommend", "/feedback", "/health", "/model", "/metrics", "/admin/reload", "/admin/rollback",
             "/openapi.json", "/docs")
_ERRORS = {500: {"model": ErrorResponse, "description": "Internal error (the trace is in the service log)"},
           503: {"model": ErrorResponse, "description": "No model can be served"}}
_bearer = HTTPBearer(auto_error=False, description="RECSYS_ADMIN_TOKEN")


def create_app(paths: ProjectPaths | None = None, *, loader: ModelLoader | None = None,
               settings: ServiceSettings | None = None, reranker: Reranker | None = None,
               registry: Any = None, clock: Clock = utc_now, metrics: ServiceMetrics | None = None) -> FastAPI:
    """A service app over ``paths``; it loads the registry's current best when it starts (lifespan).

    ``loader`` (default: a ``ModelLoader`` over ``registry``, default ``ModelRegistry(paths)``),
    ``settings`` (default: ``ServiceSettings.from_env()``), ``reranker`` (the embeddings seam) and
    ``metrics`` (default: fresh, in its own ``CollectorRegistry``) are passed in; nothing is global.
    """
    paths = paths or ProjectPaths.from_env()
    settings = settings or ServiceSettings.from_env()
    metrics = metrics or ServiceMetrics()
    service_log = ServiceLog(paths.service_log, console=settings.console_log,
                             on_lost=lambda n: metrics.service_log_lines_lost.inc(n))
    owns_loader = loader is None
    if loader is None:
        loader = ModelLoader(registry, paths=paths, watch_interval=settings.watch_interval,
                             retry_failed_after=settings.retry_failed_after, clock=clock,
                             logger=service_log.logger, events_db=paths.service_db)
    writer = RequestLogWriter(paths.service_db, max_queue=settings.log_queue_size,
                              flush_interval=settings.log_flush_interval, logger=service_log.logger,
                              on_drop=lambda n: metrics.request_log_dropped.inc(n),
                              on_write_error=metrics.request_log_write_errors.inc,
                              drop_warning_interval=settings.drop_warning_interval)
    state = ServiceState(paths=paths, settings=settings, clock=clock, service_log=service_log, loader=loader,
                         owns_loader=owns_loader, writer=writer, metrics=metrics, reranker=reranker)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(state.start)
        await state.start_background()
        try:
            yield
        finally:
            await state.stop_background()
            await run_in_threadpool(state.stop)

    app = FastAPI(title="recsys recommendation service", version="1.0", lifespan=lifespan)
    app.state.service = state
    _routes(app, state)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)

    def on_error(endpoint: str, request_id: str, exc: BaseException) -> None:
        if state.monitoring:
            metrics.errors.labels(endpoint).inc()

    app.add_middleware(ServiceMiddleware, endpoints=ENDPOINTS, max_body_bytes=settings.max_body_bytes,
                       metrics=metrics if settings.monitoring else None, logger=lambda: state.logger,
                       on_error=on_error)
    return app


def _routes(app: FastAPI, state: ServiceState) -> None:
    settings, metrics, loader = state.settings, state.metrics, state.loader

    @app.post("/recommend", response_model=RecommendResponse, responses=_ERRORS)
    async def recommend(body: RecommendRequest, request: Request) -> Response:
        """Top-k products for a user: CF for known users, popularity for cold-start users; filters apply."""
        request_id = request.scope.get(REQUEST_ID_KEY) or ""
        started = time.perf_counter()
        model, cache_hit, reload_triggered = loader.acquire()
        try:
            if model is None:
                raise _NoModel()
            result, reranked, quality = _recommend(state, model, body)
            latency_ms = (time.perf_counter() - started) * 1000
            content = _answer(body, result, model, latency_ms, request_id, reranked)
        except Exception as exc:
            latency_ms = (time.perf_counter() - started) * 1000
            unavailable = isinstance(exc, _NoModel)
            if unavailable:
                state.logger.error("Recommendation failed | user_id=%d, error=%s", body.user_id, exc.reason)
            else:
                state.logger.error("Recommendation failed | user_id=%d, error=%s, request_id=%s", body.user_id,
                                   type(exc).__name__, request_id, exc_info=True)
            if state.monitoring:
                metrics.errors.labels("/recommend").inc()
                _record(state, body, request_id, latency_ms, None, model, cache_hit, reload_triggered,
                        error=exc.reason if unavailable else f"{type(exc).__name__}: {exc}"[:500])
            status = 503 if unavailable else 500
            detail = exc.reason if unavailable else "internal server error"
            return JSONResponse({"detail": detail, "request_id": request_id}, status_code=status)
        if state.monitoring:
            _record(state, body, request_id, latency_ms, result, model, cache_hit, reload_triggered, quality=quality,
                    reranked=reranked)
        return Response(content, media_type="application/json")

    @app.post("/feedback", response_model=FeedbackResponse, status_code=202, responses=_ERRORS)
    async def feedback(body: FeedbackRequest, request: Request) -> JSONResponse:
        """Record what a user did with a recommendation (impression, click, purchase)."""
        request_id = request.scope.get(REQUEST_ID_KEY) or ""
        row = (time.time(), body.request_id, body.user_id, body.product_id, body.event)
        if not state.writer.submit_feedback(row):
            return JSONResponse({"detail": "feedback queue is full, retry later", "request_id": request_id},
                                status_code=503)
        return JSONResponse({"status": "accepted", "request_id": request_id}, status_code=202)

    @app.get("/health")
    async def health() -> JSONResponse:
        """Service status, serving model, uptime and request-log queue depth (503 when nothing can be served)."""
        report = state.health()
        return JSONResponse(report, status_code=503 if report["status"] == "unavailable" else 200)

    @app.get("/model")
    async def model_info() -> dict:
        """The serving model and the loader's statistics."""
        return {"model": loader.get_model_info(), "loader": loader.get_stats()}

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus exposition of the service metrics."""
        body, content_type = metrics.exposition()
        return Response(body, media_type=content_type)

    def require_admin(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:
        token = settings.admin_token
        if token is None:
            raise HTTPException(404, "admin endpoints are disabled: set RECSYS_ADMIN_TOKEN to enable them")
        given = credentials.credentials.encode() if credentials is not None else b""
        if not hmac.compare_digest(given, token.get_secret_value().encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.post("/admin/reload", dependencies=[Depends(require_admin)])
    async def admin_reload() -> JSONResponse:
        """Load the registry's current best now (re-reading its artifacts); 409 if that fails."""
        event = await run_in_threadpool(loader.reload, "admin", force=True)
        return JSONResponse(event_dict(event), status_code=409 if event.status == "failed" else 200)

    @app.post("/admin/rollback", dependencies=[Depends(require_admin)])
    async def admin_rollback() -> JSONResponse:
        """Roll the registry back to the previous best and serve it; 409 if either step fails."""
        try:
            outcome = await run_in_threadpool(loader.registry.rollback)
        except RecsysError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=409)
        event = await run_in_threadpool(loader.reload, "rollback")
        state.logger.warning("Rollback | from=%s, to=%s, reload=%s", outcome.get("previous_best_id"),
                             outcome.get("model_id"), event.status)
        body = {"rolled_back_from": outcome.get("previous_best_id"), "model_id": outcome.get("model_id"),
                "reload": event_dict(event)}
        return JSONResponse(body, status_code=409 if event.status == "failed" else 200)


def _answer(body: RecommendRequest, result: Recommendation, model: ServingModel, latency_ms: float,
            request_id: str, reranked: bool) -> bytes:
    """The JSON body of a ``RecommendResponse`` (built directly: this runs per request)."""
    ids = result.product_ids.tolist()
    scores = result.scores.tolist()
    payload = {
        "user_id": body.user_id,
        "recommendations": [{"product_id": pid, "score": score, "rank": rank}
                            for rank, (pid, score) in enumerate(zip(ids, scores, strict=True), start=1)],
        "count": len(ids), "is_fallback": result.is_fallback, "fallback_method": result.fallback_method,
        "latency_ms": round(latency_ms, 3), "model_id": model.model_id, "model_version": model.version,
        "request_id": request_id, "reranked": reranked,
    }
    return json.dumps(payload, allow_nan=False).encode()


class _NoModel(Exception):
    reason = "no model is loaded (no current best in the registry and no product catalogue)"


def _recommend(state: ServiceState, model: ServingModel, body: RecommendRequest
               ) -> tuple[Recommendation, bool, tuple[float | None, float | None, float | None]]:
    """(result, reranked, (content_score, semantic_alignment, diversity)) for one valid request."""
    item_filter = body.filter_params.to_filter() if body.filter_params is not None else None
    reranker = state.reranker
    rerank = body.rerank and reranker is not None
    k = body.topk * state.settings.rerank_candidates if rerank else body.topk
    result = model.recommend(body.user_id, k, exclude_seen=body.exclude_seen, item_filter=item_filter)
    if reranker is None or not (rerank or state.monitoring):
        return result, False, (None, None, None)
    history = model.history(body.user_id)
    if not rerank:
        return result, False, reranker.measure(result.product_ids, history)
    outcome = reranker.rerank(result.product_ids, result.scores, history, body.topk,
                              model.popularity[result.indices])
    reranked = Recommendation(outcome.product_ids, outcome.scores, result.is_fallback, result.fallback_method)
    return reranked, True, (outcome.content_score, outcome.semantic_alignment, outcome.diversity)


def _record(state: ServiceState, body: RecommendRequest, request_id: str, latency_ms: float,
            result: Recommendation | None, model: ServingModel | None, cache_hit: bool, reload_triggered: bool,
            *, error: str | None = None, quality: tuple = (None, None, None), reranked: bool = False) -> None:
    """One ``requests`` row, the log line(s) and the fallback count for a request."""
    filters = body.filter_params.model_dump_json(exclude_none=True) if body.filter_params is not None else None
    fallback = result.is_fallback if result is not None else None
    method = result.fallback_method if result is not None else None
    state.writer.submit_request((
        time.time(), body.user_id, body.topk, body.exclude_seen, filters, latency_ms,
        len(result.product_ids) if result is not None else 0, fallback, method, error,
        model.model_id if model is not None else None, model.version if model is not None else None,
        cache_hit, reload_triggered, request_id, reranked, *quality,
    ))
    if result is None:
        return
    if fallback:
        state.metrics.count_fallback(method)
    # One line per request, as in the spec's sample: a cold-start user's request is its WARNING line.
    if method == FALLBACK_POPULARITY:
        state.service_log.fast(WARNING, "Cold-start | user_id=%d, fallback=True, topk=%d, latency=%.6fs",
                               body.user_id, body.topk, latency_ms / 1000)
    else:
        state.service_log.fast(INFO, "Request | user_id=%d, topk=%d, latency=%.6fs, fallback=%s", body.user_id,
                               body.topk, latency_ms / 1000, bool(fallback))


def app_from_env() -> FastAPI:
    """The app for ``$RECSYS_HOME`` with settings from the environment (uvicorn's factory for workers).

    With content embeddings in the project, ``rerank=true`` blends them in and every request's list
    is measured (content score, alignment, diversity); without, the service is pure CF.
    """
    from recsys.embeddings.service_reranker import content_reranker_for

    paths = ProjectPaths.from_env()
    return create_app(paths, reranker=content_reranker_for(paths))
