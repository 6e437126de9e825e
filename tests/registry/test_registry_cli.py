"""``recsys registry …`` through click's test runner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from recsys.cli import cli


def run(paths, *args: str):
    return CliRunner().invoke(cli, ["--home", str(paths.root), "registry", *args])


def test_list_show_stats(registry, add, paths):
    a = add("als", "v1_20250115_103000", 0.18)
    b = add("bpr", "v1_20250115_120000", 0.2)
    registry.select_best_model()
    result = run(paths, "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["BEST", "MODEL_ID", "TYPE", "VERSION", "STATUS", "NDCG@10", "RECALL@10",
                                "COVERAGE", "REGISTERED", "(UTC)"]
    assert lines[2].split()[:3] == [a, "als", "v1"] and lines[3].split()[:2] == ["*", b]
    assert run(paths, "list", "--type", "als").output.count("_v1_") == 1
    assert json.loads(run(paths, "list", "--json").output)[1]["model_id"] == b
    shown = run(paths, "show", b)
    assert shown.exit_code == 0 and "current best:  yes" in shown.output and "ndcg@10: 0.2000" in shown.output
    stats = run(paths, "stats")
    assert "models:       2" in stats.output and f"current best: {b}" in stats.output
    assert json.loads(run(paths, "stats", "--json").output)["by_type"] == {"als": 1, "bpr": 1}


def test_unknown_model_is_one_friendly_line(paths):
    result = run(paths, "show", "als_nope")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no model 'als_nope' in the registry"
    assert "Traceback" not in result.output


def test_select_archive_delete_rollback(registry, add, paths):
    a = add("als", "v1_20250115_103000", 0.18)
    selected = run(paths, "select-best")
    assert selected.exit_code == 0 and selected.output.startswith(f"New best model: {a} (ndcg@10=0.1800, n/a")
    b = add("bpr", "v1_20250115_120000", 0.181)
    kept = run(paths, "select-best", "--min-improvement", "0.05")
    assert kept.exit_code == 0 and kept.output.startswith(f"Kept current best: {a}")
    assert f"best candidate {b} is +0.6%" in kept.output
    assert run(paths, "select-best", "--metric", "map@10").output.strip() == (
        "Error: no active model has a value for map@10")
    assert "over " + a in run(paths, "select-best").output
    refused = run(paths, "archive", b)
    assert refused.exit_code == 1 and "current best" in refused.output
    rolled = run(paths, "rollback")
    assert rolled.exit_code == 0 and rolled.output.strip() == f"Rolled back from {b} to {a} (ndcg@10=0.1800)"
    assert run(paths, "archive", b, "--reason", "regression").exit_code == 0
    assert registry.get_model(b)["archive_reason"] == "regression"
    assert run(paths, "set-status", b, "failed").exit_code == 0
    assert run(paths, "delete", b, "--remove-artifacts", "--yes").exit_code == 0
    assert not (paths.cf_artifacts / "bpr" / "v1_20250115_120000").exists()
    assert run(paths, "rollback").output.startswith("Error: cannot roll back")


def test_health_exit_code(registry, add, paths):
    add("als", "v1_20250115_103000", 0.18)
    unhealthy = run(paths, "health")
    assert unhealthy.exit_code == 1 and "issue: No current best model selected" in unhealthy.output
    registry.select_best_model()
    healthy = run(paths, "health")
    assert healthy.exit_code == 0 and healthy.output.strip().endswith(": healthy")
    paths.registry_file.write_text("garbage")
    corrupt = run(paths, "health", "--json")
    assert corrupt.exit_code == 1
    assert json.loads(corrupt.output)["issues"][0].startswith("Registry file corruption:")
    assert run(paths, "list").output.startswith("Error: registry file")
