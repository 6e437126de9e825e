"""Every page renders, empty and filled, in Streamlit's AppTest; the figures shown are the stores' figures."""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from dash_stores import ACTIVE_MODEL, BEST_MODEL, HEALTH_RPM
from streamlit.testing.v1 import AppTest

import recsys.dashboard
from recsys.dashboard.app import PAGE_TABLE

APP = Path(recsys.dashboard.__file__).resolve().parent / "app.py"
TITLES = {
    "service": "CF Recommendation Service Dashboard",
    "training": "Training Runs",
    "registry": "Model Registry Dashboard",
    "drift": "Data & Drift",
    "alerts": "Alerts",
    "embeddings": "Embeddings & Reranking",
}


def open_page(name: str) -> AppTest:
    """Run the app and switch to page ``name``; fail on any exception shown."""
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if name != "service":
        at.switch_page(f"page_scripts/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def chart(at: AppTest, key: str) -> dict:
    """The Plotly figure of the chart with ``key``, with binary-encoded arrays decoded."""
    for element in at.get("plotly_chart"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart {key}")


def values(array) -> list:
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"])).tolist()
    return list(array)


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def tables(at: AppTest) -> str:
    """Every cell of every table on the page, as CSV text."""
    return "\n".join(e.value.to_csv() for e in at.dataframe)


def test_every_page_of_the_app_is_tested():
    assert {url for _, _, url in PAGE_TABLE} == set(TITLES)


@pytest.mark.parametrize("name", list(TITLES))
def test_page_on_empty_stores_says_no_data(paths, name):
    at = open_page(name)
    assert at.title[0].value == TITLES[name]
    assert "No data yet" in texts(at.info)
    assert not at.get("plotly_chart")


def test_service_page_shows_the_hand_made_figures(filled):
    at = open_page("service")
    shown = metrics(at)
    assert shown["Active Model"] == ACTIVE_MODEL
    assert shown["Total Requests"] == "20"
    assert shown["Avg Latency"] == "105.0 ms"
    assert shown["P95 Latency"] == "190.0 ms"
    assert shown["Fallback Rate"] == "20.0%"
    assert shown["Error Rate"] == "5.00%"
    assert values(chart(at, "service_rpm")["data"][0]["y"]) == HEALTH_RPM  # the 2-hour-old 999 is out of range
    latency = {trace["name"]: values(trace["y"]) for trace in chart(at, "service_latency")["data"]}
    assert latency["p95_latency_ms"] == [100.0, 110.0, 120.0]
    methods = chart(at, "service_fallback_methods")["data"][0]
    assert dict(zip(values(methods["x"]), values(methods["y"]), strict=True)) == {"popularity": 3, "content": 1}


def test_service_page_time_range_and_raw_request_fallback(filled):
    at = open_page("service")
    at.sidebar.selectbox(key="service_range").select("Last 6 hours").run()
    assert 999.0 in values(chart(at, "service_rpm")["data"][0]["y"])
    # Without the monitor's aggregates the page computes the minutes from the raw requests.
    from recsys.db import connect

    conn = connect(filled.service_db)
    conn.execute("DELETE FROM service_health")
    conn.commit()
    conn.close()
    at = open_page("service")
    assert "computed from the raw requests" in texts(at.caption)
    assert sum(values(chart(at, "service_rpm")["data"][0]["y"])) == 20


def test_training_page_runs_curves_and_comparison(filled):
    at = open_page("training")
    shown = metrics(at)
    assert (shown["Runs"], shown["Completed"], shown["Failed"], shown["Best NDCG@10"]) == ("3", "2", "1", "0.1920")
    assert "NaN factors" in texts(at.error)  # the latest run is the failed one
    at.selectbox(key="training_run").select("als_20250115_103000").run()
    curves = chart(at, "training_curves")["data"]
    assert values(curves[0]["y"]) == [10.0, 8.0, 6.0, 5.0, 4.5]
    assert values(curves[1]["y"]) == pytest.approx([0.11, 0.12, 0.13, 0.14, 0.15])
    # The two completed runs are compared by default.
    compare = {trace["name"]: values(trace["y"]) for trace in chart(at, "training_compare_loss")["data"]}
    assert compare == {"bpr_20250115_120000": [0.69, 0.5, 0.4, 0.35], "als_20250115_103000": [10.0, 8.0, 6.0, 5.0, 4.5]}
    at.sidebar.selectbox(key="training_type").select("bpr").run()
    assert metrics(at)["Runs"] == "1"


def test_registry_page_falls_back_without_the_registry_package(filled, monkeypatch):
    monkeypatch.setitem(sys.modules, "recsys.cf.monitoring.registry_monitor", None)  # import now fails
    at = open_page("registry")
    shown = metrics(at)
    assert "Registry not available" in texts(at.warning)
    assert shown["Current Best Model"] == BEST_MODEL and shown["NDCG@10"] == "0.1920"
    assert shown["Total Models"] == "2"
    best = chart(at, "registry_best_history")["data"]
    assert sorted(v for trace in best for v in values(trace["y"])) == [0.189, 0.192]


def test_registry_page_loader_and_reloads(filled):
    at = open_page("registry")
    shown = metrics(at)
    assert shown["Cache Hit Rate"] == "75.0%" and shown["Reloads"] == "2" and shown["Last Load Time"] == "12.5 ms"
    assert "1 of the last 3 reloads failed" in texts(at.error)


def test_registry_page_with_the_real_registry(paths):
    registry_package = pytest.importorskip("recsys.cf.registry")
    registry = registry_package.ModelRegistry(paths=paths)
    for kind, name, ndcg in (("als", "v1_20250115_103000", 0.189), ("bpr", "v1_20250115_120000", 0.192)):
        directory = paths.cf_artifacts / kind / name
        directory.mkdir(parents=True)
        registry.register_model(directory, kind, {"factors": 64}, {"recall@10": 0.2, "ndcg@10": ndcg})
        registry.select_best_model()
    at = open_page("registry")
    shown = metrics(at)
    assert "Registry is healthy" in texts(at.success)
    assert shown["Current Best Model"] == BEST_MODEL and shown["NDCG@10"] == "0.1920"
    assert (shown["Total Models"], shown["Active Models"], shown["Archived Models"]) == ("2", "2", "0")
    best = chart(at, "registry_best_history")["data"]
    assert sorted(v for trace in best for v in values(trace["y"])) == [0.189, 0.192]
    assert "SELECT_BEST" in tables(at)
    # The best model's artifacts vanish: the page says the registry is unhealthy and why.
    shutil.rmtree(paths.cf_artifacts / "bpr")
    at = open_page("registry")
    assert "artifacts missing" in texts(at.error)


def test_drift_page(filled):
    at = open_page("drift")
    shown = metrics(at)
    assert shown["Rating"] == "DRIFT" and shown["Popularity"] == "ok"
    ratings = {trace["name"]: values(trace["y"]) for trace in chart(at, "drift_ratings")["data"]}
    assert ratings["recent"][0] == pytest.approx(0.05)  # 1★ share from the check's recent distribution
    assert "1 of 2 data quality checks failed: duplicate_pairs" in texts(at.error)
    assert "Source: the latest popularity drift check" in texts(at.caption)


def test_drift_page_falls_back_on_the_data(filled):
    filled.monitor_db.unlink()
    at = open_page("drift")
    assert "Source: the processed interactions" in texts(at.caption)
    shift = chart(at, "drift_popularity")["data"][0]
    assert values(shift["x"])[0] == "42"  # the item pushed in the last week moves most


def test_alerts_page(filled):
    at = open_page("alerts")
    assert "1 alert(s) firing: high_latency" in texts(at.error)
    assert "1 notification(s) could not be delivered" in texts(at.warning)
    at.sidebar.selectbox(key="alerts_range").select("Last 15 minutes").run()
    shown = tables(at)
    assert "high_latency" in shown
    assert "high_error_rate" not in shown  # resolved 2 hours ago: out of this range


def test_embeddings_page(filled):
    at = open_page("embeddings")
    shown = metrics(at)
    assert shown["Embedding Age"] == "40.0 days" and shown["Model"] == "tfidf-svd" and shown["Products"] == "1,400"
    assert "40 days old" in texts(at.warning)
    assert shown["Drifted products"] == "3" and shown["Mean similarity"] == "0.9700"
    assert shown["Latency Overhead"] == "12.5%" and shown["Avg Content Score"] == "0.420"
    assert values(chart(at, "embeddings_overhead")["data"][0]["y"]) == [12.5]


@pytest.mark.parametrize("entry, title", [("service/dashboard.py", TITLES["service"]),
                                          ("service/registry_dashboard.py", TITLES["registry"])])
def test_spec_entry_scripts_run_their_page(filled, entry, title):
    root = Path(recsys.dashboard.__file__).resolve().parents[2]
    at = AppTest.from_file(str(root / entry), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == title


def test_registry_page_on_a_corrupt_registry_file(filled):
    pytest.importorskip("recsys.cf.registry")
    filled.registry_file.parent.mkdir(parents=True, exist_ok=True)
    filled.registry_file.write_text("{not json")
    at = open_page("registry")
    assert "Registry issues" in texts(at.error) and "corrupt" in texts(at.error).lower()
    assert metrics(at)["Cache Hit Rate"] == "75.0%"  # the rest of the page still renders
