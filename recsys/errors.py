"""Every error recsys raises on purpose, in one place; each carries the data a user needs."""

from __future__ import annotations


class RecsysError(Exception):
    """Base class of recsys's own errors."""


class DataFileError(RecsysError):
    """An input data file is unreadable or wrong: names the file, the row (1-based, if known) and why."""

    def __init__(self, path: str, reason: str, row: int | None = None, field: str | None = None):
        self.path, self.reason, self.row, self.field = str(path), reason, row, field
        where = self.path + (f", row {row}" if row is not None else "")
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{reason}")


class DataQualityError(RecsysError):
    """Data failed a hard quality check; training refuses it."""

    def __init__(self, failures: list[str]):
        self.failures = failures
        super().__init__("data failed hard quality checks: " + "; ".join(failures))


class ConfigError(RecsysError):
    """A config file is invalid: names the file, the entry and the field."""

    def __init__(self, path: str, reason: str, entry: str | None = None, field: str | None = None):
        self.path, self.reason, self.entry, self.field = str(path), reason, entry, field
        parts = [str(path)]
        if entry:
            parts.append(f"entry '{entry}'")
        if field:
            parts.append(f"field '{field}'")
        super().__init__(": ".join([", ".join(parts), reason]))


class TrainingError(RecsysError):
    """Training could not run or produced an unusable model (e.g. NaN factors)."""


class RegistryError(RecsysError):
    """A registry operation was refused or failed."""


class RegistryCorruptError(RegistryError):
    """The registry file exists but cannot be read as a registry."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"registry file {path} is corrupt: {reason}")


class ModelNotFoundError(RegistryError):
    """No model with that id is registered."""

    def __init__(self, model_id: str):
        self.model_id = model_id
        super().__init__(f"no model '{model_id}' in the registry")


class ArtifactError(RecsysError):
    """Model artifacts are missing or broken."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"artifacts at {path}: {reason}")


class ModelLoadError(RecsysError):
    """The model loader has no usable model."""


class EmbeddingError(RecsysError):
    """Embeddings are missing, unreadable or incompatible (e.g. different dimensions)."""


class EmbeddingFileError(EmbeddingError):
    """An embeddings file cannot be read: names the file and why."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"embeddings file {path}: {reason}")


class EmbeddingBackendUnavailable(EmbeddingError):
    """An embedding backend needs an optional dependency or a model that is not installed."""

    def __init__(self, backend: str, reason: str):
        self.backend, self.reason = backend, reason
        super().__init__(f"embedding backend '{backend}' is unavailable: {reason}")


class RetentionError(RecsysError):
    """Part of a retention run failed (the other parts ran); carries the run's summary."""

    def __init__(self, summary: dict):
        self.summary = summary
        super().__init__("retention: " + "; ".join(summary.get("errors") or ["failed"]))
