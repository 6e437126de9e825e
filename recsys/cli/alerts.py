"""``recsys alerts check|test|list``: evaluate the rules now, send a test message, show alerts."""

from __future__ import annotations

import json

import click

from recsys.paths import ProjectPaths


@click.group("alerts")
def alerts() -> None:
    """Alert rules (config/alerts_config.yaml) and their channels."""


@alerts.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as JSON.")
@click.pass_obj
def check(paths: ProjectPaths, as_json: bool) -> None:
    """Evaluate every rule now, notify what fires or resolves, print each rule's state."""
    from recsys.alerts.engine import evaluate_alerts

    outcomes = evaluate_alerts(paths)
    if as_json:
        click.echo(json.dumps(outcomes, default=str, indent=2))
        return
    for o in outcomes:
        value = "no data" if o["value"] is None and o["condition"] != "is_null" else o["value"]
        line = f"{o['rule']:<22} {o['state']:<9} {o['event']:<11} value={value} ({o['condition']} {o['threshold']})"
        if o["error"]:
            line += f"  error: {o['error']}"
        for d in o["deliveries"]:
            line += f"  [{d['channel']}: {'ok' if d['ok'] else 'FAILED ' + str(d['error'])}]"
        click.echo(line)


@alerts.command("test")
@click.option("--channel", type=click.Choice(["email", "slack", "log"]), required=True)
@click.option("--severity", type=click.Choice(["info", "warning", "critical"]), default="warning")
@click.pass_obj
def test(paths: ProjectPaths, channel: str, severity: str) -> None:
    """Send a test message through one channel and print the delivery result."""
    from recsys.alerts.config import SLACK_WEBHOOK_ENV, SMTP_PASSWORD_ENV, load_project_alerts_config
    from recsys.alerts.notify import build_channels, dispatch

    config = load_project_alerts_config(paths)
    available = build_channels(config, paths)
    if channel not in available:
        hint = {
            "email": f"add an 'email:' section and set ${SMTP_PASSWORD_ENV} (or 'enabled: true')",
            "slack": f"set ${SLACK_WEBHOOK_ENV}",
        }[channel]
        raise click.ClickException(f"channel {channel} is not configured in {config.source}: {hint}")
    [result] = dispatch([available[channel]], "Test alert", f"Test message from recsys ({channel} channel).",
                        severity, config=config)
    status = "ok" if result.ok else f"FAILED: {result.error}"
    click.echo(f"{result.channel}: {status} (attempts={result.attempts})")
    if not result.ok:
        raise SystemExit(1)


@alerts.command("list")
@click.option("--limit", default=20, show_default=True, help="How many recent episodes to show.")
@click.pass_obj
def list_alerts(paths: ProjectPaths, limit: int) -> None:
    """Open (pending/firing) alerts, then the most recent episodes."""
    from recsys.alerts.store import AlertStore

    store = AlertStore(paths)
    try:
        open_alerts, recent = store.firing(), store.recent(limit)
    finally:
        store.close()
    click.echo(f"open: {len(open_alerts)}")
    for row in open_alerts:
        click.echo(f"  {row['rule']:<22} {row['state']:<8} since {row['started_at']}  {row['message']}")
    click.echo("recent:")
    for row in recent:
        errors = f"  delivery errors: {len(row['delivery_errors'])}" if row["delivery_errors"] else ""
        click.echo(f"  #{row['id']:<4} {row['rule']:<22} {row['state']:<8} started {row['started_at']}  "
                   f"resolved {row['resolved_at'] or '-'}  sent {row['notifications_sent']}{errors}")


def register(cli: click.Group) -> None:
    """Add ``recsys alerts`` to the CLI."""
    cli.add_command(alerts)
