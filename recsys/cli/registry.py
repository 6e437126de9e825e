"""``recsys registry …``: list, inspect and change the model registry; check its health."""

from __future__ import annotations

import json
from typing import Any

import click

from recsys.cf.registry import ModelRegistry
from recsys.paths import ProjectPaths

_METRIC_COLUMNS = ("ndcg@10", "recall@10", "coverage")


def _registry(ctx: click.Context) -> ModelRegistry:
    paths: ProjectPaths = ctx.find_root().obj
    return ModelRegistry(paths=paths)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain left-aligned text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
             for line in [headers, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _number(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _minute(ts: str | None) -> str:
    return ts[:16] if ts else "-"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group("registry")
def registry_group() -> None:
    """Registered models, the current best, and the registry's health."""


@registry_group.command("list")
@click.option("--type", "model_type", type=click.Choice(ModelRegistry.MODEL_TYPES), default=None)
@click.option("--status", type=click.Choice(ModelRegistry.STATUSES), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_command(ctx: click.Context, model_type: str | None, status: str | None, as_json: bool) -> None:
    """List registered models (* marks the current best)."""
    registry = _registry(ctx)
    models = registry.list_models(model_type=model_type, status=status)
    if as_json:
        _echo_json(models)
        return
    if not models:
        click.echo("No models registered" + (" matching the filter." if model_type or status else "."))
        return
    best = registry.get_current_best()
    best_id = best["model_id"] if best else None
    rows = [["*" if m["model_id"] == best_id else "", m["model_id"], m["model_type"], m.get("version") or "-",
             m["status"], *(_number(m["metrics"].get(name)) for name in _METRIC_COLUMNS),
             _minute(m.get("registered_at"))] for m in models]
    click.echo(_table(["BEST", "MODEL_ID", "TYPE", "VERSION", "STATUS", "NDCG@10", "RECALL@10", "COVERAGE",
                       "REGISTERED (UTC)"], rows))


@registry_group.command("show")
@click.argument("model_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show_command(ctx: click.Context, model_id: str, as_json: bool) -> None:
    """Show one model's entry."""
    registry = _registry(ctx)
    model = registry.get_model(model_id)
    if as_json:
        _echo_json(model)
        return
    best = registry.get_current_best()
    is_best = bool(best and best["model_id"] == model_id)
    fields = ["model_id", "model_type", "version", "status", "created_at", "registered_at", "path",
              "data_version", "git_commit"]
    click.echo("\n".join(f"{name + ':':<15}{model.get(name) if model.get(name) is not None else '-'}"
                         for name in fields))
    click.echo(f"{'current best:':<15}{'yes' if is_best else 'no'}")
    for section in ("metrics", "hyperparameters", "training_info", "baseline_comparison"):
        value = model.get(section)
        if value:
            click.echo(f"{section}:")
            for key, item in value.items():
                shown = f"{item:.4f}" if section == "metrics" else json.dumps(item, default=str)
                click.echo(f"  {key}: {shown}")


@registry_group.command("select-best")
@click.option("--metric", default="ndcg@10", show_default=True)
@click.option("--min-improvement", type=float, default=0.0, show_default=True,
              help="Relative improvement needed to replace the current best (0.01 = 1%).")
@click.option("--type", "model_type", type=click.Choice(ModelRegistry.MODEL_TYPES), default=None)
@click.pass_context
def select_best_command(ctx: click.Context, metric: str, min_improvement: float, model_type: str | None) -> None:
    """Make the best active model the current best, if it improves on it."""
    result = _registry(ctx).select_best_model(metric=metric, min_improvement=min_improvement, model_type=model_type)
    if result is None:
        raise click.ClickException(f"no active model has a value for {metric}")
    if result["changed"]:
        before = f" over {result['previous_best_id']}" if result["previous_best_id"] else ""
        click.echo(f"New best model: {result['model_id']} ({metric}={_number(result['value'])}, "
                   f"{_pct(result['improvement_pct'])}{before})")
    elif result["candidate_id"] == result["model_id"]:
        click.echo(f"Kept current best: {result['model_id']} ({metric}={_number(result['value'])}) "
                   "is still the best active model")
    else:
        click.echo(f"Kept current best: {result['model_id']} ({metric}={_number(result['value'])}); "
                   f"best candidate {result['candidate_id']} is {_pct(result['improvement_pct'])}, "
                   f"not more than {min_improvement:.1%} better")


@registry_group.command("archive")
@click.argument("model_id")
@click.option("--reason", default="manual", show_default=True)
@click.pass_context
def archive_command(ctx: click.Context, model_id: str, reason: str) -> None:
    """Archive a model (not the current best)."""
    _registry(ctx).archive_model(model_id, reason=reason)
    click.echo(f"Archived {model_id} (reason={reason})")


@registry_group.command("set-status")
@click.argument("model_id")
@click.argument("status", type=click.Choice(ModelRegistry.STATUSES))
@click.pass_context
def set_status_command(ctx: click.Context, model_id: str, status: str) -> None:
    """Set a model's status (active, archived, failed)."""
    _registry(ctx).update_model_status(model_id, status)
    click.echo(f"{model_id}: status={status}")


@registry_group.command("delete")
@click.argument("model_id")
@click.option("--remove-artifacts", is_flag=True, help="Also delete the model's artifacts directory.")
@click.option("--yes", is_flag=True, help="Do not ask before removing artifacts.")
@click.pass_context
def delete_command(ctx: click.Context, model_id: str, remove_artifacts: bool, yes: bool) -> None:
    """Remove a model from the registry (not the current or previous best)."""
    registry = _registry(ctx)
    if remove_artifacts and not yes:
        path = registry.get_model(model_id)["path"]
        click.confirm(f"Delete {model_id} and remove {path}?", abort=True)
    entry = registry.delete_model(model_id, remove_artifacts=remove_artifacts)
    click.echo(f"Deleted {model_id}" + (f"; artifacts removed from {entry['path']}" if remove_artifacts else ""))


@registry_group.command("rollback")
@click.pass_context
def rollback_command(ctx: click.Context) -> None:
    """Return to the previous best model."""
    result = _registry(ctx).rollback()
    click.echo(f"Rolled back from {result['previous_best_id']} to {result['model_id']} "
               f"({result['metric']}={_number(result['value'])})")


@registry_group.command("health")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def health_command(ctx: click.Context, as_json: bool) -> None:
    """Check the registry; exit code 1 if it is unhealthy."""
    from recsys.cf.monitoring.registry_monitor import check_registry_health

    health = check_registry_health(paths=ctx.find_root().obj)
    if as_json:
        _echo_json(health)
    else:
        click.echo(f"Registry {health['registry_path']}: {health['status']}")
        for text in health["issues"]:
            click.echo(f"  issue: {text}")
        for text in health["warnings"]:
            click.echo(f"  warning: {text}")
    if health["status"] != "healthy":
        ctx.exit(1)


@registry_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stats_command(ctx: click.Context, as_json: bool) -> None:
    """Counts of models by status and type, and the current best."""
    registry = _registry(ctx)
    stats = registry.get_registry_stats()
    if as_json:
        _echo_json(stats)
        return
    best = registry.get_current_best()
    by_type = ", ".join(f"{name}={count}" for name, count in stats["by_type"].items())
    best_text = (f"{best['model_id']} ({best['metric']}={_number(best['value'])}, since {_minute(best['selected_at'])})"
                 if best else "none")
    rows = [("models", stats["total_models"]), ("active", stats["active_models"]),
            ("archived", stats["archived_models"]), ("failed", stats["failed_models"]), ("by type", by_type),
            ("current best", best_text), ("last updated", stats["last_updated"] or "-")]
    click.echo("\n".join(f"{name + ':':<14}{value}" for name, value in rows))


def register(cli: click.Group) -> None:
    """Add ``recsys registry`` to the CLI."""
    cli.add_command(registry_group)
