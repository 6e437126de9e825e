"""Training page: every run with its metrics and lineage, per-run curves, and two runs side by side."""

from __future__ import annotations

import json

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from recsys.dashboard.queries import training as q
from recsys.dashboard.views import _common as ui

TITLE = "Training Runs"
TABLE_COLUMNS = ["run_id", "model_type", "status", "started_at", "recall_at_10", "ndcg_at_10", "recall_at_20",
                 "ndcg_at_20", "coverage", "baseline_recall_at_10", "improvement_pct", "training_time_seconds",
                 "data_version", "git_commit", "model_id", "registry_status", "error"]


def render() -> None:
    """Draw the page."""
    st.title(TITLE)
    db = ui.project_paths().training_db
    choice = st.sidebar.selectbox("Model type", ["all", "als", "bpr"], key="training_type")
    runs = q.training_runs(db, None if choice == "all" else choice)
    ui.stamp()
    if runs.empty:
        ui.no_data("no training run recorded", "`recsys train --model als|bpr` has run (logs/training_metrics.db)")
        return

    cols = st.columns(4)
    cols[0].metric("Runs", len(runs))
    cols[1].metric("Completed", int((runs["status"] == "completed").sum()))
    cols[2].metric("Failed", int((runs["status"] == "failed").sum()))
    done = runs[runs["status"] == "completed"]
    best = done.loc[done["ndcg_at_10"].idxmax()] if done["ndcg_at_10"].notna().any() else None
    cols[3].metric("Best NDCG@10", ui.num(best["ndcg_at_10"]) if best is not None else "–",
                   help=None if best is None else f"run {best['run_id']}")

    st.subheader("Runs")
    st.dataframe(
        runs[TABLE_COLUMNS], hide_index=True, key="training_runs_table",
        column_config={
            "improvement_pct": st.column_config.NumberColumn("vs popularity (%)", format="%+.1f"),
            "training_time_seconds": st.column_config.NumberColumn("train time (s)", format="%.1f"),
            "git_commit": st.column_config.TextColumn("git commit", width="small"),
        },
    )

    ids = runs["run_id"].tolist()
    st.subheader("Training curves")
    run_id = st.selectbox("Run", ids, index=0, key="training_run")
    _run_curves(db, runs.set_index("run_id").loc[run_id], run_id)

    st.subheader("Compare two runs")
    if len(ids) < 2:
        st.caption("Only one run so far: nothing to compare yet.")
        return
    completed = runs.loc[runs["status"] == "completed", "run_id"].tolist()
    default_a, default_b = (completed[1], completed[0]) if len(completed) >= 2 else (ids[1], ids[0])
    left, right = st.columns(2)
    first = left.selectbox("Run A", ids, index=ids.index(default_a), key="training_compare_a")
    second = right.selectbox("Run B", ids, index=ids.index(default_b), key="training_compare_b")
    ui.table(q.compare_runs(runs, first, second), key="training_compare_table")
    _overlay(db, [first, second] if first != second else [first])


def _run_curves(db, run: pd.Series, run_id: str) -> None:
    steps = q.run_iterations(db, [run_id])
    if run.get("error"):
        st.error(f"This run failed: {run['error']}")
    if steps.empty:
        st.caption("No iterations recorded for this run.")
        return
    unit = "Epoch" if run["model_type"] == "bpr" else "Iteration"
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"Training loss — {run_id}", "Validation metrics"))
    fig.add_trace(go.Scatter(x=steps["iteration"], y=steps["loss"], mode="lines+markers", name="loss"), 1, 1)
    for column, name in (("validation_ndcg", "NDCG@10"), ("validation_recall", "Recall@10")):
        part = steps[steps[column].notna()]
        if not part.empty:
            fig.add_trace(go.Scatter(x=part["iteration"], y=part[column], mode="lines+markers", name=name), 1, 2)
    fig.update_xaxes(title_text=unit)
    fig.update_yaxes(title_text="Loss", row=1, col=1)
    fig.update_yaxes(title_text="Validation", row=1, col=2)
    st.plotly_chart(fig, key="training_curves")
    with st.expander("Hyperparameters"):
        try:
            st.json(json.loads(run["hyperparameters"] or "{}"))
        except (TypeError, ValueError):
            st.code(str(run["hyperparameters"]))


def _overlay(db, run_ids: list[str]) -> None:
    steps = q.run_iterations(db, run_ids)
    if steps.empty:
        st.caption("Neither run recorded iterations.")
        return
    left, right = st.columns(2)
    left.plotly_chart(px.line(steps, x="iteration", y="loss", color="run_id", markers=True, title="Loss"),
                      key="training_compare_loss")
    validated = steps[steps["validation_ndcg"].notna()]
    if validated.empty:
        right.caption("No validation figures recorded for these runs.")
    else:
        right.plotly_chart(px.line(validated, x="iteration", y="validation_ndcg", color="run_id", markers=True,
                                   title="Validation NDCG@10"), key="training_compare_ndcg")


def main() -> None:
    """Run this page on its own."""
    st.set_page_config(page_title="Training · recsys", layout="wide")
    render()
