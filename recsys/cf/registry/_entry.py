"""Checking what a caller hands to the registry, and reading what the trainer left in an artifacts directory."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recsys.cf.registry._filestore import is_finite_number
from recsys.clock import format_ts, parse_ts
from recsys.errors import ArtifactError, RegistryError

REQUIRED_METRICS = ("recall@10", "ndcg@10")
DIR_NAME = re.compile(r"^(?P<version>v\d+)(?:_(?P<stamp>\d{8}_\d{6}))?")
BAD_ID_CHARS = re.compile(r"[\x00-\x1f\x7f|/\\]")


def check_choice(name: str, value: str | None, choices: tuple[str, ...], *, required: bool = False) -> None:
    """Raise ``RegistryError`` unless ``value`` is one of ``choices`` (``None`` passes unless ``required``)."""
    if value is None and not required:
        return
    if value not in choices:
        raise RegistryError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def check_metrics(metrics: Any) -> dict[str, float]:
    """The metrics as plain floats; ``RegistryError`` naming the metric if one is missing or not finite."""
    if not isinstance(metrics, dict):
        raise RegistryError(f"metrics must be a dict such as {{'ndcg@10': 0.19}}, got {type(metrics).__name__}")
    for name in REQUIRED_METRICS:
        if name not in metrics:
            raise RegistryError(f"metrics['{name}'] is missing")
    clean = {}
    for name, value in metrics.items():
        if not is_finite_number(value):
            raise RegistryError(f"metrics['{name}'] must be a finite number, got {value!r}")
        clean[str(name)] = float(value)
    return clean


def check_mapping(name: str, value: Any) -> dict:
    """``value`` if it is a dict, ``{}`` for ``None``; ``RegistryError`` naming ``name`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RegistryError(f"{name} must be a dict, got {type(value).__name__}")
    return value


def read_metadata(directory: Path) -> dict[str, Any]:
    """The trainer's ``metadata.json`` (optional); a present but unreadable one means broken artifacts."""
    path = directory / "metadata.json"
    if not path.exists():
        return {}
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(str(path), f"metadata.json is unreadable: {exc}") from exc
    if not isinstance(metadata, dict):
        raise ArtifactError(str(path), "metadata.json is not a JSON object")
    return metadata


def created_at(metadata: dict[str, Any], name: re.Match | None) -> str | None:
    """From metadata's ``created_at``, else the directory name's ``YYYYMMDD_HHMMSS`` (UTC), else unknown."""
    text = metadata.get("created_at")
    if isinstance(text, str):
        try:
            return format_ts(parse_ts(text))
        except ValueError:
            pass
    if name and name.group("stamp"):
        try:
            return format_ts(datetime.strptime(name.group("stamp"), "%Y%m%d_%H%M%S").replace(tzinfo=UTC))
        except ValueError:  # digits that are no date (v1_20251399_000000): the time is unknown
            pass
    return None


def plain(value: Any) -> str:
    """A detail value as audit-line text: strings as they are, anything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))


def inside(path: Path, parent: Path) -> bool:
    """True if ``path`` lies strictly below ``parent`` (after resolving links)."""
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return path.resolve() != parent.resolve()
