"""The monitor process: every job on its schedule, each run recorded, a failing job isolated.

Missed runs: APScheduler keeps no memory across restarts, so on start-up each cron job whose last
recorded run (``job_runs``) is older than its most recent scheduled time is run once — coalesced,
never once per missed slot.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from recsys.clock import Clock, utc_now
from recsys.logfmt import file_logger
from recsys.monitor.config import JobSchedule, MonitorConfig
from recsys.monitor.runs import JobRunStore
from recsys.paths import ProjectPaths

Job = Callable[["MonitorContext"], object]


@dataclass
class MonitorContext:
    """What every job gets: where things are, the config, the clock, the logger."""

    paths: ProjectPaths
    config: MonitorConfig
    clock: Clock = utc_now
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("recsys.monitor"))
    extras: dict = field(default_factory=dict)
    """Injected collaborators (alert channels, retrain runner, ...) for tests and embedding."""


class Monitor:
    """Runs named jobs now (``run``) or on their schedules (``start``)."""

    def __init__(self, context: MonitorContext, jobs: dict[str, Job]):
        self.context = context
        self.jobs = jobs
        self.runs = JobRunStore(context.paths.monitor_db)
        self._scheduler: BackgroundScheduler | None = None
        self._locks = {name: threading.Lock() for name in jobs}

    @classmethod
    def create(cls, paths: ProjectPaths, config: MonitorConfig, jobs: dict[str, Job], *, clock: Clock = utc_now,
               extras: dict | None = None) -> Monitor:
        """A monitor logging to ``logs/monitor/monitor.log``."""
        # One logger per log file: two monitors of two projects in one process never share lines.
        logger = file_logger(f"recsys.monitor.{paths.monitor_log}", paths.monitor_log)
        return cls(MonitorContext(paths, config, clock, logger, extras or {}), jobs)

    def run(self, name: str):
        """Run job ``name`` once now; record and log it; a failure is recorded, logged and re-raised."""
        job = self.jobs[name]
        log = self.context.logger
        with self._locks[name]:  # one instance of a job at a time, whoever calls
            run_id = self.runs.start(name, self.context.clock())
            log.info(f"Job started | job={name}")
            try:
                summary = job(self.context)
            except Exception as exc:
                self.runs.finish(run_id, self.context.clock(), error=f"{type(exc).__name__}: {exc}")
                log.error(f"Job failed | job={name}, error={type(exc).__name__}: {exc}\n{traceback.format_exc()}")
                raise
            self.runs.finish(run_id, self.context.clock(), summary=summary)
            log.info(f"Job finished | job={name}")
            return summary

    def _run_isolated(self, name: str) -> None:
        try:
            self.run(name)
        except Exception:  # noqa: BLE001 - recorded and logged by run(); one job must not stop the others
            pass

    def due_on_startup(self, now: datetime | None = None) -> list[str]:
        """Cron jobs whose most recent scheduled time passed since their last recorded run."""
        now = now or self.context.clock()
        due = []
        for name, schedule in self._enabled():
            if schedule.trigger != "cron":
                continue
            last = self.runs.last_started(name)
            if last is None:
                continue  # never ran: nothing was missed, wait for the schedule
            trigger = CronTrigger(timezone=self.context.config.timezone, **schedule.trigger_kwargs())
            next_after_last = trigger.get_next_fire_time(None, last + timedelta(microseconds=1))
            if next_after_last is not None and next_after_last <= now:
                due.append(name)
        return due

    def _enabled(self) -> list[tuple[str, JobSchedule]]:
        return [(n, s) for n, s in self.context.config.jobs.items() if s.enabled and n in self.jobs]

    def start(self) -> BackgroundScheduler:
        """Schedule every enabled job in a background scheduler, after catching up missed cron runs."""
        tz = self.context.config.timezone
        scheduler = BackgroundScheduler(timezone=tz, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600,
        })
        first_interval_run = datetime.now(UTC) + timedelta(seconds=2)
        for name, schedule in self._enabled():
            kwargs = schedule.trigger_kwargs()
            if schedule.trigger == "cron":
                scheduler.add_job(self._run_isolated, CronTrigger(timezone=tz, **kwargs), args=[name], id=name,
                                  name=name)
            else:  # interval jobs (aggregation, alerts) run once at start-up, not only a period later
                scheduler.add_job(self._run_isolated, IntervalTrigger(timezone=tz, **kwargs), args=[name], id=name,
                                  name=name, next_run_time=first_interval_run)
        for name in self.due_on_startup():
            self.context.logger.info(f"Catching up missed run | job={name}")
            scheduler.add_job(self._run_isolated, args=[name], id=f"{name}-catch-up", name=f"{name} (catch-up)")
        scheduler.start()
        self._scheduler = scheduler
        self.context.logger.info(f"Monitor started | jobs={', '.join(n for n, _ in self._enabled())}")
        return scheduler

    def stop(self) -> None:
        """Stop the scheduler, waiting for running jobs."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
            self.context.logger.info("Monitor stopped")
