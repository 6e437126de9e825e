"""The retrain action of the monitor: train ALS then BPR as subprocesses, then confirm the service reloaded.

The decision, the lock (one retrain at a time) and the ``retrain_decisions`` record are
``recsys.cf.monitoring.retrain``'s; this module supplies the runner that really trains.
"""

from __future__ import annotations

import subprocess
import sys
import time

from recsys.clock import format_ts
from recsys.db import connect
from recsys.errors import TrainingError
from recsys.paths import ProjectPaths

RETRAIN_ORDER = ("als", "bpr")
TRAIN_TIMEOUT_S = 3600


def train_subprocess_runner(paths: ProjectPaths) -> dict:
    """``recsys train --model als --auto-select`` then the same for BPR; raises if either fails."""
    from recsys.cf.registry import ModelRegistry

    before = (ModelRegistry(paths=paths).get_current_best() or {}).get("model_id")
    started = format_ts()
    for model_type in RETRAIN_ORDER:
        done = subprocess.run(
            [sys.executable, "-m", "recsys", "--home", str(paths.root), "train", "--model", model_type,
             "--auto-select", "--quiet"],
            capture_output=True, text=True, timeout=TRAIN_TIMEOUT_S, check=False,
        )
        if done.returncode != 0:
            raise TrainingError(f"retrain of {model_type} failed: {done.stderr.strip()[-500:]}")
    after = (ModelRegistry(paths=paths).get_current_best() or {}).get("model_id")
    return {"previous_best": before, "current_best": after, "changed": before != after, "started": started}


def wait_for_reload(paths: ProjectPaths, model_id: str, since: str, timeout_s: float = 30.0) -> bool:
    """Whether a service recorded a successful reload to ``model_id`` after ``since`` (polls its store)."""
    if not paths.service_db.exists():
        return False
    deadline = time.monotonic() + timeout_s
    conn = connect(paths.service_db)
    try:
        while True:
            try:
                row = conn.execute(
                    "SELECT 1 FROM model_reload_events WHERE new_model_id = ? AND status = 'ok' AND timestamp >= ?",
                    (model_id, since),
                ).fetchone()
            except Exception:  # noqa: BLE001 - no service store yet: nothing reloaded
                return False
            if row or time.monotonic() >= deadline:
                return bool(row)
            time.sleep(0.5)
    finally:
        conn.close()


def run_retrain_check(ctx, notifier) -> dict:
    """The monitor job: decide, retrain if needed, and record whether the service picked up the new best."""
    from recsys.cf.monitoring.retrain import check_retrain_trigger

    runner = ctx.extras.get("retrain_runner", train_subprocess_runner)
    outcome = check_retrain_trigger(ctx.paths, runner, now=ctx.clock(), notifier=notifier)
    result = outcome.get("result") or {}
    if result.get("changed") and result.get("current_best"):
        timeout = ctx.extras.get("reload_timeout_s", 30.0)
        reloaded = wait_for_reload(ctx.paths, result["current_best"], result["started"], timeout)
        outcome["service_reloaded"] = reloaded
        message = f"Retrain selected {result['current_best']}; service reloaded={reloaded}"
        (ctx.logger.info if reloaded else ctx.logger.warning)(f"Retrain | {message}")
    return outcome
