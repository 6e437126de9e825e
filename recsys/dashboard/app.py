"""The dashboard app, one page per concern; ``recsys dashboard`` runs it with ``streamlit run``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# Not "pages/": Streamlit would serve such a folder as an old-style multipage app, bypassing st.navigation.
PAGES = Path(__file__).resolve().parent / "page_scripts"

# (script, title, url path); the first is the default page.
PAGE_TABLE = [
    ("service.py", "Service", "service"),
    ("training.py", "Training", "training"),
    ("registry.py", "Registry", "registry"),
    ("drift.py", "Data & drift", "drift"),
    ("alerts.py", "Alerts", "alerts"),
    ("embeddings.py", "Embeddings & reranking", "embeddings"),
]

st.set_page_config(page_title="recsys dashboard", layout="wide")
navigation = st.navigation([
    st.Page(PAGES / script, title=title, url_path=url, default=(i == 0))
    for i, (script, title, url) in enumerate(PAGE_TABLE)
])
navigation.run()
