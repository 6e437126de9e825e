"""In-process scheduling of the aggregation jobs, for ``recsys serve`` until the monitor process runs them.

One thread, in the serving command's main process (never in a worker, so N workers still give
one ``service_health`` row per minute). Windows end on whole minutes / hours; each job runs
``lag`` seconds after its window closed so the request writers (flushing every <= 1 s) are done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from recsys.clock import Clock, utc_now
from recsys.paths import ProjectPaths
from recsys.service.aggregate import MINUTE, aggregate_metrics

MAX_CATCH_UP = 60


def _floor(moment: datetime, unit: timedelta) -> datetime:
    seconds = unit.total_seconds()
    return datetime.fromtimestamp((moment.timestamp() // seconds) * seconds, tz=moment.tzinfo)


def _reranking_job() -> Callable | None:
    """The embeddings package's hourly ``reranking_metrics`` job, if that package is installed."""
    try:
        from recsys.embeddings.aggregate import aggregate_reranking_metrics
    except ImportError:
        return None
    return aggregate_reranking_metrics


class AggregationJobs:
    """Runs ``aggregate_metrics`` every minute (and the reranking aggregate every hour, when available)."""

    def __init__(self, paths: ProjectPaths, *, clock: Clock = utc_now, lag: float = 2.0,
                 logger: logging.Logger | None = None):
        self.paths = paths
        self.clock = clock
        self.lag = lag
        self.logger = logger or logging.getLogger("recsys.service.jobs")
        self.hourly = _reranking_job()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AggregationJobs:
        """Start the scheduling thread."""
        self._thread = threading.Thread(target=self._run, name="recsys-aggregation", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the job in progress (if any)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def run_due(self, last_minute: datetime | None, now: datetime) -> datetime:
        """Aggregate every whole minute that closed at or before ``now - lag`` since ``last_minute``.

        Missed minutes (a stalled process) are caught up, at most ``MAX_CATCH_UP`` of them. Returns
        the last minute aggregated.
        """
        due = _floor(now - timedelta(seconds=self.lag), MINUTE)
        if last_minute is not None and due <= last_minute:
            return last_minute
        first = due if last_minute is None else max(last_minute + MINUTE, due - MINUTE * (MAX_CATCH_UP - 1))
        minute = first
        while minute <= due:
            try:
                aggregate_metrics(self.paths, now=minute)
                if minute.minute == 0 and self.hourly is not None:
                    self.hourly(self.paths, now=minute)
            except Exception as exc:  # the next minute tries again; serving is unaffected
                self.logger.error("Aggregation failed | window_end=%s, error=%s: %s", minute, type(exc).__name__,
                                  exc)
            minute += MINUTE
        return due

    def _run(self) -> None:
        last = _floor(self.clock() - timedelta(seconds=self.lag), MINUTE)  # no partial first window
        while not self._stop.wait(1.0):
            last = self.run_due(last, self.clock())
