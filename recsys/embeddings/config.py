"""Reranking settings, validated, from ``config/rerank.yaml`` (defaults when the file is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from recsys.errors import ConfigError

CONFIG_FILE = "rerank.yaml"


class RerankConfig(BaseModel):
    """How ``rerank=true`` re-scores CF candidates. Weights are relative; they are scaled to sum to 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cf_weight: float = Field(0.6, ge=0)
    """Weight of the CF score (min-max normalised over the candidates)."""
    content_weight: float = Field(0.3, ge=0)
    """Weight of the content similarity to the user's history (min-max normalised over the candidates)."""
    popularity_weight: float = Field(0.1, ge=0)
    """Weight of item popularity (log1p of interaction counts, min-max normalised over the candidates)."""
    candidate_multiplier: int = Field(5, ge=1, le=100)
    """CF candidates fetched per requested item: ``topk * candidate_multiplier`` (capped by ``max_candidates``)."""
    max_candidates: int = Field(200, ge=1)
    """Upper bound on CF candidates per request, so a large topk cannot make reranking slow."""
    max_history: int = Field(50, ge=1)
    """Most recent history items compared with the candidates (the history is taken as oldest first)."""
    content_fallback: bool = True
    """Cold-start fallback ranks by content similarity when the user has history with embeddings."""

    @model_validator(mode="after")
    def _some_weight(self) -> RerankConfig:
        if self.cf_weight + self.content_weight + self.popularity_weight <= 0:
            raise ValueError("at least one of cf_weight, content_weight, popularity_weight must be positive")
        return self

    @property
    def weights(self) -> tuple[float, float, float]:
        """``(cf, content, popularity)`` scaled to sum to 1."""
        total = self.cf_weight + self.content_weight + self.popularity_weight
        return self.cf_weight / total, self.content_weight / total, self.popularity_weight / total

    def candidates_for(self, topk: int) -> int:
        """How many CF candidates to fetch for ``topk`` results."""
        return max(topk, min(topk * self.candidate_multiplier, self.max_candidates))


def load_rerank_config(path: str | os.PathLike) -> RerankConfig:
    """``RerankConfig`` from a YAML file (a missing file gives the defaults); errors name the file and field."""
    path = Path(path)
    if not path.is_file():
        return RerankConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), f"unreadable YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "expected a mapping of settings")
    try:
        return RerankConfig(**raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise ConfigError(str(path), first["msg"], field=field) from exc
