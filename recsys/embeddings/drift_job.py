"""The semantic drift job: newest embeddings vs the previous version, stored in ``drift_checks``, alerted on drift."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from recsys.cf.monitoring.drift_check import DRIFT_DDL
from recsys.clock import format_ts, utc_now
from recsys.db import apply_schema, connect
from recsys.embeddings.drift import DEFAULT_THRESHOLD, detect_semantic_drift
from recsys.embeddings.freshness import Notifier
from recsys.embeddings.store import latest, load_embeddings, previous
from recsys.paths import ProjectPaths

# Shared with the CF drift checks of the monitor (same table, check_type tells them apart).
CHECK_TYPE = "semantic"
EFFECT_METRIC = "share_below_threshold"
# Backends whose vector basis is fitted per build; their versions are compared after a rotation.
PER_BUILD_BASIS = {"tfidf"}


def compare_versions(old_path: str | os.PathLike, new_path: str | os.PathLike,
                     threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Drift result between two embedding files, paired by product id; ``status`` ok / drift / incomparable."""
    old, new = load_embeddings(old_path), load_embeddings(new_path)
    context = {
        "old_path": str(old_path), "new_path": str(new_path),
        "old_version": old.metadata.get("version"), "new_version": new.metadata.get("version"),
        "old_model": old.metadata.get("model"), "new_model": new.metadata.get("model"),
        "model_changed": (old.metadata.get("model"), old.metadata.get("backend"))
        != (new.metadata.get("model"), new.metadata.get("backend")),
        "n_old": len(old), "n_new": len(new), "data_version": new.metadata.get("data_version"),
    }
    if old.dim != new.dim:
        # A different model: every product moved to another space, so the answer is "all changed".
        return {"status": "incomparable", "drift_detected": True, "mean_similarity": None, "std_similarity": None,
                "min_similarity": None, "num_drifted": None, "drifted_products": [],
                "recommendation": f"Embedding model changed (dim {old.dim} → {new.dim}); rebuild every index "
                                  "that uses embeddings", "threshold": threshold, **context}
    both_per_build = {old.metadata.get("backend"), new.metadata.get("backend")} <= PER_BUILD_BASIS
    result = detect_semantic_drift(old.embeddings, new.embeddings, threshold=threshold, old_ids=old.product_ids,
                                   new_ids=new.product_ids, align="procrustes" if both_per_build else None)
    return {"status": "drift" if result["drift_detected"] else "ok", **result, **context}


def store_drift_check(conn, result: dict, *, now: datetime | None = None) -> int:
    """Insert one ``drift_checks`` row (check_type 'semantic') for ``result``; returns its id."""
    apply_schema(conn, DRIFT_DDL)  # the one definition of the table, shared with CF drift
    compared = result.get("n_compared") or 0
    effect = (result["num_drifted"] / compared) if compared and result.get("num_drifted") is not None else None
    cursor = conn.execute(
        "INSERT INTO drift_checks (timestamp, check_type, drift_detected, status, statistic, p_value, effect_size,"
        " effect_metric, n_historical, n_recent, details, data_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (format_ts(now or utc_now()), CHECK_TYPE, int(bool(result["drift_detected"])), result["status"],
         result.get("mean_similarity"), None, effect, EFFECT_METRIC if effect is not None else None,
         result.get("n_old"), result.get("n_new"),
         json.dumps(result, ensure_ascii=False, default=str), result.get("data_version")),
    )
    conn.commit()
    return int(cursor.lastrowid)


def run_semantic_drift_check(paths: ProjectPaths, *, threshold: float = DEFAULT_THRESHOLD,
                             notifier: Notifier | None = None, now: datetime | None = None,
                             old_path: str | os.PathLike | None = None,
                             new_path: str | os.PathLike | None = None) -> dict:
    """Compare the newest embeddings with the previous version (or the given files), store and alert.

    With fewer than two versions there is nothing to compare: returns ``status='skipped'`` and stores nothing.
    """
    old_path = old_path or previous(paths)
    new_path = new_path or latest(paths)
    if old_path is None or new_path is None:
        return {"status": "skipped", "drift_detected": False, "reason": "fewer than two embedding versions"}
    result = compare_versions(old_path, new_path, threshold)
    conn = connect(paths.monitor_db)
    try:
        result["check_id"] = store_drift_check(conn, result, now=now)
    finally:
        conn.close()
    if result["drift_detected"] and notifier is not None:
        notifier("BERT Embeddings Semantic Drift", _alert_message(result, old_path, new_path), "warning")
    return result


def _alert_message(result: dict, old_path, new_path) -> str:
    pair = f"{Path(old_path).name} → {Path(new_path).name}"
    if result["status"] == "incomparable":
        return f"{pair}: {result['recommendation']}."
    return (f"{pair}: mean similarity {result['mean_similarity']:.4f} < {result['threshold']}; "
            f"{result['num_drifted']} of {result['n_compared']} products below the threshold "
            f"(lowest: {result['drifted_products']}). {result['recommendation']}.")
