"""The monitor's jobs: each is ``job(ctx) -> summary`` and calls the package's own functions.

Imports are inside the jobs so the monitor starts (and ``--once`` runs one job) without loading
every subsystem.
"""

from __future__ import annotations

from datetime import timedelta

from recsys.monitor.scheduler import Job, MonitorContext


def _notifier(ctx: MonitorContext):
    """``(subject, message, severity)`` → send_alert over the configured channels (tests inject one)."""
    if "notifier" in ctx.extras:
        return ctx.extras["notifier"]
    from recsys.alerts import send_alert

    def notify(subject: str, message: str, severity: str = "info"):
        return send_alert(subject, message, severity, paths=ctx.paths)

    return notify


def aggregate_service_metrics(ctx: MonitorContext):
    """Last minute of ``requests`` → one ``service_health`` row."""
    from recsys.service.aggregate import aggregate_metrics

    return aggregate_metrics(ctx.paths, now=ctx.clock())


def loader_stats(ctx: MonitorContext):
    """Check that every service worker keeps snapshotting its model loader (``model_loader_stats``).

    The loader's counters live inside each worker, so the workers write the snapshots themselves
    every minute; the monitor reads the newest one per worker and warns when none is recent — a
    service that stopped recording is as bad as one that stopped answering.
    """
    from recsys.service.aggregate import latest_loader_stats

    now = ctx.clock()
    snapshots = latest_loader_stats(ctx.paths, now=now, within=timedelta(minutes=3))
    if not snapshots:
        ctx.logger.warning("Loader stats | no snapshot from any service worker in the last 3 minutes")
    return {"workers": len(snapshots), "snapshots": snapshots}


def check_alerts(ctx: MonitorContext):
    """Evaluate every alert rule over its window; notify on firing, repeat and resolve."""
    from recsys.alerts import evaluate_alerts
    from recsys.alerts.engine import outcome_dict

    engine = ctx.extras.get("alert_engine")
    if engine is None:
        return evaluate_alerts(ctx.paths, clock=ctx.clock)
    return [outcome_dict(o) for o in engine.evaluate()]


def registry_health(ctx: MonitorContext):
    """The spec's four registry checks; logged, and visible to the registry_health alert rule."""
    from recsys.cf.monitoring.registry_monitor import check_registry_health

    health = check_registry_health(paths=ctx.paths)
    level = ctx.logger.info if health["status"] == "healthy" else ctx.logger.warning
    level(f"Registry health | status={health['status']}, issues={health['issues']}, warnings={health['warnings']}")
    return health


def weekly_drift_check(ctx: MonitorContext):
    """Rating and popularity drift of the last week vs before (CF), and semantic drift of the embeddings."""
    from recsys.cf.monitoring.drift_check import weekly_drift_check as run_drift

    results = {"cf": run_drift(ctx.paths, now=ctx.clock(), notifier=_notifier(ctx))}
    try:
        from recsys.embeddings import run_semantic_drift_check
    except ImportError:
        return results
    results["semantic"] = run_semantic_drift_check(ctx.paths, notifier=_notifier(ctx))
    return results


def check_retrain_trigger(ctx: MonitorContext):
    """Decide whether to retrain; if so alert, retrain ALS then BPR with --auto-select (one at a time)."""
    from recsys.monitor.retrain import run_retrain_check

    return run_retrain_check(ctx, notifier=_notifier(ctx))


def aggregate_reranking(ctx: MonitorContext):
    """Last hour of reranked vs CF-only requests → one ``reranking_metrics`` row."""
    from recsys.embeddings import aggregate_reranking_metrics

    return aggregate_reranking_metrics(ctx.paths, now=ctx.clock(), window=timedelta(hours=1))


def data_quality(ctx: MonitorContext):
    """The data-quality checks on the processed data, stored; failures feed the data_quality alert rule."""
    from recsys.data.dataset import load_processed
    from recsys.data.ingest import check_dataset

    report = check_dataset(ctx.paths, load_processed(ctx.paths), clock=ctx.clock)
    return {"passed": report.passed, "failed": [c.name for c in report.checks if not c.passed]}


def embedding_freshness(ctx: MonitorContext):
    """Age of the newest embeddings; a warning alert when stale."""
    from recsys.embeddings import check_embedding_freshness, latest

    newest = latest(ctx.paths)
    if newest is None:
        return {"status": "no embeddings"}
    return {"age_days": check_embedding_freshness(newest, now=ctx.clock(), notifier=_notifier(ctx))}


def retention(ctx: MonitorContext):
    """Prune raw rows past their retention and reclaim space."""
    from recsys.retention import apply_retention

    return apply_retention(ctx.paths, now=ctx.clock())


JOBS: dict[str, Job] = {
    "aggregate_service_metrics": aggregate_service_metrics,
    "loader_stats": loader_stats,
    "check_alerts": check_alerts,
    "registry_health": registry_health,
    "weekly_drift_check": weekly_drift_check,
    "check_retrain_trigger": check_retrain_trigger,
    "aggregate_reranking": aggregate_reranking,
    "data_quality": data_quality,
    "embedding_freshness": embedding_freshness,
    "retention": retention,
}
