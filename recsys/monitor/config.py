"""``config/monitor.yaml``: the monitor's job schedules, validated when loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recsys.errors import ConfigError

_CRON_FIELDS = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
_INTERVAL_FIELDS = ("weeks", "days", "hours", "minutes", "seconds")


class JobSchedule(BaseModel):
    """When one job runs."""

    model_config = ConfigDict(extra="forbid")

    trigger: Literal["cron", "interval"]
    """'cron' (wall-clock fields) or 'interval' (a fixed period)."""
    enabled: bool = True
    """A disabled job is never scheduled (``--once`` still runs it)."""
    year: str | int | None = None
    month: str | int | None = None
    day: str | int | None = None
    week: str | int | None = None
    day_of_week: str | int | None = None
    hour: str | int | None = None
    minute: str | int | None = None
    second: str | int | None = None
    weeks: float = 0
    days: float = 0
    hours: float = 0
    minutes: float = 0
    seconds: float = 0

    def trigger_kwargs(self) -> dict:
        """Keyword arguments for APScheduler's CronTrigger / IntervalTrigger."""
        if self.trigger == "cron":  # minute=0 means "on the hour": only None is unset
            return {n: getattr(self, n) for n in _CRON_FIELDS if getattr(self, n) is not None}
        return {n: getattr(self, n) for n in _INTERVAL_FIELDS if getattr(self, n)}


class MonitorConfig(BaseModel):
    """The whole monitor configuration."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    """Timezone the cron fields are read in (explicit, never the machine's)."""
    service_url: str = "http://127.0.0.1:8000"
    """Where the recommender service answers (loader stats are read from its /model)."""
    jobs: dict[str, JobSchedule] = Field(default_factory=dict)
    """Job name → schedule; names must be known jobs."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone '{value}'") from exc
        return value


def default_config() -> MonitorConfig:
    """The built-in schedule (the same as the shipped ``config/monitor.yaml``)."""
    from recsys.config_files import SHIPPED_CONFIG_DIR

    shipped = SHIPPED_CONFIG_DIR / "monitor.yaml"
    if shipped.exists():
        return load_monitor_config(shipped)
    return MonitorConfig()


def load_monitor_config(path: str | Path, known_jobs: set[str] | None = None) -> MonitorConfig:
    """Read and validate ``path``; errors name the file, the job and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(str(path), f"not valid YAML{where}") from exc
    try:
        config = MonitorConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        entry = loc[1] if len(loc) > 1 and loc[0] == "jobs" else None
        field = loc[-1] if loc else None
        raise ConfigError(str(path), first["msg"], entry=entry, field=field) from exc
    if known_jobs is not None:
        for name in config.jobs:
            if name not in known_jobs:
                raise ConfigError(str(path), f"unknown job (known: {', '.join(sorted(known_jobs))})",
                                  entry=name, field="jobs")
    return config
