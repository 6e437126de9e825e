"""``recsys serve``: the recommendation service under uvicorn (uvloop + httptools when installed)."""

from __future__ import annotations

import importlib.util
import os
import shutil

import click

from recsys.paths import ProjectPaths


def production_server_options() -> dict:
    """uvicorn options for serving: the fast event loop and HTTP parser if present, no access log."""
    return {
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "access_log": False,  # every request is already in recommender.log and service_metrics.db
        "timeout_graceful_shutdown": 15,
        "proxy_headers": False,
    }


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each loads the model and hot-reloads on its own).")
@click.option("--aggregate/--no-aggregate", default=True, show_default=True,
              help="Aggregate service_health every minute in this process (turn off when the monitor does it).")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]), help="uvicorn's own log level.")
@click.pass_obj
def serve_command(paths: ProjectPaths, host: str, port: int, workers: int, aggregate: bool, log_level: str) -> None:
    """Serve recommendations until Ctrl-C, then stop cleanly (every queued request row is written)."""
    import uvicorn

    from recsys.service.jobs import AggregationJobs

    os.environ["RECSYS_HOME"] = str(paths.root)  # the workers build their app from the environment
    if workers > 1:
        # Prometheus multiprocess mode: each worker writes its metric values here, /metrics sums them.
        metrics_dir = paths.logs_dir / "service" / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    jobs = AggregationJobs(paths).start() if aggregate else None
    click.echo(f"serving {paths.root} on http://{host}:{port} with {workers} worker(s); Ctrl-C stops", err=True)
    try:
        uvicorn.run("recsys.service.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, **production_server_options())
    finally:
        if jobs is not None:
            jobs.stop()


@click.command("traffic")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="Base URL of a running service.")
@click.option("--requests", "count", default=200, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", default=0, show_default=True, type=int)
@click.pass_obj
def traffic_command(paths: ProjectPaths, url: str, count: int, seed: int) -> None:
    """Send generated traffic (known and cold-start users, filters, feedback) to a running service."""
    from recsys.service.traffic import drive_traffic, plan_from_project

    summary = drive_traffic(url, plan_from_project(paths), requests=count, seed=seed)
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(summary.statuses.items()))
    events = ", ".join(f"{name}: {n}" for name, n in sorted(summary.feedback_events.items()))
    click.echo(f"{count} requests ({statuses}), {summary.fallbacks} fallbacks; feedback {events or 'none'}")


def register(cli: click.Group) -> None:
    """Add ``serve`` and ``traffic`` to the CLI."""
    cli.add_command(serve_command)
    cli.add_command(traffic_command)
