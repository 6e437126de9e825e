#!/usr/bin/env bash
# What the test suite needs beyond the Python packages: system tools the tests drive for real.
# Idempotent; each piece is skipped when already present.
set -euo pipefail
BIN=${1:-.venv/bin}
true "$BIN"
