#!/usr/bin/env python3
"""Service throughput under wrk on loopback: full monitoring vs monitoring off vs the spec's middleware design.

One uvicorn worker with production settings (uvloop + httptools, no access log) serves a model of
50k items × 64 factors (random factors, 20k known users). Variants, each in its own server process:

- ``off``:  the app with monitoring switched off (no rows, no log lines, no Prometheus);
- ``full``: the app as shipped (requests rows via the background writer, log lines via the log
  queue, Prometheus counters and histogram, request ids);
- ``spec``: monitoring off plus the spec's design: an ``@app.middleware("http")`` that writes a log
  line synchronously and, for ``/recommend``, opens SQLite, inserts one row, commits and closes, per
  request (made to work: the spec reads the body after the response, when it is gone).

Runs alternate the variants (off, full, spec, off, ...) and the medians are compared. wrk reports
the latency percentiles of ``/recommend`` for the ``full`` variant. Needs ``wrk`` (``apt-get install wrk``).

    python bench/bench_service_throughput.py [--repeats 5] [--duration 5] [--connections 16] [--known 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

N_ITEMS, FACTORS, N_USERS = 50_000, 64, 20_000
VARIANTS = ("off", "full", "spec")

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local known = {known}
local users = {users}
request = function()
  local user
  if math.random() < known then user = math.random(0, users - 1) else user = 900000000 + math.random(0, 1000000) end
  return wrk.format(nil, "/recommend", nil, '{{"user_id": ' .. user .. ', "topk": 10}}')
end
"""


def build_project(root: Path, n_items: int = N_ITEMS, factors: int = FACTORS, n_users: int = N_USERS) -> None:
    """A registered random-factor model of ``n_items`` × ``factors`` and its product catalogue under ``root``."""
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    from recsys.cf.artifacts import ModelArtifacts, allocate_artifacts_dir, save_artifacts
    from recsys.cf.registry import ModelRegistry
    from recsys.paths import ProjectPaths

    paths = ProjectPaths.from_env(root)
    rng = np.random.default_rng(0)
    seen_per_user = 5
    rows = np.repeat(np.arange(n_users), seen_per_user)
    cols = rng.integers(0, n_items, size=len(rows))
    seen = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_users, n_items))
    seen.sum_duplicates()
    directory = allocate_artifacts_dir(paths.cf_artifacts, "als", datetime.now(UTC))
    save_artifacts(directory, ModelArtifacts(
        "als", rng.standard_normal((n_users, factors), dtype=np.float32) * 0.1,
        rng.standard_normal((n_items, factors), dtype=np.float32) * 0.1, np.arange(n_users, dtype=np.int64),
        np.arange(n_items, dtype=np.int64), seen, np.asarray(seen.sum(axis=0)).ravel().astype(np.float32),
        metadata={"metrics": {"ndcg@10": 0.1}}))
    paths.products.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "product_id": np.arange(n_items, dtype=np.int64),
        "category": [f"cat{i % 20}" for i in range(n_items)], "brand": [f"brand{i % 100}" for i in range(n_items)],
        "price": rng.uniform(1, 100, n_items), "avg_rating": rng.uniform(1, 5, n_items),
        "num_ratings": rng.integers(0, 1000, n_items),
    }).to_parquet(paths.products, index=False)
    registry = ModelRegistry(paths=paths)
    registry.register_model(directory, "als", {"factors": factors}, {"recall@10": 0.1, "ndcg@10": 0.1})
    registry.select_best_model()


def add_spec_middleware(app, paths) -> None:
    """The spec's ``log_requests`` middleware and ``log_request_to_db``, made to run."""
    import sqlite3

    from fastapi import Request

    from recsys.logfmt import file_logger

    logger = file_logger("bench.spec_design", paths.service_log)
    db_path = str(paths.service_db)

    @app.middleware("http")
    async def log_requests(request: Request, call_next):
        start_time = time.time()
        body = await request.body() if request.url.path == "/recommend" else b""
        response = await call_next(request)
        latency = (time.time() - start_time) * 1000
        logger.info(f"Request | path={request.url.path}, latency={latency:.1f}ms, status={response.status_code}")
        if request.url.path == "/recommend":
            data = json.loads(body)
            conn = sqlite3.connect(db_path)
            conn.execute(
                "INSERT INTO requests (timestamp, user_id, topk, exclude_seen, latency_ms, model_id, model_version, "
                "loader_cache_hit, reload_triggered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (datetime.now(UTC).isoformat(), data.get("user_id"), data.get("topk", 10),
                 data.get("exclude_seen", True), latency, "m", "v1", True, False))
            conn.commit()
            conn.close()
        return response


def serve(variant: str, root: Path, port: int) -> None:
    """Run one variant's server (called in a subprocess)."""
    import uvicorn

    from recsys.cli.serve import production_server_options
    from recsys.paths import ProjectPaths
    from recsys.service.app import create_app
    from recsys.service.settings import ServiceSettings

    paths = ProjectPaths.from_env(root)
    settings = ServiceSettings(monitoring=variant == "full", loader_stats_interval=0)
    app = create_app(paths, settings=settings)
    if variant == "spec":
        add_spec_middleware(app, paths)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", **production_server_options())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_up(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not start")


def parse_latency(text: str, label: str) -> float | None:
    match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not match:
        return None
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_variant(variant: str, root: Path, args, script: Path) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    env.pop("RECSYS_ADMIN_TOKEN", None)
    process = subprocess.Popen([sys.executable, __file__, "--serve", variant, "--root", str(root), "--port",
                                str(port)], env=env)
    try:
        wait_up(url, process)
        subprocess.run(["wrk", "-t1", "-c4", "-d1s", "-s", str(script), url], check=True, capture_output=True)
        cpu_before = cpu_seconds(process.pid)
        out = subprocess.run(["wrk", "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "-s",
                              str(script), url], check=True, capture_output=True, text=True).stdout
        cpu = cpu_seconds(process.pid) - cpu_before
    finally:
        process.terminate()
        process.wait(60)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "cpu_us": cpu / total * 1e6, "p50_ms": parse_latency(out, "50"),
            "p99_ms": parse_latency(out, "99"),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--known", type=float, default=0.5, help="share of requests from known (CF) users")
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.root, args.port)
        return
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    from tqdm import tqdm

    results: dict[str, list[dict]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"building a {N_ITEMS} items × {FACTORS} factors model ...", file=sys.stderr)
        build_project(root)
        script = root / "recommend.lua"
        script.write_text(WRK_SCRIPT.format(known=args.known, users=N_USERS))
        runs = [(repeat, variant) for repeat in range(args.repeats) for variant in VARIANTS]
        for _, variant in tqdm(runs, desc="wrk runs", unit="run"):
            results[variant].append(run_variant(variant, root, args, script))
    med = {v: statistics.median(r["rps"] for r in results[v]) for v in VARIANTS}
    print(f"\n/recommend, {N_ITEMS} items x {FACTORS} factors, {args.known:.0%} known users, wrk -t1 "
          f"-c{args.connections} -d{args.duration}s, {args.repeats} runs per variant (medians)")
    for variant in VARIANTS:
        rps = [round(r["rps"]) for r in results[variant]]
        errors = sum(r["non_2xx"] for r in results[variant])
        cpu = statistics.median(r["cpu_us"] for r in results[variant])
        print(f"  {variant:5s} {med[variant]:8.0f} req/s  {cpu:6.0f} us server CPU/request   runs={rps} "
              f"non-2xx={errors}")
    full = results["full"]
    print(f"  full monitoring latency: p50 {statistics.median(r['p50_ms'] for r in full):.2f} ms, "
          f"p99 {statistics.median(r['p99_ms'] for r in full):.2f} ms (median over runs)")
    # Runs of one repeat are back to back, so their ratio shares the machine's load at that moment.
    paired_off = statistics.median(f["rps"] / o["rps"] for f, o in zip(full, results["off"], strict=True))
    paired_spec = statistics.median(f["rps"] / s["rps"] for f, s in zip(full, results["spec"], strict=True))
    print(f"ratio full/off  = {med['full'] / med['off']:.3f} (of medians), {paired_off:.3f} (median of paired runs)"
          "   target >= 0.90")
    cpu = {v: statistics.median(r["cpu_us"] for r in results[v]) for v in VARIANTS}
    print(f"ratio off/full server CPU per request = {cpu['off'] / cpu['full']:.3f} (the throughput ratio if CPU-bound)")
    print(f"ratio full/spec = {med['full'] / med['spec']:.2f}x (of medians), {paired_spec:.2f}x (median of paired "
          "runs)   target >= 3")


if __name__ == "__main__":
    main()
