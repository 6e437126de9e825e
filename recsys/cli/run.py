"""``recsys run``: everything, on the embedded defaults (what ``make run`` calls)."""

from __future__ import annotations

import signal
import threading

import click

from recsys.paths import ProjectPaths


@click.command("run")
@click.option("--preset", default="small", show_default=True, type=click.Choice(["tiny", "small", "large"]),
              help="Size of the generated data set (when the project has no data yet).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Service port.")
@click.option("--dashboard-port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Only prepare (data, training, registry, curves) and print the summary.")
@click.option("--no-traffic", is_flag=True, help="Do not drive generated traffic through the service.")
@click.option("--duration", type=float, default=None, help="Stop by itself after this many seconds.")
@click.pass_obj
def run_command(paths: ProjectPaths, preset: str, port: int, dashboard_port: int, no_serve: bool, no_traffic: bool,
                duration: float | None) -> None:
    """Data → ALS + BPR → registry → service → monitor → dashboard, with traffic; Ctrl-C stops it all."""
    from recsys.stack import Stack, prepare_project, print_summary

    click.echo(f"project: {paths.root}")
    summary = prepare_project(paths, preset=preset, echo=click.echo)
    click.echo("training summary:")
    print_summary(paths, summary, echo=click.echo)
    if no_serve:
        return
    stack = Stack(paths, port=port, dashboard_port=dashboard_port)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stack.start(traffic=not no_traffic)
        url = stack.service_url
        click.echo(f"service:   {url}  (API docs {url}/docs, Prometheus {url}/metrics)")
        click.echo(f"dashboard: {stack.dashboard_url}")
        click.echo(f"logs:      {paths.logs_dir}   (child output in {paths.logs_dir / 'stack'})")
        click.echo("running; Ctrl-C stops everything")
        stop.wait(duration)
    finally:
        codes = stack.stop()
        click.echo(f"stopped (traffic sent {stack.traffic_sent} requests; exit codes {codes})")


def register(cli: click.Group) -> None:
    """Attach ``run``."""
    cli.add_command(run_command)
