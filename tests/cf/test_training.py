"""Training end to end on generated data: monitoring, stores, registry, artifacts, failures."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recsys.cf.artifacts import load_artifacts
from recsys.cf.evaluation import evaluate_factors
from recsys.cf.matrix import build_training_data
from recsys.cf.pipeline import train_model
from recsys.cf.plots import RunNotFoundError, plot_training_curves
from recsys.cf.registry import ModelRegistry
from recsys.cf.trainers import AlsParams
from recsys.data.dataset import load_processed
from recsys.data.generate import GenerateConfig, generate
from recsys.data.ingest import ingest
from recsys.errors import TrainingError
from recsys.paths import ProjectPaths

REPO = Path(__file__).resolve().parents[2]
TS = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The `small` generated shop, with ALS then BPR trained and auto-selected."""
    root = tmp_path_factory.mktemp("shop")
    paths = ProjectPaths.from_env(root)
    interactions, products = generate(GenerateConfig(preset="small", seed=7), progress=False)
    assert ingest(paths, interactions, products, {"kind": "test"}).written
    als = train_model(paths, "als", auto_select=True, progress=False)
    bpr = train_model(paths, "bpr", auto_select=True, progress=False)
    return paths, als, bpr


def test_both_models_beat_popularity(trained):
    _, als, bpr = trained
    for result in (als, bpr):
        assert result.metrics["ndcg@10"] > 1.2 * result.baseline["ndcg@10"], result.model_type
        assert result.metrics["recall@10"] > result.baseline["recall@10"], result.model_type


def test_training_logs_follow_the_spec_format(trained):
    paths, als, bpr = trained
    als_lines = paths.training_log("als").read_text().splitlines()
    assert re.fullmatch(rf"{TS} \| INFO \| Training started \| factors=64, reg=0\.01, alpha=40\.0, .*", als_lines[0])
    iterations = [line for line in als_lines if "| Iteration " in line]
    assert len(iterations) == 15
    assert all(re.fullmatch(rf"{TS} \| INFO \| Iteration \d+/15 \| loss=\d+\.\d{{4}}, time=\d+\.\ds", line)
               for line in iterations)
    tail = "\n".join(als_lines)
    assert re.search(rf"{TS} \| INFO \| Training completed \| total_time=\d+\.\ds", tail)
    assert re.search(rf"{TS} \| INFO \| Evaluation \| recall@10=0\.\d{{3}}, ndcg@10=0\.\d{{3}}", tail)
    assert re.search(rf"{TS} \| INFO \| Artifacts saved \| path=artifacts/cf/als/v1_\d{{8}}_\d{{6}}$", tail, re.M)
    assert f"| INFO | New best model selected: {als.model_id} (ndcg@10=" in tail

    bpr_text = paths.training_log("bpr").read_text()
    line = rf"^{TS} \| INFO \| "
    assert re.search(line + r"Training started \| factors=64, lr=0\.2, reg=0\.01, epochs=300", bpr_text, re.M)
    assert re.search(line + r"Epoch 1/300 \| avg_loss=\d\.\d{4}, samples=\d+, time=\d+\.\ds$", bpr_text, re.M)
    assert re.search(line + r"Validation \| recall@10=0\.\d{3}, ndcg@10=0\.\d{3}$", bpr_text, re.M)
    stopped = load_artifacts(bpr.artifacts_path).metadata["stopped_early"]
    early = re.search(line + r"Early stopping \| best_epoch=(\d+), best_ndcg@10=0\.\d{3}$", bpr_text, re.M)
    assert bool(early) == stopped
    if stopped:
        assert int(early.group(1)) < 300


def test_every_training_runs_column_is_filled(trained):
    paths, als, bpr = trained
    conn = sqlite3.connect(paths.training_db)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT * FROM training_runs").fetchall()
    assert len(rows) == 2
    for row in rows:
        empty = [key for key in row.keys() if row[key] is None and key != "error"]
        assert empty == [], f"{row['run_id']}: {empty}"
        assert row["status"] == "completed" and row["registry_status"] == "active"
        assert row["data_version"] == load_processed(paths).data_version
    als_row = conn.execute("SELECT * FROM training_runs WHERE run_id = ?", (als.run_id,)).fetchone()
    assert als_row["model_id"] == als.model_id
    assert als_row["improvement_pct"] == pytest.approx(
        (als.metrics["recall@10"] / als.baseline["recall@10"] - 1) * 100)
    n_iter = conn.execute("SELECT COUNT(*), COUNT(loss), COUNT(validation_ndcg) FROM iteration_metrics "
                          "WHERE run_id = ?", (als.run_id,)).fetchone()
    assert tuple(n_iter) == (15, 15, 3)  # validation every 5 iterations


def test_auto_select_keeps_the_better_model(trained):
    paths, als, bpr = trained
    best = ModelRegistry(paths=paths).get_current_best()
    winner = max((als, bpr), key=lambda r: r.metrics["ndcg@10"])
    assert best["model_id"] == winner.model_id
    assert best["value"] == pytest.approx(winner.metrics["ndcg@10"])


def test_artifacts_round_trip_to_the_same_recommendations(trained):
    paths, als, _ = trained
    loaded = load_artifacts(als.artifacts_path)
    data = build_training_data(load_processed(paths).interactions)
    again = evaluate_factors(loaded.user_factors, loaded.item_factors, data.test, exclude=loaded.seen)
    assert again == pytest.approx(als.metrics)
    row = loaded.user_index(int(loaded.user_ids[3]))
    items, scores = loaded.recommend(row, 10)
    expected = np.argsort(-np.where(np.isin(np.arange(len(loaded.item_ids)), loaded.seen_items(row)), -np.inf,
                                    loaded.item_factors @ loaded.user_factors[row]), kind="stable")[:10]
    assert items.tolist() == expected.tolist()
    assert loaded.user_index(-5) is None


def test_failed_run_is_recorded_and_raised(trained):
    paths, _, _ = trained
    with pytest.raises(TrainingError, match="NaN"):
        train_model(paths, "als", params=AlsParams(regularization=float("nan"), iterations=2), progress=False)
    conn = sqlite3.connect(paths.training_db)
    status, error = conn.execute(
        "SELECT status, error FROM training_runs ORDER BY started_at DESC LIMIT 1").fetchone()
    assert status == "failed" and "TrainingError" in error
    log = paths.training_log("als").read_text()
    assert re.search(rf"{TS} \| ERROR \| Training failed \| error=TrainingError: ", log)


def test_training_curves_png_and_injection_is_harmless(trained):
    paths, als, _ = trained
    out = plot_training_curves(als.run_id, paths=paths)
    assert out == paths.reports_dir / f"training_curves_{als.run_id}.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    before = sqlite3.connect(paths.training_db).execute("SELECT COUNT(*) FROM training_runs").fetchone()
    for evil in ("x' OR '1'='1", "x'; DROP TABLE training_runs; --"):
        with pytest.raises(RunNotFoundError):
            plot_training_curves(evil, paths=paths)
    after = sqlite3.connect(paths.training_db).execute("SELECT COUNT(*) FROM training_runs").fetchone()
    assert before == after


def test_spec_scripts_run_from_the_command_line(trained, tmp_path):
    paths, als, _ = trained
    env = {"RECSYS_HOME": str(paths.root), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, str(REPO / "scripts/plot_training_progress.py"), als.run_id],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(f"training_curves_{als.run_id}.png")
    bad = subprocess.run([sys.executable, str(REPO / "scripts/train_cf.py"), "--model", "als", "--param", "factors=x"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "factors must be int" in bad.stderr and "Traceback" not in bad.stderr
