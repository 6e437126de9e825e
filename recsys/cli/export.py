"""``recsys export``: Prometheus alerting rules and a Grafana dashboard for the service's ``/metrics``."""

from __future__ import annotations

from pathlib import Path

import click

from recsys.export.metrics import RECOMMEND_ENDPOINT
from recsys.paths import ProjectPaths


def _emit(text: str, out: str | None) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}", err=True)


@click.group("export")
def export_group() -> None:
    """Export monitoring config for Prometheus and Grafana."""


@export_group.command("prometheus-rules")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Alerts config to translate (default: config/alerts_config.yaml of the project).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Output file (default: standard output).")
@click.option("--endpoint", default=RECOMMEND_ENDPOINT, show_default=True,
              help="`endpoint` label of the recommendation route.")
@click.pass_obj
def prometheus_rules_command(paths: ProjectPaths, config_path: str | None, out: str | None, endpoint: str) -> None:
    """Write Prometheus alerting rules equivalent to the alerts config."""
    from recsys.export.prometheus import load_alert_rules, prometheus_rules, render_rules

    source = Path(config_path) if config_path else paths.config_dir / "alerts_config.yaml"
    rules = load_alert_rules(source)
    shown = source.resolve()
    shown = shown.relative_to(paths.root) if shown.is_relative_to(paths.root) else shown
    _emit(render_rules(rules, str(shown), endpoint), out)
    for rule, reason in prometheus_rules(rules, endpoint)[1]:
        click.echo(f"not exported: {rule.name} ({reason})", err=True)


@export_group.command("grafana-dashboard")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Output file (default: standard output).")
@click.option("--endpoint", default=RECOMMEND_ENDPOINT, show_default=True,
              help="`endpoint` label of the recommendation route.")
def grafana_dashboard_command(out: str | None, endpoint: str) -> None:
    """Write a provisionable Grafana dashboard (JSON, fixed uid) over the service's metrics."""
    from recsys.export.grafana import render_dashboard

    _emit(render_dashboard(endpoint), out)


def register(cli: click.Group) -> None:
    """Add the command group to the ``recsys`` group."""
    cli.add_command(export_group)
