"""``recsys train`` and ``recsys runs``: monitored training runs and their history."""

from __future__ import annotations

import dataclasses

import click

from recsys.paths import ProjectPaths


def _override(params, pairs: tuple[str, ...]):
    """Apply ``--param name=value`` overrides to a params dataclass, converting to the field's type."""
    fields = {f.name: f for f in dataclasses.fields(params)}
    changes = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in fields:
            raise click.BadParameter(f"'{pair}': expected NAME=VALUE with NAME in {', '.join(fields)}",
                                     param_hint="--param")
        kind = type(getattr(params, name))
        try:
            changes[name] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
        except ValueError as exc:
            raise click.BadParameter(f"'{pair}': {name} must be {kind.__name__}", param_hint="--param") from exc
    return dataclasses.replace(params, **changes)


@click.command("train")
@click.option("--model", "model_type", type=click.Choice(["als", "bpr"]), required=True, help="Model to train.")
@click.option("--auto-select", is_flag=True, help="Select the best model in the registry after registering.")
@click.option("--param", "overrides", multiple=True, metavar="NAME=VALUE", help="Override a hyperparameter.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_obj
def train_command(paths: ProjectPaths, model_type: str, auto_select: bool, overrides: tuple[str, ...],
                  quiet: bool) -> None:
    """Train one model with full monitoring, register it, optionally select the best."""
    from recsys.cf.pipeline import default_params, train_model

    params = _override(default_params(model_type), overrides)
    result = train_model(paths, model_type, params=params, auto_select=auto_select, progress=not quiet)
    m, b = result.metrics, result.baseline
    click.echo(f"{result.model_id}: recall@10={m['recall@10']:.4f} ndcg@10={m['ndcg@10']:.4f} "
               f"(popularity ndcg@10={b['ndcg@10']:.4f}) coverage={m['coverage']:.3f}")
    if result.best:
        click.echo(f"current best: {result.best['model_id']} ({result.best['metric']}={result.best['value']:.4f})")


@click.command("runs")
@click.option("--type", "model_type", type=click.Choice(["als", "bpr"]), default=None)
@click.option("--limit", default=20, show_default=True)
@click.pass_obj
def runs_command(paths: ProjectPaths, model_type: str | None, limit: int) -> None:
    """List recent training runs."""
    from recsys.cf.training_store import list_runs, open_training_db

    conn = open_training_db(paths.training_db)
    rows = list_runs(conn, model_type, limit)
    conn.close()
    if not rows:
        click.echo("no training runs yet")
        return
    click.echo(f"{'run_id':32} {'status':10} {'recall@10':>9} {'ndcg@10':>8} {'vs pop':>8}  model_id")
    for r in rows:
        gain = f"{r['improvement_pct']:+.1f}%" if r["improvement_pct"] is not None else "-"
        recall = f"{r['recall_at_10']:.4f}" if r["recall_at_10"] is not None else "-"
        ndcg = f"{r['ndcg_at_10']:.4f}" if r["ndcg_at_10"] is not None else "-"
        click.echo(f"{r['run_id']:32} {r['status']:10} {recall:>9} {ndcg:>8} {gain:>8}  {r['model_id'] or '-'}")


@click.command("plot")
@click.argument("run_id")
@click.pass_obj
def plot_command(paths: ProjectPaths, run_id: str) -> None:
    """Write reports/training_curves_<RUN_ID>.png (loss and validation nDCG@10 per iteration)."""
    from recsys.cf.plots import plot_training_curves

    out = plot_training_curves(run_id, paths=paths)
    click.echo(str(out))


def register(cli: click.Group) -> None:
    """Attach the training commands."""
    for command in (train_command, runs_command, plot_command):
        cli.add_command(command)
