"""The git commit a run was made from, for lineage."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def git_commit(start: Path | None = None) -> str:
    """Short commit hash of the checkout holding ``start`` (or this package); ``$RECSYS_GIT_COMMIT`` wins."""
    if os.environ.get("RECSYS_GIT_COMMIT"):
        return os.environ["RECSYS_GIT_COMMIT"]
    for where in filter(None, [start, Path(__file__).resolve().parent]):
        try:
            out = subprocess.run(
                ["git", "-C", str(where), "rev-parse", "--short=12", "HEAD"],
                capture_output=True, text=True, timeout=5, check=False,
            )
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    return "unknown"
