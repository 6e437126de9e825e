"""Prometheus rules and the Grafana dashboard: checked by the real promtool, and against what /metrics exposes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from recsys.cli import cli
from recsys.errors import ConfigError
from recsys.export import metrics as m
from recsys.export.grafana import DASHBOARD_UID, grafana_dashboard
from recsys.export.prometheus import load_alert_rules, prometheus_duration, prometheus_rules, render_rules

SPEC_CONFIG = Path(__file__).with_name("alerts_config.yaml")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package `prometheus`; "
                                    "scripts/install_test_deps.sh installs it)")
REC = '{endpoint="/recommend"}'
SOURCE = "config/alerts_config.yaml"


@pytest.fixture
def rules_file(tmp_path) -> Path:
    out = tmp_path / "recsys_rules.yml"
    out.write_text(render_rules(load_alert_rules(SPEC_CONFIG), SOURCE))
    return out


def exported(config: Path = SPEC_CONFIG) -> dict[str, dict]:
    document, _ = prometheus_rules(load_alert_rules(config), source=SOURCE)
    return {rule["alert"]: rule for rule in document["groups"][0]["rules"]}


def promtool_test(tmp_path: Path, rules_file: Path, tests: list[dict]) -> subprocess.CompletedProcess:
    spec = {"rule_files": [str(rules_file)], "evaluation_interval": "1m", "tests": tests}
    test_file = tmp_path / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    return subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)


def expect(rule: dict, eval_time: str, fires: bool) -> dict:
    alerts = [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}] if fires else []
    return {"eval_time": eval_time, "alertname": rule["alert"], "exp_alerts": alerts}


def test_spec_rules_map_to_promql_with_the_same_thresholds_and_severities():
    rules = exported()
    assert set(rules) == {"high_latency", "high_error_rate", "high_fallback_rate", "model_reload_failed",
                          "no_best_model"}
    assert rules["high_latency"]["expr"].endswith("> 200") and "[5m]" in rules["high_latency"]["expr"]
    assert rules["high_error_rate"]["expr"].endswith("> 0.05")
    assert rules["high_fallback_rate"]["expr"].endswith("> 0.3") and "[1h]" in rules["high_fallback_rate"]["expr"]
    assert rules["model_reload_failed"]["expr"] == f"sum(increase({m.RELOAD_FAILURES_TOTAL}[1m])) > 0"
    assert rules["no_best_model"]["expr"] == f"absent({m.MODEL_INFO})"
    assert {name: r["labels"]["severity"] for name, r in rules.items()} == {
        "high_latency": "warning", "high_error_rate": "critical", "high_fallback_rate": "warning",
        "model_reload_failed": "warning", "no_best_model": "critical"}
    for rule in rules.values():
        assert m.series_names(rule["expr"]) <= m.EXPOSED_SERIES, rule["expr"]


def test_rules_without_a_prometheus_metric_are_listed_not_faked(rules_file):
    text = rules_file.read_text()
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any("data_drift (drift_detected)" in line for line in header)
    assert any("registry_health (registry_status)" in line for line in header)
    assert "alert: data_drift" not in text and "alert: registry_health" not in text


def test_for_below_and_durations(tmp_path):
    config = tmp_path / "alerts.yaml"
    config.write_text(yaml.safe_dump({"alerts": [
        {"name": "slow", "metric": "avg_latency_ms", "threshold": 200, "window": "5min", "for": "10min",
         "severity": "warning", "action": "email", "repeat_interval": "4hours"},
        {"name": "quiet", "metric": "requests_per_minute", "threshold": 1, "window": "15min", "condition": "below",
         "severity": "info", "action": "email"},
    ]}))
    rules = exported(config)
    assert rules["slow"]["for"] == "10m" and rules["slow"]["annotations"]["repeat_interval"] == "4h"
    assert rules["quiet"]["expr"].endswith("< 1") and "for" not in rules["quiet"]
    assert [prometheus_duration(t) for t in ("5min", "1hour", "weekly", "30s", "2 days")] == ["5m", "1h", "1w",
                                                                                             "30s", "2d"]


@pytest.mark.parametrize("entry, field", [
    ({"name": "x", "metric": "error_rate", "threshold": 1, "window": "fortnight", "severity": "info"}, "window"),
    ({"name": "x", "metric": "error_rate", "window": "5min", "severity": "info"}, "threshold"),
    ({"name": "x", "threshold": 1, "window": "5min", "severity": "info"}, "metric"),
    ({"name": "x", "metric": "error_rate", "threshold": 1, "window": "5min", "severity": "info",
      "condition": "sideways"}, "condition"),
])
def test_bad_config_names_the_rule_and_field(tmp_path, entry, field):
    config = tmp_path / "alerts.yaml"
    config.write_text(yaml.safe_dump({"alerts": [entry]}))
    with pytest.raises(ConfigError) as caught:
        load_alert_rules(config)
    assert caught.value.entry == "x" and caught.value.field == field


@needs_promtool
def test_promtool_check_rules_accepts_the_file(rules_file):
    result = subprocess.run([PROMTOOL, "check", "rules", str(rules_file)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


@needs_promtool
def test_promtool_latency_above_threshold_fires_below_does_not(tmp_path, rules_file):
    rule = exported()["high_latency"]
    # 100 requests a minute taking 30 s in all: 300 ms average (> 200); then 10 s: 100 ms (< 200).
    slow = [{"series": f"{m.LATENCY}_sum{REC}", "values": "0+30x20"},
            {"series": f"{m.LATENCY}_count{REC}", "values": "0+100x20"}]
    fast = [{"series": f"{m.LATENCY}_sum{REC}", "values": "0+10x20"},
            {"series": f"{m.LATENCY}_count{REC}", "values": "0+100x20"}]
    result = promtool_test(tmp_path, rules_file, [
        {"interval": "1m", "input_series": slow, "alert_rule_test": [expect(rule, "10m", True)]},
        {"interval": "1m", "input_series": fast, "alert_rule_test": [expect(rule, "10m", False)]},
    ])
    assert result.returncode == 0, result.stdout + result.stderr
    # And the check is not vacuous: claiming the fast series fires is a failed test.
    result = promtool_test(tmp_path, rules_file, [
        {"interval": "1m", "input_series": fast, "alert_rule_test": [expect(rule, "10m", True)]}])
    assert result.returncode != 0


@needs_promtool
def test_promtool_error_fallback_reload_and_missing_model(tmp_path, rules_file):
    rules = exported()
    requests = {"series": f'{m.REQUESTS_TOTAL}{{endpoint="/recommend",status="200"}}', "values": "0+100x90"}
    model = {"series": f'{m.MODEL_INFO}{{model_id="als_v2",model_version="v2",model_type="als"}}', "values": "1x90"}
    result = promtool_test(tmp_path, rules_file, [
        {"interval": "1m",
         "input_series": [requests, {"series": f"{m.ERRORS_TOTAL}{REC}", "values": "0+10x90"},
                          {"series": f'{m.FALLBACK_TOTAL}{{method="popularity"}}', "values": "0+40x90"},
                          {"series": m.RELOAD_FAILURES_TOTAL, "values": "0x10 1x80"}],
         "alert_rule_test": [expect(rules["high_error_rate"], "10m", True),     # 10% > 5%
                             expect(rules["high_fallback_rate"], "70m", True),  # 40% > 30% over 1h
                             expect(rules["model_reload_failed"], "11m", True),
                             expect(rules["model_reload_failed"], "30m", False),
                             expect(rules["no_best_model"], "10m", True)]},
        {"interval": "1m",
         "input_series": [requests, model, {"series": f"{m.ERRORS_TOTAL}{REC}", "values": "0+1x90"},
                          {"series": f'{m.FALLBACK_TOTAL}{{method="popularity"}}', "values": "0+10x90"}],
         "alert_rule_test": [expect(rules["high_error_rate"], "10m", False),    # 1% < 5%
                             expect(rules["high_fallback_rate"], "70m", False),
                             expect(rules["no_best_model"], "10m", False)]},
    ])
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_for_holds_the_alert_pending(tmp_path):
    config = tmp_path / "alerts.yaml"
    config.write_text(yaml.safe_dump({"alerts": [
        {"name": "slow", "metric": "avg_latency_ms", "threshold": 200, "window": "5min", "for": "10min",
         "severity": "warning", "action": "email"}]}))
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(render_rules(load_alert_rules(config), SOURCE))
    rule = exported(config)["slow"]
    slow = [{"series": f"{m.LATENCY}_sum{REC}", "values": "0+30x30"},
            {"series": f"{m.LATENCY}_count{REC}", "values": "0+100x30"}]
    result = promtool_test(tmp_path, rules_file, [{"interval": "1m", "input_series": slow, "alert_rule_test": [
        expect(rule, "8m", False), expect(rule, "20m", True)]}])
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_dashboard_is_provisionable_and_uses_only_exposed_metrics():
    board = grafana_dashboard()
    assert board["uid"] == DASHBOARD_UID and board["id"] is None
    assert json.loads(json.dumps(board)) == board
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    exprs = [t["expr"] for panel in board["panels"] for t in panel["targets"]]
    for expr in exprs:
        names = m.series_names(expr)
        assert names and names <= m.EXPOSED_SERIES, expr
    used = set().union(*(m.series_names(e) for e in exprs))
    assert {m.REQUESTS_TOTAL, f"{m.LATENCY}_bucket", m.FALLBACK_TOTAL, m.ERRORS_TOTAL, m.RELOADS_TOTAL,
            m.RELOAD_FAILURES_TOTAL} <= used
    assert sum("histogram_quantile(0.95" in e for e in exprs) == 1
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"] and panel["gridPos"]["w"] > 0


def test_series_names_reads_metric_names_only():
    expr = ('histogram_quantile(0.95, sum by (le, endpoint) (rate(recsys_request_latency_seconds_bucket'
            '{endpoint="/recommend", status=~"2.."}[$__rate_interval]))) / ignoring(method) group_left foo_total')
    assert m.series_names(expr) == {"recsys_request_latency_seconds_bucket", "foo_total"}


def test_cli_writes_both_files(tmp_path, paths):
    paths.config_dir.mkdir(parents=True)
    shutil.copy(SPEC_CONFIG, paths.config_dir / "alerts_config.yaml")
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "prometheus-rules", "--out", str(tmp_path / "out" / "rules.yml")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "rules.yml").read_text()
    assert "from config/alerts_config.yaml" in text
    assert "not exported: data_drift" in result.output  # stderr is mixed into output by CliRunner
    result = runner.invoke(cli, ["export", "grafana-dashboard"])
    assert result.exit_code == 0 and json.loads(result.stdout)["uid"] == DASHBOARD_UID


def test_cli_missing_config_is_a_one_line_error(paths):
    result = CliRunner().invoke(cli, ["export", "prometheus-rules"])
    assert result.exit_code != 0
    assert "alerts_config.yaml" in result.output and "Traceback" not in result.output
