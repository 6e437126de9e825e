#!/usr/bin/env python3
"""The spec's plotting script: ``python scripts/plot_training_progress.py RUN_ID``."""

import sys

from recsys.cf.plots import plot_training_curves  # noqa: F401  (the spec's public name)
from recsys.cli import cli

if __name__ == "__main__":
    sys.exit(cli(["plot", *sys.argv[1:]], prog_name="plot_training_progress.py"))
