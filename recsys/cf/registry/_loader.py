"""``ModelLoader``: serves the registry's current best model and hot-reloads it when the registry changes.

The serving model is one immutable ``ServingModel`` reference. A reload builds the new model
completely in a background thread and then swaps the reference, so a request that already holds
the old model finishes on it and no request waits for a load. A reload that fails (missing or
broken artifacts, a corrupt registry) keeps the old model, logs an ERROR, records a
``model_reload_events`` row with status ``failed`` and tells the listeners (the service counts it).
If nothing was serving yet, the catalogue's popular products serve until a model loads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.cf.artifacts import load_artifacts
from recsys.clock import Clock, format_ts, utc_now
from recsys.db import connect
from recsys.errors import ModelLoadError, RecsysError
from recsys.paths import ProjectPaths
from recsys.service.schema import ensure_service_schema
from recsys.service.serving import ServingModel

PRODUCT_COLUMNS = ["product_id", "category", "brand", "price", "avg_rating", "num_ratings"]
TRIGGERS = ("startup", "watch", "admin", "rollback", "retry")
_INSERT_LOADER_STATS = (
    "INSERT OR REPLACE INTO model_loader_stats (timestamp, model_id, total_loads, cache_hits, cache_misses, "
    "cache_hit_rate, reload_count, last_load_time_ms, last_reload_at, worker_pid) VALUES (:timestamp, :model_id, "
    ":total_loads, :cache_hits, :cache_misses, :cache_hit_rate, :reload_count, :last_load_time_ms, "
    ":last_reload_at, :worker_pid)"
)


@dataclass(frozen=True)
class ReloadEvent:
    """One load attempt: what triggered it, which model was served before and after, and how it went."""

    timestamp: datetime
    trigger: str
    old_model_id: str | None
    new_model_id: str | None
    status: str  # 'ok', 'failed' or 'unchanged'
    error: str | None = None
    load_time_ms: float | None = None
    cache_hit: bool = False
    replaced: bool = False  # a model was serving before this one (a reload, not the first load)

    @property
    def changed(self) -> bool:
        """True if the serving model was swapped."""
        return self.status == "ok" and self.old_model_id != self.new_model_id


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    """(mtime_ns, inode, size): an atomic replace changes the inode even within one mtime tick."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_size)


class ModelLoader:
    """Loads the registry's current best (artifacts + product catalogue), caches it and watches the registry.

    ``registry`` is anything with ``get_current_best()`` and ``registry_path`` (default: a
    ``ModelRegistry`` of ``paths``). ``watch_interval`` seconds between polls of the registry file
    (0 disables the watcher thread; ``check_for_update()`` can still be called). ``events_db``
    receives a ``model_reload_events`` row per load attempt (default ``paths.service_db``; ``False``
    to record none).
    """

    def __init__(self, registry: Any = None, *, paths: ProjectPaths | None = None, watch_interval: float = 1.0,
                 cache_size: int = 2, retry_failed_after: float = 60.0, clock: Clock = utc_now,
                 logger: logging.Logger | None = None, events_db: str | os.PathLike | bool | None = None,
                 audit: bool = True, products_path: str | os.PathLike | None = None):
        self.paths = paths or ProjectPaths.from_env()
        if registry is None:
            from recsys.cf.registry import ModelRegistry

            registry = ModelRegistry(paths=self.paths)
        self.registry = registry
        self.registry_path = Path(getattr(registry, "registry_path", self.paths.registry_file))
        self.products_path = Path(products_path) if products_path else self.paths.products
        self.watch_interval = float(watch_interval)
        self.retry_failed_after = float(retry_failed_after)
        self.cache_size = max(1, int(cache_size))
        self.clock = clock
        self.logger = logger or logging.getLogger("recsys.cf.registry.loader")
        self.events_db = None if events_db is False else Path(events_db) if events_db else self.paths.service_db
        self.audit = audit

        self._current: ServingModel | None = None
        self._cache: OrderedDict[tuple, ServingModel] = OrderedDict()
        self._products: tuple[tuple | None, pd.DataFrame | None] | None = None
        self._load_lock = threading.RLock()  # one load at a time (watcher, admin, retry)
        self._count_lock = threading.Lock()
        self._listeners: list[Callable[[ReloadEvent], None]] = []
        self._seen_signature: tuple | None = None
        self._failed: tuple[tuple | None, float] | None = None  # (registry signature, monotonic time)
        self._announce = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False

        self.total_loads = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.reload_count = 0
        self.reload_failures = 0
        self.last_load_time_ms: float | None = None
        self.last_reload_at: datetime | None = None
        self.last_error: str | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> ModelLoader:
        """Load the current best now (a failure is recorded, not raised) and start the watcher thread."""
        with self._load_lock:
            if self._started:
                return self
            self._started = True
            self._stop.clear()
            self.reload("startup")
        if self.watch_interval > 0:
            self._thread = threading.Thread(target=self._watch, name="recsys-model-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the watcher thread (the loaded model stays usable)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.watch_interval * 2))
            self._thread = None
        self._started = False

    def add_listener(self, listener: Callable[[ReloadEvent], None]) -> None:
        """Call ``listener(event)`` after every load attempt (from the thread that loaded)."""
        self._listeners.append(listener)

    # --- the request path ---------------------------------------------------------------------
    def acquire(self) -> tuple[ServingModel | None, bool, bool]:
        """(model, cache_hit, reload_triggered) for one request; never loads, never blocks on a load.

        ``reload_triggered`` is True for the first request served after a model swap, which marks
        the switch in the request log.
        """
        model = self._current
        with self._count_lock:
            if model is None:
                self.cache_misses += 1
                return None, False, False
            self.cache_hits += 1
            announce, self._announce = self._announce, False
        return model, True, announce

    def get_model(self) -> ServingModel | None:
        """The serving model (counted as a cache hit), or None if none could be loaded."""
        return self.acquire()[0]

    @property
    def current(self) -> ServingModel | None:
        """The serving model without counting an access."""
        return self._current

    # --- reloading ----------------------------------------------------------------------------
    def check_for_update(self) -> ReloadEvent | None:
        """Reload if the registry file changed since the last look (or a failed load is due for a retry)."""
        signature = _file_signature(self.registry_path)
        if signature == self._seen_signature:
            failed = self._failed
            if failed is None or time.monotonic() - failed[1] < self.retry_failed_after:
                return None
            return self.reload("retry")
        return self.reload("watch")

    def reload(self, trigger: str = "admin", *, force: bool = False) -> ReloadEvent:
        """Serve the registry's current best now; ``force`` re-reads the artifacts even if cached.

        Never raises for a bad model: the returned event says ``failed`` and the old model stays.
        """
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, got {trigger!r}")
        with self._load_lock:
            signature = _file_signature(self.registry_path)
            old = self._current
            old_id = old.model_id if old is not None else None
            started = time.perf_counter()
            wanted: str | None = None
            try:
                best = self.registry.get_current_best() if signature is not None else None
                wanted = best["model_id"] if best else None
                model, cache_hit = self._model_for(best, old, force=force)
            except Exception as exc:  # whatever broke, the old model keeps serving
                if not isinstance(exc, RecsysError | OSError):
                    self.logger.error("Model load raised unexpectedly", exc_info=True)
                if old is None:
                    self._serve_catalogue(f"{type(exc).__name__}: {exc}")
                return self._failed_event(trigger, signature, old_id, wanted, f"{type(exc).__name__}: {exc}",
                                          (time.perf_counter() - started) * 1000)
            self._seen_signature = signature
            self._failed = None
            self.last_error = None
            if model is old and not force:
                return self._finish(ReloadEvent(self.clock(), trigger, old_id, old_id, "unchanged"), record=False)
            load_ms = (time.perf_counter() - started) * 1000
            event = ReloadEvent(self.clock(), trigger, old_id, model.model_id, "ok", load_time_ms=load_ms,
                                cache_hit=cache_hit, replaced=old is not None)
            self._current = model  # the swap: one reference assignment
            with self._count_lock:
                self._announce = old is not None
                if old is not None:
                    self.reload_count += 1
                    self.last_reload_at = event.timestamp
            if old is None:
                self.logger.info("Model loaded | model_id=%s, version=%s, type=%s, load_time_ms=%.1f",
                                 model.model_id, model.version, model.model_type, load_ms)
            else:
                self.logger.info("Model reloaded | old=%s, new=%s, trigger=%s, load_time_ms=%.1f",
                                 old_id, model.model_id, trigger, load_ms)
            return self._finish(event)

    def _serve_catalogue(self, reason: str) -> None:
        """Nothing serves yet and the registry's model cannot be loaded (a corrupt registry, missing artifacts
        at start-up): answer with the catalogue's popular products rather than 503 until a model loads."""
        try:
            model, _ = self._model_for(None, None, force=False)
        except Exception:  # no catalogue either: nothing can be served
            return
        self._current = model
        self.logger.warning("Serving popular products from the catalogue until a model loads | reason=%s", reason)

    def _failed_event(self, trigger: str, signature: tuple | None, old_id: str | None, wanted: str | None,
                      error: str, load_ms: float) -> ReloadEvent:
        event = ReloadEvent(self.clock(), trigger, old_id, wanted, "failed", error=error, load_time_ms=load_ms)
        self._seen_signature = signature
        self._failed = (signature, time.monotonic())  # retried when the registry changes or after a while
        with self._count_lock:
            self.reload_failures += 1
        self.last_error = error
        self.logger.error("Model reload failed | trigger=%s, model_id=%s, serving=%s, error=%s",
                          trigger, wanted, old_id, error)
        return self._finish(event)

    def _model_for(self, best: dict | None, old: ServingModel | None, *,
                   force: bool) -> tuple[ServingModel, bool]:
        """The ServingModel for registry entry ``best`` (None → catalogue-only), and whether it was cached."""
        if best is None and old is not None and old.artifacts is not None:
            # A registry that lost its best (deleted, reset) must not take a trained model out of service.
            raise ModelLoadError(f"the registry names no current best model; still serving {old.model_id}")
        products_signature = _file_signature(self.products_path)
        if best is None:
            key: tuple = ("<catalog>", None, products_signature)
        else:
            key = (best["model_id"], best["model_info"].get("path"), products_signature)
        if not force and key in self._cache:
            self._cache.move_to_end(key)
            with self._count_lock:
                self.cache_hits += 1
            return self._cache[key], True
        with self._count_lock:
            self.cache_misses += 1
        started = time.perf_counter()
        products = self._read_products(products_signature)
        now = self.clock()
        if best is None:
            if products is None:
                raise ModelLoadError("the registry names no current best model and there is no product "
                                     f"catalogue at {self.products_path}")
            model = ServingModel.from_catalog(products, loaded_at=now)
        else:
            info = best["model_info"]
            artifacts = load_artifacts(info["path"])
            model = ServingModel.from_artifacts(
                artifacts, products, model_id=best["model_id"], version=info.get("version"), loaded_at=now,
                metrics=info.get("metrics"),
                info={"path": info.get("path"), "data_version": info.get("data_version"),
                      "status": info.get("status"), "selected_at": best.get("selected_at"),
                      "selection_metric": best.get("metric"), "source": "registry"})
        elapsed = (time.perf_counter() - started) * 1000
        model.info["load_time_ms"] = elapsed  # filled before the model is published
        with self._count_lock:
            self.total_loads += 1
            self.last_load_time_ms = elapsed
        self._cache[key] = model
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return model, False

    def _read_products(self, signature: tuple | None) -> pd.DataFrame | None:
        """The product catalogue (filters and the no-model fallback), re-read only when the file changed."""
        if self._products is not None and self._products[0] == signature:
            return self._products[1]
        if signature is None:
            self.logger.warning("Products file missing | path=%s, filters will match nothing", self.products_path)
            products = None
        else:
            frame = pd.read_parquet(self.products_path)
            products = frame[[c for c in PRODUCT_COLUMNS if c in frame.columns]]
        self._products = (signature, products)
        return products

    def _finish(self, event: ReloadEvent, *, record: bool = True) -> ReloadEvent:
        if record:
            self._record_event(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must not break reloading
                self.logger.exception("Reload listener failed")
        return event

    def _record_event(self, event: ReloadEvent) -> None:
        if self.events_db is not None:
            try:
                conn = connect(self.events_db)
                try:
                    ensure_service_schema(conn)
                    conn.execute(
                        "INSERT INTO model_reload_events (timestamp, trigger, old_model_id, new_model_id, status, "
                        "error, load_time_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (format_ts(event.timestamp), event.trigger, event.old_model_id, event.new_model_id,
                         event.status, event.error, event.load_time_ms))
                    conn.commit()
                finally:
                    conn.close()
            except Exception as exc:  # the event store is monitoring, not serving
                self.logger.error("Cannot record reload event | error=%s: %s", type(exc).__name__, exc)
        record_operation = getattr(self.registry, "record_operation", None)
        if self.audit and record_operation is not None and (event.changed or event.status == "failed"):
            try:
                record_operation("RELOAD" if event.status == "ok" else "RELOAD_FAILED", event.new_model_id, {
                    "trigger": event.trigger, "old": event.old_model_id, "status": event.status,
                    **({"error": event.error} if event.error else {}), "pid": os.getpid()})
            except Exception as exc:
                self.logger.warning("Cannot audit reload | error=%s: %s", type(exc).__name__, exc)

    def _watch(self) -> None:
        while not self._stop.wait(self.watch_interval):
            try:
                self.check_for_update()
            except Exception:  # the watcher must survive anything and keep serving the old model
                self.logger.exception("Registry watch failed")

    # --- reporting ----------------------------------------------------------------------------
    def get_stats(self) -> dict[str, Any]:
        """Loader counters (the spec's ``model_loader_stats`` columns plus reload failures)."""
        with self._count_lock:
            lookups = self.cache_hits + self.cache_misses
            return {
                "total_loads": self.total_loads,
                "cache_hits": self.cache_hits,
                "cache_misses": self.cache_misses,
                "cache_hit_rate": self.cache_hits / lookups if lookups else 0.0,
                "reload_count": self.reload_count,
                "reload_failures": self.reload_failures,
                "last_load_time_ms": self.last_load_time_ms,
                "last_reload_at": format_ts(self.last_reload_at) if self.last_reload_at else None,
                "last_error": self.last_error,
                "watching": self._thread is not None and self._thread.is_alive(),
            }

    def serving_issues(self) -> list[str]:
        """Why the serving model may not be what the registry wants, or may not survive a restart ([] if none).

        The last load attempt failed (a corrupt registry, a broken new model), or the serving model's
        artifacts directory is gone: requests are still answered from memory, but the service can no
        longer follow the registry, and a restart could not load this model again.
        """
        issues = []
        model = self._current
        serving = model.model_id if model is not None else None
        if self.last_error is not None:
            issues.append(f"last model load failed (serving {serving}): {self.last_error}")
        path = model.info.get("path") if model is not None else None
        if path and not os.path.isdir(path):
            issues.append(f"artifacts of the serving model {serving} are missing: {path}")
        return issues

    def get_model_info(self) -> dict[str, Any]:
        """``{model_id, version, type, metrics, loaded_at, ...}`` of the serving model ({} if none)."""
        model = self._current
        if model is None:
            return {}
        return {"model_id": model.model_id, "version": model.version, "type": model.model_type,
                "metrics": model.metrics, "loaded_at": format_ts(model.loaded_at),
                "n_items": model.n_items, **model.info}


def log_loader_stats(loader: ModelLoader, db_path: str | os.PathLike | None = None, *,
                     now: datetime | None = None) -> dict[str, Any]:
    """Insert one ``model_loader_stats`` row (default db: ``loader.paths.service_db``); returns the row."""
    stats = loader.get_stats()
    row = {
        "timestamp": format_ts(now or loader.clock()),
        "model_id": loader.get_model_info().get("model_id"),
        "total_loads": stats["total_loads"],
        "cache_hits": stats["cache_hits"],
        "cache_misses": stats["cache_misses"],
        "cache_hit_rate": stats["cache_hit_rate"],
        "reload_count": stats["reload_count"],
        "last_load_time_ms": stats["last_load_time_ms"],
        "last_reload_at": stats["last_reload_at"],
        "worker_pid": os.getpid(),
    }
    conn = connect(db_path or loader.paths.service_db)
    try:
        ensure_service_schema(conn)
        conn.execute(_INSERT_LOADER_STATS, row)
        conn.commit()
    finally:
        conn.close()
    return row
