"""The whole system on one machine, for a newcomer (``make run`` → ``recsys run``).

Prepare (data, ALS + BPR training with auto-select, embeddings, training-curve pictures), then
start the service, the monitor and the dashboard as child processes, drive a little realistic
traffic through the service, print the URLs, and on Ctrl-C stop everything in order: traffic
first, then the service (which drains its request log), then the monitor and the dashboard.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from recsys.paths import ProjectPaths


def prepare_project(paths: ProjectPaths, *, preset: str = "small", echo=print, progress: bool = True) -> dict:
    """Data, both models and embeddings — each step only when the project lacks it. Returns a summary."""
    from recsys.cf.pipeline import train_model
    from recsys.cf.plots import plot_training_curves
    from recsys.cf.registry import ModelRegistry

    summary: dict = {"trained": []}
    if not paths.interactions.exists():
        from recsys.data.generate import GenerateConfig, generate
        from recsys.data.ingest import ingest

        echo(f"generating the '{preset}' shop data set ...")
        interactions, products = generate(GenerateConfig(preset=preset), progress=progress)
        result = ingest(paths, interactions, products, {"kind": "generated", "preset": preset})
        if not result.written:
            raise SystemExit("generated data failed its quality checks:\n" + "\n".join(result.report.summary_lines()))
    registry = ModelRegistry(paths=paths)
    if registry.get_current_best() is None:
        for model_type in ("als", "bpr"):
            echo(f"training {model_type} ...")
            run = train_model(paths, model_type, auto_select=True, progress=progress)
            summary["trained"].append(run)
            plot_training_curves(run.run_id, paths=paths)
    try:
        from recsys.embeddings import latest
        from recsys.embeddings.build import build_embeddings

        if latest(paths) is None:
            echo("building content embeddings ...")
            build_embeddings(paths, progress=progress)
    except ImportError:  # pragma: no cover - the light backend installs with the package
        pass
    summary["best"] = registry.get_current_best()
    return summary


def print_summary(paths: ProjectPaths, summary: dict, echo=print) -> None:
    """Runs, metrics against the popularity baseline, and the current best."""
    for run in summary["trained"]:
        m, b = run.metrics, run.baseline
        echo(f"  {run.model_id:28} recall@10={m['recall@10']:.4f} ndcg@10={m['ndcg@10']:.4f} "
             f"(popularity ndcg@10={b['ndcg@10']:.4f}, {m['ndcg@10'] / max(b['ndcg@10'], 1e-12):.2f}x)")
        echo(f"  {'':28} curves: {paths.reports_dir / f'training_curves_{run.run_id}.png'}")
    best = summary.get("best")
    if best:
        echo(f"  current best: {best['model_id']} ({best['metric']}={best['value']:.4f})")


@dataclass
class Child:
    """A started child process and where its output goes."""

    name: str
    process: subprocess.Popen
    log_path: Path


@dataclass
class Stack:
    """Service, monitor and dashboard as child processes, plus a traffic thread."""

    paths: ProjectPaths
    host: str = "127.0.0.1"
    port: int = 8000
    dashboard_port: int = 8501
    children: list[Child] = field(default_factory=list)
    _traffic_stop: threading.Event = field(default_factory=threading.Event)
    _traffic: threading.Thread | None = None
    traffic_sent: int = 0

    @property
    def service_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.host}:{self.dashboard_port}"

    def _spawn(self, name: str, *args: str) -> Child:
        log_path = self.paths.logs_dir / "stack" / f"{name}.out"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        process = subprocess.Popen(
            [sys.executable, "-m", "recsys", "--home", str(self.paths.root), *args],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us only; we stop the children in order
            env={**os.environ, "RECSYS_HOME": str(self.paths.root)},
        )
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def start(self, *, traffic: bool = True, ready_timeout: float = 60.0) -> None:
        """Start everything; returns once the service answers /health."""
        self._spawn("service", "serve", "--host", self.host, "--port", str(self.port), "--no-aggregate")
        self.wait_ready(ready_timeout)
        self._spawn("monitor", "monitor", "--service-url", self.service_url)
        self._spawn("dashboard", "dashboard", "--host", self.host, "--port", str(self.dashboard_port))
        if traffic:
            self._traffic = threading.Thread(target=self._drive, name="traffic", daemon=True)
            self._traffic.start()

    def wait_ready(self, timeout: float) -> None:
        """Poll the service's /health until it answers (or its process died)."""
        deadline = time.monotonic() + timeout
        service = self.children[0]
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise RuntimeError(f"the service exited early; see {service.log_path}")
            try:
                if httpx.get(self.service_url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the service did not answer within {timeout:.0f}s; see {service.log_path}")

    def _drive(self) -> None:
        from recsys.service.traffic import drive_traffic, plan_from_project

        plan = plan_from_project(self.paths)
        batch = 0
        while not self._traffic_stop.is_set():
            try:
                drive_traffic(self.service_url, plan, requests=20, seed=batch, progress=False)
                self.traffic_sent += 20
            except httpx.HTTPError:
                pass  # the service is going away; the stop flag follows
            batch += 1
            self._traffic_stop.wait(1.0)

    def stop(self, timeout: float = 30.0) -> dict[str, int | None]:
        """Stop traffic, then each child (SIGINT, then SIGKILL after ``timeout``); returns exit codes."""
        self._traffic_stop.set()
        if self._traffic is not None:
            self._traffic.join(timeout=timeout)
        codes: dict[str, int | None] = {}
        for child in self.children:  # service first: it drains its request log before exiting
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGINT)
            try:
                codes[child.name] = child.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                child.process.kill()
                codes[child.name] = child.process.wait()
        return codes
