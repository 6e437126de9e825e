"""Embeddings & reranking page: embedding freshness, semantic drift, reranked against CF-only answers."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from recsys.dashboard.queries import content as q
from recsys.dashboard.queries import monitor as mq
from recsys.dashboard.views import _common as ui

TITLE = "Embeddings & Reranking"


def render() -> None:
    """Draw the page."""
    st.title(TITLE)
    paths = ui.project_paths()
    label, span = ui.time_range("embeddings_range", default="Last 7 days")
    now = ui.now()
    ui.stamp(label)

    st.subheader("Embedding freshness")
    sidecars = q.embedding_sidecars(paths.embeddings_dir, now)
    usable = sidecars[sidecars["problem"].isna()]
    if usable.empty:
        ui.no_data("no embeddings", "`recsys embeddings build` has written them under artifacts/embeddings/")
    else:
        newest = usable.iloc[0]
        cols = st.columns(4)
        cols[0].metric("Embedding Age", f"{newest['age_days']:.1f} days")
        cols[1].metric("Model", str(newest["model"] or "–"))
        cols[2].metric("Dimension", "–" if pd.isna(newest["dim"]) else int(newest["dim"]))
        cols[3].metric("Products", "–" if pd.isna(newest["n"]) else f"{int(newest['n']):,}")
        if newest["stale"]:
            st.warning(f"Embeddings are {newest['age_days']:.0f} days old (over {q.STALE_AFTER_DAYS}): "
                       "consider regenerating them.")
        ui.table(sidecars, key="embeddings_files")
    broken = sidecars[sidecars["problem"].notna()]
    if not broken.empty:
        st.error(f"{len(broken)} metadata file(s) could not be read")

    st.subheader("Semantic drift")
    semantic = mq.drift_history(paths.monitor_db, now, span, check_type="semantic")
    latest = mq.latest_drift_checks(paths.monitor_db, check_type="semantic")
    if latest.empty:
        ui.no_data("no semantic drift check", "new embeddings are compared with the previous version")
    else:
        check = latest.iloc[0]
        details = check["details"] if isinstance(check["details"], dict) else {}
        cols = st.columns(3)
        cols[0].metric("Verdict", "DRIFT" if check["drift_detected"] else "ok")
        cols[1].metric("Mean similarity", ui.num(details.get("mean_similarity", check["statistic"])))
        cols[2].metric("Drifted products", details.get("num_drifted", "–"))
        if details.get("drifted_products"):
            st.caption(f"Most drifted: {', '.join(map(str, details['drifted_products'][:10]))}")
        if len(semantic) > 1:
            fig = px.line(semantic, x="timestamp", y="statistic", markers=True, title="Mean self-similarity")
            st.plotly_chart(ui.over_range(fig, now, span), key="embeddings_semantic")

    st.subheader("Reranking: hybrid vs CF-only")
    rerank = q.reranking_metrics(paths.service_db, now, span)
    if rerank.empty:
        ui.no_data(f"no reranking metrics in the {label.lower()}", "the monitor aggregates them hourly")
        return
    last = rerank.iloc[-1]
    cols = st.columns(4)
    overhead = last["latency_overhead_pct"]
    cols[0].metric("Latency Overhead", ui.pct(None if pd.isna(overhead) else overhead / 100))
    cols[1].metric("Avg Content Score", ui.num(last["avg_content_score"], 3))
    cols[2].metric("Diversity (rerank)", ui.num(last["avg_diversity_rerank"], 3),
                   delta=_delta(last["avg_diversity_rerank"], last["avg_diversity_cf_only"]))
    cols[3].metric("Diversity (CF-only)", ui.num(last["avg_diversity_cf_only"], 3))
    left, right = st.columns(2)
    fig = px.line(rerank, x="timestamp", y="latency_overhead_pct", markers=True, title="Latency overhead (%)")
    left.plotly_chart(ui.over_range(fig, now, span), key="embeddings_overhead")
    diversity = rerank.melt(id_vars="timestamp", value_vars=["avg_diversity_rerank", "avg_diversity_cf_only"],
                            var_name="series", value_name="diversity")
    fig = px.line(diversity, x="timestamp", y="diversity", color="series", markers=True, title="Intra-list diversity")
    right.plotly_chart(ui.over_range(fig, now, span), key="embeddings_diversity")
    ui.table(rerank, key="embeddings_rerank_table")


def _delta(rerank, cf_only) -> str | None:
    if pd.isna(rerank) or pd.isna(cf_only):
        return None
    return f"{rerank - cf_only:+.3f} vs CF-only"


def main() -> None:
    """Run this page on its own."""
    st.set_page_config(page_title="Embeddings · recsys", layout="wide")
    render()
