"""Where every file of a project lives, relative to one root (``RECSYS_HOME`` or the current directory)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "RECSYS_HOME"


@dataclass(frozen=True)
class ProjectPaths:
    """The project's file layout under ``root``; every path the spec names is a property here."""

    root: Path

    @classmethod
    def from_env(cls, root: str | os.PathLike | None = None) -> ProjectPaths:
        """Paths under ``root``, else ``$RECSYS_HOME``, else the current directory."""
        chosen = root if root is not None else os.environ.get(HOME_ENV) or os.getcwd()
        return cls(Path(chosen).resolve())

    # --- data -----------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "data" / "processed"

    @property
    def interactions(self) -> Path:
        return self.data_dir / "interactions.parquet"

    @property
    def products(self) -> Path:
        return self.data_dir / "products.parquet"

    @property
    def data_manifest(self) -> Path:
        return self.data_dir / "manifest.json"

    # --- artifacts ------------------------------------------------------------------------
    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    @property
    def cf_artifacts(self) -> Path:
        return self.artifacts_dir / "cf"

    @property
    def registry_file(self) -> Path:
        return self.cf_artifacts / "registry.json"

    @property
    def embeddings_dir(self) -> Path:
        return self.artifacts_dir / "embeddings"

    # --- logs and stores ------------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def training_log(self, model_type: str) -> Path:
        return self.logs_dir / "cf" / f"{model_type}.log"

    @property
    def training_db(self) -> Path:
        return self.logs_dir / "training_metrics.db"

    @property
    def registry_audit_log(self) -> Path:
        return self.logs_dir / "registry_audit.log"

    @property
    def registry_db(self) -> Path:
        return self.logs_dir / "registry_operations.db"

    @property
    def service_log(self) -> Path:
        return self.logs_dir / "service" / "recommender.log"

    @property
    def alerts_log(self) -> Path:
        return self.logs_dir / "service" / "alerts.log"

    @property
    def service_db(self) -> Path:
        return self.logs_dir / "service_metrics.db"

    @property
    def monitor_log(self) -> Path:
        return self.logs_dir / "monitor" / "monitor.log"

    @property
    def monitor_db(self) -> Path:
        return self.logs_dir / "monitor.db"

    # --- config and reports ---------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"
