"""Alerts page: what is firing now, the history, failed deliveries, the monitor's jobs and retrain decisions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import plotly.express as px
import streamlit as st

from recsys.dashboard.queries import monitor as q
from recsys.dashboard.views import _common as ui

TITLE = "Alerts"
SEVERITY_COLORS = {"critical": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}


def render() -> None:
    """Draw the page."""
    st.title(TITLE)
    db = ui.project_paths().monitor_db
    label, span = ui.time_range("alerts_range", default="Last 24 hours")
    every = ui.auto_refresh("alerts_refresh")
    ui.live(lambda: _body(db, label, span), every)


def _body(db: Path, label: str, span: timedelta) -> None:
    ui.stamp(label)
    st.subheader("Firing now")
    firing = q.firing_alerts(db)
    now = ui.now()
    history = q.alert_history(db, now, span)
    if firing.empty:
        if db.is_file():
            st.success("No alert is firing")
        else:
            ui.no_data("no alert state", "the monitor evaluates the alert rules (logs/monitor.db)")
    else:
        active = firing[firing["state"] == "firing"]
        if not active.empty:
            st.error(f"{len(active)} alert(s) firing: {', '.join(active['rule'])}")
        ui.table(firing, key="alerts_firing")

    st.subheader(f"History · {label.lower()}")
    if history.empty:
        ui.no_data(f"no alert in the {label.lower()}", "an alert rule's condition becomes true")
    else:
        timeline = history.assign(at=history["fired_at"].fillna(history["started_at"]))
        fig = px.scatter(timeline, x="at", y="rule", color="severity", symbol="state",
                         color_discrete_map=SEVERITY_COLORS, hover_data=["value", "threshold", "message"],
                         title="Alerts by rule")
        st.plotly_chart(ui.over_range(fig, now, span), key="alerts_timeline")
        ui.table(history.drop(columns=["delivery_errors"]), key="alerts_history")

    st.subheader("Delivery failures")
    failures = q.delivery_failures(history)
    if failures.empty:
        st.caption("No failed notification in this range.")
    else:
        st.warning(f"{len(failures)} notification(s) could not be delivered")
        ui.table(failures, key="alerts_delivery_failures")

    left, right = st.columns(2)
    with left:
        st.subheader("Monitor jobs")
        jobs = q.latest_job_runs(db)
        if jobs.empty:
            ui.no_data("no monitor job has run", "`recsys monitor` runs")
        else:
            ui.table(jobs, key="alerts_jobs")
    with right:
        st.subheader("Retrain decisions")
        decisions = q.retrain_decisions(db)
        if decisions.empty:
            ui.no_data("no retrain decision", "the weekly retrain check runs")
        else:
            ui.table(decisions, key="alerts_retrain")


def main() -> None:
    """Run this page on its own."""
    st.set_page_config(page_title="Alerts · recsys", layout="wide")
    render()
