"""The registry file on disk: read and validated, changed under an inter-process lock, replaced atomically.

Readers never take the lock: the file is only ever replaced whole (``os.replace`` of a fsynced temp file
in the same directory), so a reader sees the old document or the new one, never half of one.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from recsys.atomicfile import write_text_atomic
from recsys.errors import RegistryCorruptError, RegistryError

SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 60.0
MODEL_TYPES = ("als", "bpr")
STATUSES = ("active", "archived", "failed")

_ENTRY_FIELDS = {"model_id": str, "model_type": str, "path": str, "status": str, "metrics": dict}


def empty_document() -> dict[str, Any]:
    """A registry with no models (what a missing file reads as)."""
    return {"schema_version": SCHEMA_VERSION, "models": {}, "current_best": None, "best_history": [],
            "updated_at": None}


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays (what trainers hand over) and paths become plain JSON values."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item() if getattr(value, "ndim", 0) == 0 else value.tolist()
        except (TypeError, ValueError):
            pass
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(document: dict[str, Any]) -> str:
    """The document as JSON text; NaN/inf are refused (they are not JSON and other readers choke on them)."""
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False, default=_json_default) + "\n"


def validate(document: Any, path: Path) -> dict[str, Any]:
    """Check the document's shape, fill optional top-level keys; raise RegistryCorruptError naming the fault."""

    def corrupt(reason: str) -> RegistryCorruptError:
        return RegistryCorruptError(str(path), reason)

    if not isinstance(document, dict):
        raise corrupt(f"top level is a {type(document).__name__}, expected an object")
    version = document.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise corrupt(f"schema_version {version!r} is not supported (this recsys reads {SCHEMA_VERSION})")
    models = document.get("models")
    if not isinstance(models, dict):
        raise corrupt("'models' is missing or not an object")
    for model_id, entry in models.items():
        if not isinstance(entry, dict):
            raise corrupt(f"models['{model_id}'] is not an object")
        for field, kind in _ENTRY_FIELDS.items():
            if not isinstance(entry.get(field), kind):
                raise corrupt(f"models['{model_id}'].{field} is missing or not a {kind.__name__}")
        if entry["model_id"] != model_id:
            raise corrupt(f"models['{model_id}'].model_id is '{entry['model_id']}'")
        if entry["status"] not in STATUSES:
            raise corrupt(f"models['{model_id}'].status '{entry['status']}' is not one of {', '.join(STATUSES)}")
    best = document.get("current_best")
    if best is not None:
        if not isinstance(best, dict) or not isinstance(best.get("model_id"), str):
            raise corrupt("'current_best' is neither null nor an object with a model_id")
        if best["model_id"] not in models:
            raise corrupt(f"current_best names '{best['model_id']}', which is not in 'models'")
    history = document.get("best_history", [])
    if not isinstance(history, list) or not all(isinstance(h, dict) and "model_id" in h for h in history):
        raise corrupt("'best_history' is not a list of objects with a model_id")
    document["schema_version"] = SCHEMA_VERSION
    document.setdefault("current_best", None)
    document["best_history"] = history
    document.setdefault("updated_at", None)
    return document


class RegistryFile:
    """One registry JSON file: ``read()`` for readers, ``transaction()`` for read-modify-write."""

    def __init__(self, path: Path, *, lock_timeout: float = LOCK_TIMEOUT_S):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock = FileLock(str(self.lock_path), timeout=lock_timeout)

    def read(self) -> dict[str, Any]:
        """The current document (an empty registry if the file does not exist yet)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return empty_document()
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryCorruptError(str(self.path), f"cannot be read: {exc}") from exc
        try:
            document = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise RegistryCorruptError(str(self.path), f"invalid JSON: {exc}") from exc
        return validate(document, self.path)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the inter-process lock (re-entrant within this object)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout as exc:
            raise RegistryError(
                f"registry {self.path} is locked by another process (waited {self._lock.timeout:.0f}s; "
                f"lock file {self.lock_path})") from exc
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def transaction(self) -> Iterator[dict[str, Any]]:
        """Lock, read, let the caller change the document, then replace the file atomically.

        The lock stays held until the ``with`` block ends, so work done after the write (the audit
        trail) is serialised with the change itself. The document is written when the block's body
        calls :meth:`write` — not implicitly — so a refused operation leaves the file untouched.
        """
        with self.locked():
            yield self.read()

    def write(self, document: dict[str, Any]) -> None:
        """Replace the file with ``document``: temp file in the same directory, fsync, rename, fsync dir.

        Must be called while holding the lock (inside :meth:`transaction`).
        """
        text = dumps(document)  # serialise first: a bad value must not leave a half-written temp file
        write_text_atomic(self.path, text, durable_rename=True)


def _refuse_constant(name: str) -> float:
    """json.loads hook: NaN/Infinity are not JSON; a file holding them was not written by us."""
    raise ValueError(f"non-JSON constant {name}")


def is_finite_number(value: Any) -> bool:
    """True for real numbers (numpy's too, not bool) that are finite."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
