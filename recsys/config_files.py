"""Which config file applies: the project's own (``<root>/config/NAME``) or the shipped default."""

from __future__ import annotations

from pathlib import Path

from recsys.paths import ProjectPaths

SHIPPED_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


def config_file(paths: ProjectPaths, name: str) -> Path:
    """``<root>/config/<name>`` when the project has one, else the copy shipped with recsys."""
    own = paths.config_dir / name
    return own if own.exists() else SHIPPED_CONFIG_DIR / name
