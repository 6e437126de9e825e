"""Registry page (the spec's ``service/registry_dashboard.py``): health, best model, operations, loader."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from recsys.dashboard.queries import registry as q
from recsys.dashboard.views import _common as ui
from recsys.paths import ProjectPaths

TITLE = "Model Registry Dashboard"


def render() -> None:
    """Draw the page."""
    st.title(TITLE)
    paths = ui.project_paths()
    label, span = ui.time_range("registry_range", default="Last 24 hours")
    every = ui.auto_refresh("registry_refresh")
    ui.live(lambda: _body(paths, label, span), every)


def _body(paths: ProjectPaths, label: str, span: timedelta) -> None:
    ui.stamp()
    state = q.registry_state(paths)
    versions = q.model_versions(paths.registry_db)

    st.subheader("Registry Health")
    if not state["available"]:
        st.warning(f"Registry not available ({state['error']}). Figures below come from the registry's "
                   "operations store (logs/registry_operations.db).")
        fallback = q.stats_from_versions(versions)
        best, stats = fallback["current_best"], fallback
        best_id = best["model_id"] if best else None
        best_ndcg = best["ndcg_at_10"] if best else None
    else:
        health = state["health"] or {"status": "unknown", "issues": ["health check failed"], "warnings": []}
        if health["status"] == "healthy":
            st.success("✓ Registry is healthy")
        else:
            st.error(f"✗ Registry issues: {'; '.join(health['issues'])}")
        for warning in health.get("warnings", []):
            st.warning(warning)
        if state["error"]:
            st.error(f"The registry could not be read: {state['error']}")
        best, stats = state["current_best"], state["stats"]
        best_id = best["model_id"] if best else None
        best_ndcg = q.best_metric(best)

    cols = st.columns(2)
    if best_id:
        cols[0].metric("Current Best Model", best_id)
        cols[1].metric("NDCG@10", ui.num(best_ndcg))
        if best and best.get("selected_at") is not None and not pd.isna(best["selected_at"]):
            st.caption(f"selected at {best['selected_at']} UTC")
    else:
        st.warning("No current best model selected")

    if stats:
        cols = st.columns(4)
        cols[0].metric("Total Models", stats["total_models"])
        cols[1].metric("Active Models", stats["active_models"])
        cols[2].metric("Archived Models", stats["archived_models"])
        cols[3].metric("Failed Models", stats.get("failed_models", 0))

    st.subheader("Best Model NDCG@10 Over Time")
    history = q.best_model_history(paths.registry_db)
    if history.empty:
        ui.no_data("no model has been selected as best", "`recsys train --auto-select` selects one")
    else:
        metric = history["metric"].dropna().iloc[-1] if history["metric"].notna().any() else "ndcg@10"
        fig = px.line(history, x="timestamp", y="metric_value", color="model_type", markers=True,
                      hover_data=["model_id", "improvement_pct"], title=f"Best model {metric} at each selection")
        st.plotly_chart(fig, key="registry_best_history")

    st.subheader("Recent Registry Operations")
    operations = q.registry_operations(paths.registry_db)
    if operations.empty:
        ui.no_data("no registry operation", "a model is registered (logs/registry_operations.db)")
    else:
        ui.table(operations, key="registry_operations")
    if not versions.empty:
        with st.expander(f"All model versions ({len(versions)})"):
            ui.table(versions, key="registry_versions")

    _loader(paths, label, span)


def _loader(paths: ProjectPaths, label: str, span: timedelta) -> None:
    st.subheader("Model Loader")
    latest = q.latest_loader_stats(paths.service_db)
    if latest is None:
        ui.no_data("no model loader statistics", "the monitor records the service's loader stats")
    else:
        st.markdown(f"Loaded model: **{latest['model_id'] or '–'}**")
        cols = st.columns(3)
        cols[0].metric("Cache Hit Rate", ui.pct(latest["cache_hit_rate"]))
        cols[1].metric("Reloads", latest["reload_count"] if latest["reload_count"] is not None else "–")
        cols[2].metric("Last Load Time", ui.ms(latest["last_load_time_ms"]))
        st.caption(f"snapshot at {latest['timestamp']} UTC")
        now = ui.now()
        series = q.loader_stats(paths.service_db, now, span)
        if not series.empty:
            fig = px.line(series, x="timestamp", y="cache_hit_rate", markers=True,
                          title=f"Cache hit rate · {label.lower()}")
            fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
            st.plotly_chart(ui.over_range(fig, now, span), key="registry_cache_hit_rate")

    st.subheader("Reload History")
    reloads = q.reload_events(paths.service_db)
    if reloads.empty:
        ui.no_data("no model reload", "the service loads or reloads a model")
        return
    failed = int((reloads["status"] == "failed").sum())
    if failed:
        st.error(f"{failed} of the last {len(reloads)} reloads failed")
    ui.table(reloads, key="registry_reloads")


def main() -> None:
    """Run this page on its own (``streamlit run service/registry_dashboard.py``)."""
    st.set_page_config(page_title="Registry · recsys", layout="wide")
    render()
