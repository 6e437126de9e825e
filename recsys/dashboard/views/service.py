"""Service page (the spec's ``service/dashboard.py``): traffic, latency, fallbacks and errors, active model."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.express as px
import streamlit as st

from recsys.dashboard.queries import service as q
from recsys.dashboard.views import _common as ui

TITLE = "CF Recommendation Service Dashboard"
# Longest range recomputed per minute from raw requests when the monitor has not aggregated it
# (sorting every latency of a longer range per page refresh costs too much on a busy store).
RAW_FALLBACK_LIMIT = timedelta(hours=6)


def render() -> None:
    """Draw the page."""
    st.title(TITLE)
    paths = ui.project_paths()
    label, span = ui.time_range("service_range")
    every = ui.auto_refresh("service_refresh")
    ui.live(lambda: _body(paths.service_db, label, span), every)


def _body(db, label: str, span: timedelta) -> None:
    now = ui.now()
    ui.stamp(label)

    model = q.active_model(db)
    if model:
        version = f" · version {model['model_version']}" if model.get("model_version") else ""
        st.metric("Active Model", model["model_id"])
        st.caption(f"last seen serving at {model['seen_at']} UTC{version}")
    else:
        ui.no_data("which model is serving", "the service has answered a request")

    st.subheader("Last Hour Summary")
    summary = q.request_summary(db, now, timedelta(hours=1))
    if summary is None:
        ui.no_data("no request in the last hour", "the service records requests in logs/service_metrics.db")
    else:
        top, bottom = st.columns(3), st.columns(3)
        top[0].metric("Total Requests", f"{summary['requests']:,}")
        top[1].metric("Requests / min", f"{summary['requests_per_minute']:.1f}")
        top[2].metric("Error Rate", ui.pct(summary["error_rate"], 2))
        bottom[0].metric("Avg Latency", ui.ms(summary["avg_latency_ms"]))
        bottom[1].metric("P95 Latency", ui.ms(summary["p95_latency_ms"]))
        bottom[2].metric("Fallback Rate", ui.pct(summary["fallback_rate"]))

    st.subheader(f"Per minute · {label.lower()}")
    health = q.service_health(db, now, span)
    source = "the monitor's per-minute aggregates (service_health)"
    if health.empty and span <= RAW_FALLBACK_LIMIT:
        health = q.request_minutes(db, now, span)
        source = "computed from the raw requests (no monitor aggregates in this range)"
    if health.empty:
        ui.no_data(f"no traffic in the {label.lower()}", "the service answers requests")
        return
    st.caption(f"Source: {source}")
    _charts(health, now, span)

    methods = q.fallback_methods(db, now, span)
    errors = q.recent_errors(db, now, span)
    left, right = st.columns(2)
    with left:
        st.markdown("**Fallbacks by method**")
        if methods.empty:
            st.caption("No fallback answers in this range.")
        else:
            st.plotly_chart(px.bar(methods, x="method", y="requests"), key="service_fallback_methods")
    with right:
        st.markdown("**Recent errors**")
        if errors.empty:
            st.caption("No failed requests in this range.")
        else:
            ui.table(errors, key="service_errors")


def _charts(health: pd.DataFrame, now, span: timedelta) -> None:
    fig = px.line(health, x="timestamp", y="requests_per_minute", markers=True, title="Requests per Minute")
    st.plotly_chart(ui.over_range(fig, now, span), key="service_rpm")
    latency = health.melt(id_vars="timestamp", value_vars=["avg_latency_ms", "p95_latency_ms"],
                          var_name="series", value_name="ms")
    fig = px.line(latency, x="timestamp", y="ms", color="series", markers=True, title="Latency (ms): average and p95")
    st.plotly_chart(ui.over_range(fig, now, span), key="service_latency")
    rates = health.melt(id_vars="timestamp", value_vars=["fallback_rate", "error_rate"],
                        var_name="series", value_name="rate")
    fig = px.line(rates, x="timestamp", y="rate", color="series", markers=True, title="Fallback Rate and Error Rate")
    fig.update_yaxes(tickformat=".0%")
    st.plotly_chart(ui.over_range(fig, now, span), key="service_rates")


def main() -> None:
    """Run this page on its own (``streamlit run service/dashboard.py``)."""
    st.set_page_config(page_title="Service · recsys", layout="wide")
    render()
