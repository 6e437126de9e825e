"""Data & drift page: latest drift verdicts with effect sizes, ratings and popularity then vs now, data quality."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from recsys.dashboard.queries import data as dq
from recsys.dashboard.queries import monitor as q
from recsys.dashboard.views import _common as ui

TITLE = "Data & Drift"
LATEST_COLUMNS = ["check_type", "status", "drift_detected", "effect_metric", "effect_size", "statistic", "p_value",
                  "n_historical", "n_recent", "timestamp", "data_version"]


@st.cache_data(show_spinner=False, max_entries=4)
def _interactions(path: str, mtime: float) -> pd.DataFrame:
    """The interactions file, read once per version of it (``mtime`` is the cache key)."""
    return dq.read_interactions(path)


def render() -> None:
    """Draw the page."""
    st.title(TITLE)
    paths = ui.project_paths()
    label, span = ui.time_range("drift_range", default="Last 90 days")
    ui.stamp(label)
    db = paths.monitor_db

    st.subheader("Latest drift checks")
    latest = q.latest_drift_checks(db)
    if latest.empty:
        ui.no_data("no drift check has run", "the monitor's weekly drift job runs (logs/monitor.db)")
    else:
        cols = st.columns(len(latest))
        for col, (_, check) in zip(cols, latest.iterrows(), strict=True):
            effect = f"{check['effect_metric'] or 'effect'} {ui.num(check['effect_size'], 3)}"
            col.metric(str(check["check_type"]).capitalize(), "DRIFT" if check["drift_detected"] else "ok",
                       delta=effect, delta_color="red" if check["drift_detected"] else "off", delta_arrow="off")
        ui.table(latest[LATEST_COLUMNS], key="drift_latest")

    now = ui.now()
    history = q.drift_history(db, now, span)
    if not history.empty and history["effect_size"].notna().any():
        fig = px.line(history, x="timestamp", y="effect_size", color="check_type", markers=True,
                      hover_data=["effect_metric", "p_value", "status"], title=f"Effect size · {label.lower()}")
        st.plotly_chart(ui.over_range(fig, now, span), key="drift_effect_history")

    interactions = _load(paths.interactions)
    _ratings(latest, interactions)
    _popularity(latest, interactions)

    st.subheader("Data quality")
    checks = q.latest_quality_checks(db)
    if checks.empty:
        ui.no_data("no data quality check has run", "data is generated or loaded, or the monitor's daily check runs")
    else:
        failed = checks[~checks["passed"]]
        if failed.empty:
            st.success(f"All {len(checks)} data quality checks passed")
        else:
            st.error(f"{len(failed)} of {len(checks)} data quality checks failed: {', '.join(failed['check_name'])}")
        ui.table(checks, key="drift_quality")


def _load(path: Path) -> pd.DataFrame:
    if not path.is_file():
        return dq.read_interactions(path)
    return _interactions(str(path), path.stat().st_mtime)


def _details(latest: pd.DataFrame, check_type: str):
    row = latest[latest["check_type"] == check_type] if not latest.empty else latest
    return None if row.empty else row.iloc[0]["details"]


def _ratings(latest: pd.DataFrame, interactions: pd.DataFrame) -> None:
    st.subheader("Rating distribution: historical vs recent")
    shares = dq.rating_distribution_from_details(_details(latest, "rating"))
    source = "the latest rating drift check"
    if shares is None and not interactions.empty:
        shares = dq.rating_distribution(interactions)
        source = f"the processed interactions (recent = last {dq.RECENT_DAYS} days of data)"
    if shares is None:
        ui.no_data("no ratings to compare", "data/processed/interactions.parquet exists or a drift check has run")
        return
    fig = px.bar(shares, x="rating", y="share", color="period", barmode="group", title="Share of ratings")
    fig.update_yaxes(tickformat=".0%")
    st.plotly_chart(fig, key="drift_ratings")
    st.caption(f"Source: {source}")


def _popularity(latest: pd.DataFrame, interactions: pd.DataFrame) -> None:
    st.subheader("Top items: popularity shift")
    movers = dq.movers_from_details(_details(latest, "popularity"))
    if movers is not None:
        ui.table(movers, key="drift_movers")
        st.caption("Source: the latest popularity drift check")
        return
    shift = dq.popularity_shift(interactions) if not interactions.empty else pd.DataFrame()
    if shift.empty:
        ui.no_data("no popularity to compare", "interactions span more than the recent window or a check has run")
        return
    shift["product_id"] = shift["product_id"].astype(str)
    fig = px.bar(shift, x="product_id", y="change", hover_data=["historical_share", "recent_share"],
                 title="Change in share of interactions (recent − historical)")
    fig.update_yaxes(tickformat=".1%")
    st.plotly_chart(fig, key="drift_popularity")
    st.caption(f"Source: the processed interactions (recent = last {dq.RECENT_DAYS} days of data)")


def main() -> None:
    """Run this page on its own."""
    st.set_page_config(page_title="Data & drift · recsys", layout="wide")
    render()
