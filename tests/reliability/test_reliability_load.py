"""Sixty seconds of loopback load on ``recsys serve`` with a hot reload every ten seconds.

Asserted: not one request fails; after a graceful shutdown (Ctrl-C) the ``requests`` table holds
exactly one row per answered request (matched by request id, model id included); the rows switch
from each model to the next once, in registration order, and only forwards; every reload is
logged and recorded; no answer stalls across a reload.
"""

from __future__ import annotations

import time

import httpx
import pytest
from load_driver import LoadDriver
from reliability_helpers import integrity, latency_summary, query

from recsys.testing.service import register, save_tiny_model, start_serve, stop_with_ctrl_c

DURATION_S = 60.0
RELOAD_EVERY_S = 10.0
CLIENTS = 4


@pytest.mark.slow
def test_sixty_seconds_of_load_with_a_reload_every_ten_seconds(project, data, figures):
    paths, first = project
    reloads = int(DURATION_S // RELOAD_EVERY_S) - 1  # at 10, 20, ..., 50 s
    # Trained before the clock starts, registered during the load: each registration makes a new best.
    directories = [save_tiny_model(paths, data, seed=100 + i) for i in range(reloads)]
    process, url = start_serve(paths, args=())  # as a user runs it: the minute aggregation on too
    models = [first]
    registered_at: list[float] = []
    try:
        driver = LoadDriver(url, clients=CLIENTS).start()
        for i, directory in enumerate(directories, start=1):
            time.sleep(max(0.0, driver.started_at + i * RELOAD_EVERY_S - time.monotonic()))
            registered_at.append(time.monotonic())
            models.append(register(paths, directory, 0.2 + 0.1 * i))
        time.sleep(max(0.0, driver.started_at + DURATION_S - time.monotonic()))
        outcomes = driver.stop()
        exposition = httpx.get(f"{url}/metrics").text
    finally:
        stderr = stop_with_ctrl_c(process)
    elapsed = driver.stopped_at - driver.started_at

    failed = [o for o in outcomes if not o.ok]
    assert not failed, f"{len(failed)} of {len(outcomes)} requests failed, e.g. {failed[:3]}"
    answered = {o.request_id: o for o in outcomes}
    assert len(answered) == len(outcomes)  # request ids are unique

    rows = query(paths.service_db, "SELECT request_id, model_id, reload_triggered, error FROM requests ORDER BY id")
    assert len(rows) == len(outcomes)  # graceful shutdown: every answered request has its row
    assert {row[0] for row in rows} == set(answered)
    assert all(row[1] == answered[row[0]].model_id and row[3] is None for row in rows)

    # The rows move from each model to the next exactly once, in registration order.
    order = [models.index(row[1]) for row in rows]
    assert order == sorted(order) and set(order) == set(range(len(models)))
    switches = [i for i in range(1, len(rows)) if order[i] != order[i - 1]]
    assert [rows[i][2] for i in switches] == [1] * reloads  # the first request on a new model is marked
    assert sum(row[2] for row in rows) == reloads

    # Each new model serves within a few watch intervals (1 s) of its registration.
    first_answer = {}
    for outcome in sorted(outcomes, key=lambda o: o.answered):
        first_answer.setdefault(outcome.model_id, outcome.answered)
    delays = [first_answer[model] - at for model, at in zip(models[1:], registered_at, strict=True)]
    assert max(delays) < 5.0, delays

    events = query(paths.service_db, "SELECT trigger, old_model_id, new_model_id, status FROM model_reload_events "
                                     "ORDER BY id")
    swaps = [("watch", old, new, "ok") for old, new in zip(models, models[1:], strict=False)]
    assert [e for e in events if e[0] == "watch"] == swaps
    assert all(e[3] == "ok" for e in events)
    assert f"recsys_model_reloads_total {float(reloads)}" in exposition
    assert f'recsys_http_requests_total{{endpoint="/recommend",status="200"}} {float(len(outcomes))}' in exposition
    log = paths.service_log.read_text(encoding="utf-8")
    assert log.count("| INFO | Model reloaded | old=") == reloads
    assert log.count("| INFO | Request | ") + log.count("| WARNING | Cold-start | ") == len(outcomes)  # one line each
    assert "| ERROR |" not in log and "Traceback" not in log and "Traceback" not in stderr
    assert set(integrity(paths).values()) == {"ok"}

    latencies = [o.latency_ms for o in outcomes]
    near_reload = [o.latency_ms for o in outcomes if any(0 <= o.sent - at < 2.0 for at in registered_at)]
    overall, around = latency_summary(latencies), latency_summary(near_reload)
    assert overall["max_ms"] < 2000  # no request waited for a model load
    figures.update(requests=len(outcomes), seconds=round(elapsed, 1), rate_per_s=round(len(outcomes) / elapsed),
                   reloads=reloads, max_reload_delay_s=round(max(delays), 2),
                   **{f"all_{k}": v for k, v in overall.items()},
                   **{f"reload_2s_{k}": v for k, v in around.items()})
