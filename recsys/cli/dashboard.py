"""``recsys dashboard``: the Streamlit dashboards, on loopback by default."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from recsys.paths import HOME_ENV, ProjectPaths


def streamlit_command(paths: ProjectPaths, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The ``streamlit run`` argv and environment that serve the dashboard app for ``paths``."""
    import recsys
    import recsys.dashboard

    app = Path(recsys.dashboard.__file__).resolve().parent / "app.py"
    env = dict(os.environ)
    env[HOME_ENV] = str(paths.root)
    # The app's pages import recsys; make that work from a checkout that is not pip-installed too.
    package_parent = str(Path(recsys.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    argv = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",  # a served app, not a development session
        "--server.runOnSave", "false",
        "--client.toolbarMode", "viewer",  # no "Deploy" or developer menu for the people reading it
    ]
    return argv, env


@click.command("dashboard")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.pass_obj
def dashboard_command(paths: ProjectPaths, host: str, port: int) -> None:
    """Serve the dashboards (service, training, registry, data & drift, alerts, embeddings)."""
    argv, env = streamlit_command(paths, host, port)
    click.echo(f"dashboard: http://{host}:{port}  (project {paths.root})", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process, so signals (Ctrl-C, a supervisor's SIGTERM) reach Streamlit directly.
    os.execve(argv[0], argv, env)


def register(cli: click.Group) -> None:
    """Add the command to the ``recsys`` group."""
    cli.add_command(dashboard_command)
