"""``recsys embeddings build|info|drift`` end to end on a generated catalogue in a temp project."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
from click.testing import CliRunner

from recsys.cli import cli
from recsys.embeddings.store import list_versions, load_embeddings


def _run(paths, *args):
    return CliRunner().invoke(cli, ["--home", str(paths.root), "embeddings", *args])


def test_build_info_drift(paths, catalogue):
    paths.data_dir.mkdir(parents=True)
    catalogue.to_parquet(paths.products)
    first = _run(paths, "build", "--dim", "32")
    assert first.exit_code == 0, first.output
    assert "version 1" in first.output and "dim=32" in first.output and f"n={len(catalogue)}" in first.output
    assert "skipped" in first.output
    # Catalogue changes: 5 products renamed into another category, 2 removed, 1 added.
    changed = catalogue.copy()
    changed.loc[:4, "description"] = "son môi màu đỏ cam lì mịn giữ màu lâu trôi"
    changed.loc[:4, "name"] = "Son kem lì đỏ cam"
    changed = changed.drop(index=[10, 11])
    extra = changed.iloc[[0]].assign(product_id=99999)
    changed = pd.concat([changed, extra], ignore_index=True)
    changed.to_parquet(paths.products)
    second = _run(paths, "build", "--dim", "32")
    assert second.exit_code == 0, second.output
    assert "version 2" in second.output and "added=1" in second.output and "removed=2" in second.output
    loaded = load_embeddings(list_versions(paths)[-1])
    assert loaded.metadata["data_version"].startswith("sha256:") and len(loaded) == len(changed)

    info = _run(paths, "info", "--json")
    assert info.exit_code == 0, info.output
    record = json.loads(info.output)
    assert record["version"] == 2 and record["dim"] == 32 and record["age_days"] == 0 and record["versions"] == 2

    drift = _run(paths, "drift")
    assert drift.exit_code == 0, drift.output
    conn = sqlite3.connect(paths.monitor_db)
    rows = conn.execute("SELECT status, details FROM drift_checks WHERE check_type = 'semantic'").fetchall()
    conn.close()
    assert len(rows) == 2  # after the second build, and the explicit check
    details = json.loads(rows[-1][1])
    assert rows[-1][0] == "ok" and details["aligned"] == "procrustes"
    # The renamed products drift (1002 was a lipstick already, so it may stay close); nothing else does.
    perturbed = set(catalogue["product_id"].iloc[:5].tolist())
    assert perturbed - {1002} <= set(details["drifted_products"]) <= perturbed


def test_missing_catalogue_is_a_one_line_error(paths):
    result = _run(paths, "build")
    assert result.exit_code == 1
    assert "products.parquet" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output
    info = _run(paths, "info")
    assert info.exit_code == 1 and "no embeddings" in info.output


def test_missing_transformer_model_is_named(paths, catalogue):
    paths.data_dir.mkdir(parents=True)
    catalogue.to_parquet(paths.products)
    result = _run(paths, "build", "--backend", "sentence-transformer", "--model", str(paths.root / "no-model"))
    assert result.exit_code == 1 and "sentence-transformer" in result.output and "does not exist" in result.output
