"""Helpers for service tests: real tiny ALS models in a real registry, a product catalogue, a live server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.cf.artifacts import ModelArtifacts, allocate_artifacts_dir, save_artifacts
from recsys.paths import ProjectPaths

REPO = Path(__file__).resolve().parents[2]
USER_BASE, ITEM_BASE = 1000, 500
CATEGORIES = ("serum", "cleanser", "toner", "sunscreen")
BRANDS = ("Laneige", "Cosrx", "Innisfree")


@dataclass
class TinyData:
    """A tiny interaction matrix with raw ids (users 1000.., items 500..)."""

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray


def tiny_data(n_users: int = 40, n_items: int = 30, per_user: int = 5, seed: int = 0) -> TinyData:
    """Each user likes a few items, biased to a block so ALS learns something."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for user in range(n_users):
        block = (user % 3) * (n_items // 3)
        items = rng.choice(np.arange(block, block + n_items // 3), size=min(per_user, n_items // 3), replace=False)
        rows += [user] * len(items)
        cols += items.tolist()
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_users, n_items))
    return TinyData(matrix, np.arange(USER_BASE, USER_BASE + n_users), np.arange(ITEM_BASE, ITEM_BASE + n_items))


def fit_tiny_als(data: TinyData, factors: int = 8, iterations: int = 3, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Real implicit ALS factors on the tiny matrix (single-threaded BLAS)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        model = AlternatingLeastSquares(factors=factors, iterations=iterations, random_state=seed,
                                        calculate_training_loss=False)
        model.fit(data.matrix, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def save_tiny_model(paths: ProjectPaths, data: TinyData | None = None, *, model_type: str = "als", seed: int = 1,
                    factors: int = 8, now: datetime | None = None) -> Path:
    """Train and save a tiny model the way the trainer does; returns its artifacts directory."""
    data = data or tiny_data()
    user_factors, item_factors = fit_tiny_als(data, factors=factors, seed=seed)
    directory = allocate_artifacts_dir(paths.cf_artifacts, model_type, now or datetime.now(UTC))
    popularity = np.asarray(data.matrix.sum(axis=0)).ravel().astype(np.float32)
    save_artifacts(directory, ModelArtifacts(
        model_type, user_factors, item_factors, data.user_ids, data.item_ids, data.matrix, popularity,
        params={"factors": factors}, metadata={"metrics": {"ndcg@10": 0.1}, "data_version": "test"}))
    return directory


def register(paths: ProjectPaths, directory: Path, ndcg: float, *, select: bool = True, model_type: str = "als") -> str:
    """Register ``directory`` with ``ndcg@10 = ndcg`` and (optionally) select the best."""
    from recsys.cf.registry import ModelRegistry

    registry = ModelRegistry(paths=paths)
    model_id = registry.register_model(directory, model_type, {"factors": 8},
                                       {"recall@10": ndcg * 1.5, "ndcg@10": ndcg})
    if select:
        registry.select_best_model()
    return model_id


def write_products(paths: ProjectPaths, item_ids: np.ndarray) -> pd.DataFrame:
    """A product catalogue for ``item_ids``: category/brand cycle, price = 10 * index, rating 3.0-5.0."""
    n = len(item_ids)
    frame = pd.DataFrame({
        "product_id": item_ids.astype(np.int64),
        "name": [f"product {i}" for i in range(n)],
        "brand": [BRANDS[i % len(BRANDS)] for i in range(n)],
        "category": [CATEGORIES[i % len(CATEGORIES)] for i in range(n)],
        "price": np.arange(n, dtype=np.float64) * 10.0,
        "skin_type": "all",
        "description": "",
        "avg_rating": 3.0 + (np.arange(n) % 5) * 0.5,
        "num_ratings": (np.arange(n) * 7) % 23,
    })
    paths.products.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(paths.products, index=False)
    return frame


class LiveServer:
    """The real app under uvicorn on 127.0.0.1 (a free port), in a thread; ``stop()`` runs the shutdown."""

    def __init__(self, app, **config):
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        options = {"log_level": "warning", "access_log": False, "lifespan": "on", **config}
        self.server = uvicorn.Server(uvicorn.Config(app, **options))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self, timeout: float = 30.0) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def request_row(timestamp: str, latency_ms: float, *, fallback: bool = False, error: str | None = None,
                model_id: str = "als_v1", user_id: int = 1, rerank: bool = False, diversity: float | None = None,
                content_score: float | None = None) -> tuple:
    """A ``requests`` row in ``REQUEST_COLUMNS`` order."""
    return (timestamp, user_id, 10, True, None, latency_ms, 0 if error else 10, fallback,
            "popularity" if fallback else None, error, model_id, "v1", True, False, f"r{user_id}", rerank,
            content_score, None, diversity)


def writer_process(db_path: str, worker: int, count: int, base_ts: str, start) -> None:
    """Spawned service-worker stand-in: its own RequestLogWriter writes ``count`` rows into the shared store."""
    from recsys.service.request_log import RequestLogWriter

    writer = RequestLogWriter(db_path, flush_interval=0.01).start()
    start.wait()
    for i in range(count):
        # latency encodes (worker, i) so the test can recompute every figure
        writer.submit_request(request_row(f"{base_ts}.{i:06d}", worker * 1000 + i, fallback=i % 4 == 0,
                                          error="KeyError" if i % 10 == 0 else None, model_id=f"m{worker}",
                                          user_id=worker * 100_000 + i))
    writer.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(paths: ProjectPaths, workers: int = 1, *, args: tuple[str, ...] = ("--no-aggregate",),
                env: dict[str, str] | None = None, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """``recsys serve`` as a subprocess on a free loopback port; returns (process, base URL) once /health answers."""
    import httpx

    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(REPO), "RECSYS_HOME": str(paths.root), **(env or {})}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen([sys.executable, "-m", "recsys", "serve", "--port", str(port), "--workers",
                                str(workers), *args], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"serve did not start: {process.communicate()[1]}")
        time.sleep(0.1)


def stop_with_ctrl_c(process: subprocess.Popen, timeout: float = 60.0) -> str:
    """Stop ``recsys serve`` as a user does (SIGINT); asserts a clean exit and returns its stderr."""
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    return stderr
