"""``config/monitor.yaml``: the monitor's job schedules, validated when loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
    weeks: float = Field(0, ge=0)
    days: float = Field(0, ge=0)
    hours: float = Field(0, ge=0)
    minutes: float = Field(0, ge=0)
    seconds: float = Field(0, ge=0)

    @field_validator(*_CRON_FIELDS)
    @classmethod
    def _cron_expression(cls, value: str | int | None, info) -> str | int | None:
        # APScheduler checks the expression only when the job is scheduled: check it at load time.
        if value is not None:
            try:
                CronTrigger(**{info.field_name: value}, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"not a valid cron {info.field_name}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _fields_match_trigger(self) -> JobSchedule:
        # An interval with no period would run every second (APScheduler's default); fields of the other
        # trigger kind would be silently ignored.
        if self.trigger == "interval":
            cron = [n for n in _CRON_FIELDS if getattr(self, n) is not None]
            if cron:
                raise ValueError(f"an interval job takes {'/'.join(_INTERVAL_FIELDS)}, not {', '.join(cron)}")
            if not any(getattr(self, n) for n in _INTERVAL_FIELDS):
                raise ValueError(f"an interval job needs a positive period ({'/'.join(_INTERVAL_FIELDS)})")
        else:
            interval = [n for n in _INTERVAL_FIELDS if getattr(self, n)]
            if interval:
                raise ValueError(f"a cron job takes {'/'.join(_CRON_FIELDS)}, not {', '.join(interval)}")
        return self

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
        if len(loc) > 1 and loc[0] == "jobs":  # jobs.<name>[.<field>]; a check across fields names no field
            entry, field = loc[1], (loc[2] if len(loc) > 2 else None)
        else:
            entry, field = None, (loc[-1] if loc else None)
        reason = first["msg"].removeprefix("Value error, ")
        raise ConfigError(str(path), reason, entry=entry, field=field) from None
    if known_jobs is not None:
        for name in config.jobs:
            if name not in known_jobs:
                raise ConfigError(str(path), f"unknown job (known: {', '.join(sorted(known_jobs))})",
                                  entry=name, field="jobs")
    return config
