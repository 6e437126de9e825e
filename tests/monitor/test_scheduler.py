"""The monitor's scheduling frame: job runs recorded, failures isolated, missed runs caught up once."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from recsys.errors import ConfigError
from recsys.monitor.config import JobSchedule, MonitorConfig, default_config, load_monitor_config
from recsys.monitor.scheduler import Monitor


def _monitor(paths, jobs, schedules, clock=None):
    config = MonitorConfig(jobs=schedules)
    kwargs = {"clock": clock} if clock else {}
    return Monitor.create(paths, config, jobs, **kwargs)


def test_run_records_ok_and_failed_and_logs(paths):
    def ok(ctx):
        return {"rows": 3}

    def boom(ctx):
        raise ValueError("bad thing")

    monitor = _monitor(paths, {"ok": ok, "boom": boom}, {})
    assert monitor.run("ok") == {"rows": 3}
    with pytest.raises(ValueError):
        monitor.run("boom")
    runs = {r["job"]: r for r in monitor.runs.recent()}
    assert runs["ok"]["status"] == "ok" and '"rows": 3' in runs["ok"]["summary"]
    assert runs["boom"]["status"] == "failed" and "bad thing" in runs["boom"]["error"]
    log = paths.monitor_log.read_text()
    assert "| ERROR | Job failed | job=boom, error=ValueError: bad thing" in log
    assert "| INFO | Job finished | job=ok" in log


def test_failing_job_does_not_stop_the_others(paths):
    calls = {"good": 0}

    def good(ctx):
        calls["good"] += 1

    def bad(ctx):
        raise RuntimeError("always")

    fast = JobSchedule(trigger="interval", seconds=0.2)
    monitor = _monitor(paths, {"good": good, "bad": bad}, {"good": fast, "bad": fast})
    monitor.start()
    deadline = time.monotonic() + 10  # the machine is shared: wait for the runs, not for a fixed time
    try:
        while time.monotonic() < deadline:
            failed = [r for r in monitor.runs.recent(200) if r["job"] == "bad" and r["status"] != "running"]
            if calls["good"] >= 3 and len(failed) >= 3:
                break
            time.sleep(0.05)
    finally:
        monitor.stop()
    assert calls["good"] >= 3
    assert len(failed) >= 3 and all(r["status"] == "failed" for r in failed)


def test_missed_cron_run_is_caught_up_once(paths):
    now = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)  # a Tuesday
    weekly = JobSchedule(trigger="cron", day_of_week="mon", hour=9)
    monitor = _monitor(paths, {"drift": lambda ctx: None}, {"drift": weekly}, clock=lambda: now)
    assert monitor.due_on_startup(now) == []  # never ran: nothing missed
    # Last ran two weeks ago: two Monday slots were missed, one catch-up run is due.
    monitor.runs.start("drift", now - timedelta(days=15))
    assert monitor.due_on_startup(now) == ["drift"]
    # Ran after this Monday's slot: nothing due.
    monitor.runs.start("drift", datetime(2026, 12, 7, 9, 0, 5, tzinfo=UTC))
    assert monitor.due_on_startup(now) == []


def test_shipped_config_is_valid_and_errors_name_the_job(tmp_path):
    assert default_config().jobs["weekly_drift_check"].day_of_week == "mon"
    bad = tmp_path / "monitor.yaml"
    bad.write_text("jobs:\n  drift: {trigger: hourly}\n")
    with pytest.raises(ConfigError) as err:
        load_monitor_config(bad)
    assert "drift" in str(err.value) and "trigger" in str(err.value)
    bad.write_text("jobs:\n  nope: {trigger: cron, hour: 1}\n")
    with pytest.raises(ConfigError, match="unknown job"):
        load_monitor_config(bad, known_jobs={"drift"})
    bad.write_text("jobs: [unclosed\n")
    with pytest.raises(ConfigError, match="line"):
        load_monitor_config(bad)


def test_cron_zero_fields_are_kept():
    assert JobSchedule(trigger="cron", minute=0).trigger_kwargs() == {"minute": 0}
    assert JobSchedule(trigger="interval", minutes=1).trigger_kwargs() == {"minutes": 1}


def test_concurrent_job_runs_each_close_their_own_row(paths):
    import threading

    from recsys.monitor.runs import JobRunStore

    store = JobRunStore(paths.monitor_db)
    now = datetime(2026, 12, 4, tzinfo=UTC)
    barrier = threading.Barrier(8)

    def one(name):
        barrier.wait()
        for _ in range(25):
            store.finish(store.start(name, now), now)

    threads = [threading.Thread(target=one, args=(f"job{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = store.recent(1000)
    assert len(rows) == 200 and all(r["status"] == "ok" for r in rows)


@pytest.mark.parametrize(("job", "field", "reason"), [
    ("{trigger: cron, hour: 25}", "hour", "not a valid cron hour"),
    ("{trigger: cron, day_of_week: funday}", "day_of_week", "not a valid cron day_of_week"),
    ("{trigger: interval, minutes: -5}", "minutes", "greater than or equal to 0"),
    ("{trigger: interval}", None, "an interval job needs a positive period"),
    ("{trigger: interval, hour: 3}", None, "an interval job takes weeks/days/hours/minutes/seconds, not hour"),
    ("{trigger: cron, minutes: 5}", None, "a cron job takes"),
])
def test_schedules_apscheduler_would_refuse_or_misread_are_refused_at_load(tmp_path, job, field, reason):
    bad = tmp_path / "monitor.yaml"
    bad.write_text(f"jobs:\n  check_alerts: {job}\n")
    with pytest.raises(ConfigError) as err:
        load_monitor_config(bad)
    assert err.value.entry == "check_alerts" and err.value.field == field and reason in err.value.reason
