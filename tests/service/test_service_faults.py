"""What the service reports when its surroundings break: a failed reload, deleted artifacts, unwritable logs."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from recsys.cf.registry import ModelLoader
from recsys.clock import format_ts, utc_now
from recsys.service.app import create_app
from recsys.service.request_log import RequestLogWriter
from recsys.service.service_log import ServiceLog
from recsys.service.settings import ServiceSettings
from recsys.testing.service import USER_BASE, LiveServer, request_row


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)
    return value


def test_loader_names_a_failed_reload_and_missing_artifacts(project):
    paths, model_id = project
    loader = ModelLoader(paths=paths, watch_interval=0, logger=logging.getLogger("test.faults")).start()
    assert loader.serving_issues() == []
    good = paths.registry_file.read_bytes()
    paths.registry_file.write_text("{broken", encoding="utf-8")
    assert loader.check_for_update().status == "failed"
    [issue] = loader.serving_issues()
    assert issue.startswith(f"last model load failed (serving {model_id}): RegistryCorruptError")
    paths.registry_file.write_bytes(good)
    assert loader.check_for_update().status == "unchanged" and loader.serving_issues() == []
    shutil.rmtree(loader.current.info["path"])
    [issue] = loader.serving_issues()
    assert issue == f"artifacts of the serving model {model_id} are missing: {loader.current.info['path']}"


def test_writer_error_is_reported_while_writes_fail_and_cleared_after(paths):
    errors: list[None] = []
    writer = RequestLogWriter(paths.service_db, flush_interval=0.02, logger=logging.getLogger("test.faults.writer"),
                              on_write_error=lambda: errors.append(None)).start()
    outside = sqlite3.connect(paths.service_db)
    outside.execute("ALTER TABLE requests RENAME TO requests_away")  # every insert fails now
    outside.commit()
    writer.submit_request(request_row(format_ts(utc_now()), 1.0))
    wait_for(lambda: writer.last_error)
    assert "no such table: requests" in writer.last_error and writer.write_errors == len(errors) >= 1
    outside.execute("ALTER TABLE requests_away RENAME TO requests")
    outside.commit()
    wait_for(lambda: writer.last_error is None)
    writer.close()
    assert outside.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1  # retried, not lost
    outside.close()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to simulate a full disk")
def test_service_log_on_a_full_disk_counts_lost_lines_and_says_so_once(tmp_path, capfd):
    path = tmp_path / "logs" / "service" / "recommender.log"
    path.parent.mkdir(parents=True)
    path.symlink_to(Path("/dev/full"))  # every write fails with ENOSPC
    lost: list[int] = []
    log = ServiceLog(path, on_lost=lost.append, interval=0.01)
    log.start()
    for i in range(50):
        log.fast(logging.INFO, "Request | user_id=%d", i)
        log.logger.error("an error line %d", i)
        time.sleep(0.001)
    log.stop()
    assert sum(lost) == log.lines_lost == 100 and "No space left on device" in log.last_error
    stderr = capfd.readouterr().err
    assert stderr.count("recsys service log: cannot write") == 1 and "Traceback" not in stderr


def test_health_is_degraded_with_the_reason_while_still_serving(project):
    paths, model_id = project
    app = create_app(paths, settings=ServiceSettings(watch_interval=0.05, loader_stats_interval=0))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/health").json()["issues"] == []
        artifacts = client.get("/model").json()["model"]["path"]
        shutil.rmtree(artifacts)
        health = client.get("/health")
        answer = client.post("/recommend", json={"user_id": USER_BASE})
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["issues"] == [f"artifacts of the serving model {model_id} are missing: {artifacts}"]
    assert answer.status_code == 200 and answer.json()["model_id"] == model_id


def test_corrupt_registry_at_start_serves_the_catalogue_until_repaired(project):
    paths, model_id = project
    good = paths.registry_file.read_bytes()
    paths.registry_file.write_text("{oops", encoding="utf-8")
    app = create_app(paths, settings=ServiceSettings(watch_interval=0.05, loader_stats_interval=0))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        health = client.get("/health")
        answer = client.post("/recommend", json={"user_id": USER_BASE, "topk": 3})
        paths.registry_file.write_bytes(good)
        wait_for(lambda: client.get("/health").json()["model_id"] == model_id)
        repaired = client.get("/health").json()
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    no_model, failed = health.json()["issues"]
    assert no_model.startswith("no trained model") and "RegistryCorruptError" in failed
    assert answer.status_code == 200
    assert answer.json()["fallback_method"] == "catalog_popularity" and answer.json()["count"] == 3
    assert repaired["status"] == "ok" and repaired["issues"] == []
    assert "Serving popular products from the catalogue until a model loads" in paths.service_log.read_text()
