#!/usr/bin/env python3
"""The spec's training script: ``python scripts/train_cf.py --model als|bpr [--auto-select]``."""

import sys

from recsys.cli import cli

if __name__ == "__main__":
    sys.exit(cli(["train", *sys.argv[1:]], prog_name="train_cf.py"))
