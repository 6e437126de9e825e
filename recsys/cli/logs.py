"""``recsys logs …``: what the logs and stores hold, rotation now, retention pruning, full vacuum."""

from __future__ import annotations

import json
from typing import Any

import click

from recsys.paths import ProjectPaths


def _paths(ctx: click.Context) -> ProjectPaths:
    return ctx.find_root().obj


def _size(value: int | None) -> str:
    """``1536`` → ``1.5 KiB``."""
    if value is None:
        return "-"
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value} B"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group("logs")
def logs_group() -> None:
    """Log rotation and store retention (config/retention.yaml)."""


@logs_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def status_command(ctx: click.Context, as_json: bool) -> None:
    """Size of each log and its backups, and of each store (rows and oldest row per table)."""
    from recsys.retention import log_status, store_status
    from recsys.retention_config import project_config

    paths = _paths(ctx)
    config = project_config(paths)
    logs, stores = log_status(paths, config.rotation), store_status(paths)
    if as_json:
        _echo_json({"logs": logs, "stores": stores})
        return
    click.echo(f"Logs under {paths.logs_dir}")
    click.echo(_table(["log", "size", "backups", "backup size", "rotates at", "keeps"], [
        [row["log"], _size(row["bytes"]), row["backups"], _size(row["backup_bytes"]),
         _size(row["policy"].max_bytes), row["policy"].backup_count] for row in logs]) if logs else "  (none)")
    click.echo("")
    click.echo("Stores")
    table_rows = []
    for store in stores:
        if not store["exists"]:
            table_rows.append([store["store"], "-", "(missing)", "", ""])
            continue
        table_rows.append([store["store"], _size(store["bytes"]),
                           f"auto_vacuum={store['auto_vacuum']}, free {_size(store['free_bytes'])}", "", ""])
        for table, info in store["tables"].items():
            table_rows.append(["", "", table, f"{info['rows']:,}", (info["oldest"] or "-")[:19]])
    click.echo(_table(["store", "size", "table", "rows", "oldest"], table_rows))


@logs_group.command("prune")
@click.option("--dry-run", is_flag=True, help="Count and list what would be deleted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_context
def prune_command(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Delete rows past their retention, reclaim space, remove old archived models' artifacts, rotate logs."""
    from recsys.retention import apply_retention

    summary = apply_retention(_paths(ctx), dry_run=dry_run, progress=not as_json, raise_errors=False)
    if as_json:
        _echo_json(summary)
    else:
        _print_summary(summary)
    if summary["errors"]:
        raise click.ClickException("; ".join(summary["errors"]))


def _print_summary(summary: dict[str, Any]) -> None:
    dry = summary["dry_run"]
    verb = "would delete" if dry else "deleted"
    click.echo(f"Retention at {summary['now'][:19]} UTC" + (" (dry run: nothing changed)" if dry else ""))
    rows = []
    for store, info in summary["stores"].items():
        if info.get("missing"):
            rows.append([store, "(missing)", "", "", ""])
            continue
        for table, result in info["tables"].items():
            keep = "forever" if result["keep_days"] is None else f"{result['keep_days']:g} d"
            cutoff = (result["cutoff"] or "-")[:19]
            rows.append([store, table, keep, cutoff, f"{result['rows']:,}"])
    click.echo(_table(["store", "table", "keep", "older than", f"rows {verb}"], rows))
    click.echo("")
    for store, info in summary["stores"].items():
        if info.get("missing"):
            continue
        if dry:
            click.echo(f"{store}: {_size(info['bytes_before'])} on disk, auto_vacuum={info['auto_vacuum']}, "
                       f"{_size(info['free_bytes'])} free now")
        else:
            click.echo(f"{store}: {_size(info['bytes_before'])} -> {_size(info['bytes_after'])} on disk, "
                       f"{_size(info['bytes_reclaimed'])} reclaimed (vacuum: {info['vacuum']})")
    artifacts = summary["artifacts"]
    if artifacts:
        keep = artifacts["keep_archived"]
        removed = artifacts["removed"]
        what = "would remove" if dry else "removed"
        click.echo(f"archived models: {artifacts['archived']} archived, keep {'all' if keep is None else keep}; "
                   f"artifacts {what}: {len(removed)} ({_size(sum(m['bytes'] for m in removed))})")
        for model in removed:
            click.echo(f"  {model['model_id']}  {model['path']}  {_size(model['bytes'])}")
        for model in artifacts["skipped"]:
            click.echo(f"  skipped {model['model_id']}: {model['reason']}")
    logs = summary["logs"]
    if logs:
        what = "would rotate" if dry else "rotated"
        click.echo(f"logs: {logs['checked']} checked; {what}: {', '.join(logs['rotated']) or 'none'}; "
                   f"old backups {'to drop' if dry else 'dropped'}: {len(logs['backups_dropped'])}")
    for error in summary["errors"]:
        click.echo(f"error: {error}", err=True)


@logs_group.command("rotate")
@click.option("--force", is_flag=True, help="Rotate every non-empty log, not only those over their limit.")
@click.pass_context
def rotate_command(ctx: click.Context, force: bool) -> None:
    """Rotate the logs that are over their size or age now (writers also rotate on their own)."""
    from recsys.retention import rotate_logs
    from recsys.retention_config import project_config

    paths = _paths(ctx)
    result = rotate_logs(paths, project_config(paths).rotation, force=force)
    click.echo(f"{result['checked']} logs checked; rotated: {', '.join(result['rotated']) or 'none'}; "
               f"old backups dropped: {len(result['backups_dropped'])}")


@logs_group.command("vacuum")
@click.argument("stores", nargs=-1)
@click.pass_context
def vacuum_command(ctx: click.Context, stores: tuple[str, ...]) -> None:
    """Full VACUUM of STORES (default: all) into incremental auto-vacuum; blocks their writers while it runs."""
    from recsys.retention import STORE_PATHS, vacuum_store

    paths = _paths(ctx)
    for name in stores:
        if name not in STORE_PATHS:
            raise click.BadParameter(f"unknown store '{name}' (known: {', '.join(STORE_PATHS)})", param_hint="STORES")
    for name in stores or tuple(STORE_PATHS):
        path = STORE_PATHS[name](paths)
        if not path.exists():
            click.echo(f"{name}: missing")
            continue
        result = vacuum_store(path)
        click.echo(f"{name}: {_size(result['bytes_before'])} -> {_size(result['bytes_after'])}")


def register(cli: click.Group) -> None:
    """Add ``recsys logs``."""
    cli.add_command(logs_group)
