"""``recsys monitor``: the scheduler process, or one job now with ``--once``."""

from __future__ import annotations

import signal
import threading

import click

from recsys.paths import ProjectPaths


def build_monitor(paths: ProjectPaths, config_path: str | None = None, service_url: str | None = None):
    """A Monitor over the project's (or the shipped) ``monitor.yaml`` and every known job."""
    from recsys.config_files import config_file
    from recsys.monitor.config import load_monitor_config
    from recsys.monitor.jobs import JOBS
    from recsys.monitor.scheduler import Monitor

    path = config_path or config_file(paths, "monitor.yaml")
    config = load_monitor_config(path, known_jobs=set(JOBS))
    if service_url:
        config = config.model_copy(update={"service_url": service_url})
    return Monitor.create(paths, config, JOBS)


@click.command("monitor")
@click.option("--once", "once", metavar="JOB", default=None, help="Run one job now and exit.")
@click.option("--list", "list_jobs", is_flag=True, help="List the jobs and their schedules.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="monitor.yaml to use (default: config/monitor.yaml of the project, else the shipped one).")
@click.option("--service-url", default=None, help="The service's base URL (overrides monitor.yaml).")
@click.pass_obj
def monitor_command(paths: ProjectPaths, once: str | None, list_jobs: bool, config_path: str | None,
                    service_url: str | None) -> None:
    """Aggregate, check and act on schedule (APScheduler); one process beside any number of service workers."""
    import json

    monitor = build_monitor(paths, config_path, service_url)
    from recsys.logfmt import file_logger

    file_logger("recsys", paths.monitor_log)  # this process's module loggers (alert engine, drift, ...) too
    if list_jobs:
        for name in monitor.jobs:
            schedule = monitor.context.config.jobs.get(name)
            when = "not scheduled" if schedule is None or not schedule.enabled else (
                f"{schedule.trigger} {schedule.trigger_kwargs()}")
            click.echo(f"{name:28} {when}")
        return
    if once:
        if once not in monitor.jobs:
            raise click.BadParameter(f"unknown job '{once}' (known: {', '.join(monitor.jobs)})", param_hint="--once")
        try:
            summary = monitor.run(once)
        except Exception as exc:  # recorded in job_runs and logged with its trace by Monitor.run
            raise click.ClickException(f"job {once} failed: {type(exc).__name__}: {exc}") from exc
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    monitor.start()
    click.echo(f"monitor running ({len(monitor.context.config.jobs)} jobs); log: {paths.monitor_log}")
    stop.wait()
    monitor.stop()


def register(cli: click.Group) -> None:
    """Attach the monitor command."""
    cli.add_command(monitor_command)
