"""Bad input against the real ``recsys serve`` (uvloop + httptools) while valid traffic runs, and bad config files.

Asserted for every bad request: a 4xx whose JSON body says what was wrong (the field, or why the
body is unusable) and carries the request id; never a 5xx, never a trace. Raw protocol garbage
gets a 400 or a closed connection and the server keeps serving. Nothing is lost: after a graceful
stop the ``requests`` table holds exactly the rows of the valid requests (load and interleaved).
Bad config files give a one-line ``ConfigError`` naming the file, the entry and the field, and
exit code 1 — never a traceback — and a broken rotation config does not stop the service.
"""

from __future__ import annotations

import socket

import httpx
import pytest
from click.testing import CliRunner
from load_driver import LoadDriver
from reliability_helpers import query

from recsys.cli import cli
from recsys.testing.service import USER_BASE, start_serve, stop_with_ctrl_c

TOKEN = "reliability-admin-token"
JSON = {"content-type": "application/json"}
MB = 1024 * 1024

# (name, request keyword arguments, status, text the error must contain: a field name or the reason)
BAD_RECOMMEND = [
    ("malformed JSON", {"content": b'{"user_id": 1,', "headers": JSON}, 422, "JSON decode error"),
    ("empty body", {"content": b"", "headers": JSON}, 422, "body"),
    ("JSON null", {"content": b"null", "headers": JSON}, 422, "valid dictionary"),
    ("JSON array", {"content": b"[1, 2]", "headers": JSON}, 422, "valid dictionary"),
    ("NaN user", {"content": b'{"user_id": NaN}', "headers": JSON}, 422, "user_id"),
    ("huge topk", {"json": {"user_id": 1, "topk": 10**30}}, 422, "topk"),
    ("topk 0", {"json": {"user_id": 1, "topk": 0}}, 422, "topk"),
    ("topk infinity", {"content": b'{"user_id": 1, "topk": Infinity}', "headers": JSON}, 422, "topk"),
    ("negative user", {"json": {"user_id": -1}}, 422, "user_id"),
    ("user above int64", {"json": {"user_id": 2**63}}, 422, "user_id"),
    ("user 2^64", {"json": {"user_id": 2**64}}, 422, "user_id"),
    ("5000-digit user", {"content": b'{"user_id": ' + b"9" * 5000 + b"}", "headers": JSON}, 400, "too many digits"),
    ("float user", {"json": {"user_id": 1.5}}, 422, "user_id"),
    ("string user", {"json": {"user_id": "1"}}, 422, "user_id"),
    ("boolean user", {"json": {"user_id": True}}, 422, "user_id"),
    ("missing user", {"json": {"topk": 3}}, 422, "user_id"),
    ("extra field", {"json": {"user_id": 1, "admin": True}}, 422, "admin"),
    ("unicode extra field", {"json": {"user_id": 1, "ưu_tiên": 1}}, 422, "ưu_tiên"),
    ("unknown filter", {"json": {"user_id": 1, "filter_params": {"colour": "red"}}}, 422, "colour"),
    ("negative price", {"json": {"user_id": 1, "filter_params": {"price_min": -1}}}, 422, "price_min"),
    ("NaN price", {"content": b'{"user_id": 1, "filter_params": {"price_max": NaN}}', "headers": JSON}, 422,
     "price_max"),
    ("long category", {"json": {"user_id": 1, "filter_params": {"category": "x" * 201}}}, 422, "category"),
    ("lone surrogate", {"content": b'{"user_id": 1, "filter_params": {"brand": "\\ud800"}}', "headers": JSON}, 422,
     "brand"),
    ("invalid UTF-8", {"content": b'{"user_id": 1, "filter_params": {"brand": "\xff"}}', "headers": JSON}, 400,
     "UTF-8"),
    ("deep nesting", {"content": b'{"user_id": 1, "f": ' + b"[" * 20000 + b"]" * 20000 + b"}", "headers": JSON},
     400, "cannot be parsed"),
    ("text/plain", {"content": b'{"user_id": 1}', "headers": {"content-type": "text/plain"}}, 422, "Content-Type"),
    ("form", {"data": {"user_id": "1"}}, 422, "Content-Type"),
    ("no content type", {"content": b'{"user_id": 1}'}, 422, "Content-Type"),
    ("5 MB body", {"content": b'{"user_id": 1, "pad": "' + b"x" * 5 * MB + b'"}', "headers": JSON}, 413,
     "larger than"),
]
BAD_FEEDBACK = [
    ("unknown event", {"json": {"user_id": 1, "product_id": 2, "event": "like"}}, 422, "event"),
    ("negative product", {"json": {"user_id": 1, "product_id": -2, "event": "click"}}, 422, "product_id"),
    ("request id with spaces", {"json": {"user_id": 1, "product_id": 2, "event": "click", "request_id": "a b"}},
     422, "request_id"),
]
VALID_UNICODE = [  # odd but valid: answered, recorded
    {"user_id": USER_BASE, "filter_params": {"category": "sữa rửa mặt 🧴"}},
    {"user_id": USER_BASE + 1, "filter_params": {"brand": "Innisfree\u200b", "category": "SERUM"}},
    {"user_id": 2**63 - 1, "topk": 100},  # the largest id there is: a cold-start user
    {"user_id": 0, "topk": 1, "exclude_seen": False},
]
RAW = [  # (bytes, expected start of the answer; b"" = the server just closes the connection)
    (b"GARBAGE\r\n\r\n", b"HTTP/1.1 400"),
    (b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", b"HTTP/1.1 400"),
    (b"POST /recommend HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", None),
    (b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
     b'{"user_id": 1}', None),  # the body never completes: the client goes away
]


def streamed_body(size: int):
    """A chunked body of ``size`` bytes (no Content-Length: the limit must hold while reading)."""
    yield b'{"user_id": 1, "pad": "'
    for _ in range(size // 65536):
        yield b"x" * 65536
    yield b'"}'


def check_error(name: str, response: httpx.Response, status: int, text: str) -> None:
    assert response.status_code == status, (name, response.status_code, response.text[:300])
    body = response.text
    assert "Traceback" not in body and 'File "' not in body, name
    answer = response.json()
    assert answer["request_id"] == response.headers["x-request-id"], name
    assert text in body, (name, body[:300])


def raw_exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(payload)
        except OSError:  # the server may close before reading a huge header: that is an answer too
            return b""
        sock.shutdown(socket.SHUT_WR)
        try:
            return sock.recv(200)
        except OSError:
            return b""


@pytest.mark.slow
def test_bad_requests_are_clear_4xx_and_nothing_valid_is_lost(project, figures):
    paths, model_id = project
    process, url = start_serve(paths, env={"RECSYS_ADMIN_TOKEN": TOKEN})
    port = int(url.rsplit(":", 1)[1])
    valid: list[str] = []
    statuses: list[int] = []
    try:
        driver = LoadDriver(url, clients=2).start()  # valid traffic all along
        with httpx.Client(base_url=url, timeout=30) as client:

            def valid_request(i: int, body: dict | None = None) -> None:
                response = client.post("/recommend", json=body or {"user_id": USER_BASE + i % 40, "topk": 5})
                assert response.status_code == 200, response.text
                valid.append(response.json()["request_id"])

            for i, (name, request, status, text) in enumerate(BAD_RECOMMEND):
                response = client.post("/recommend", **request)
                check_error(name, response, status, text)
                statuses.append(response.status_code)
                valid_request(i)  # the same keep-alive connection still works (or a new one does)
            for name, request, status, text in BAD_FEEDBACK:
                check_error(name, client.post("/feedback", **request), status, text)
            check_error("streamed 5 MB", client.post("/recommend", content=streamed_body(5 * MB), headers=JSON),
                        413, "larger than")
            check_error("GET /recommend", client.get("/recommend"), 405, "Method Not Allowed")
            check_error("unknown path", client.post("/nope", json={}), 404, "Not Found")
            check_error("admin without token", client.post("/admin/reload"), 401, "token")
            check_error("admin wrong token", client.post("/admin/reload", headers={"Authorization": "Bearer x"}),
                        401, "token")
            long_id = client.post("/recommend", json={"user_id": USER_BASE}, headers={"x-request-id": "x" * 500})
            assert long_id.status_code == 200 and len(long_id.headers["x-request-id"]) < 64  # replaced, not echoed
            valid.append(long_id.json()["request_id"])
            for body in VALID_UNICODE:
                valid_request(0, body)
            for payload, expected in RAW:
                answer = raw_exchange(port, payload)
                if expected is not None:
                    assert answer.startswith(expected), (payload[:40], answer)
                else:
                    assert not answer.startswith(b"HTTP/1.1 5"), (payload[:40], answer)
                valid_request(1)
            reload = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
            assert reload.status_code == 200 and reload.json()["new_model_id"] == model_id
            health = client.get("/health").json()
            assert health["status"] == "ok" and health["dropped_records"] == 0
        outcomes = driver.stop()
    finally:
        stderr = stop_with_ctrl_c(process)
    assert outcomes and all(o.ok for o in outcomes)
    expected = set(valid) | {o.request_id for o in outcomes}
    stored = [row[0] for row in query(paths.service_db, "SELECT request_id FROM requests")]
    assert len(stored) == len(expected) and set(stored) == expected  # exactly the valid requests, none lost
    log = paths.service_log.read_text(encoding="utf-8")
    assert "Traceback" not in log and "| ERROR |" not in log and "Traceback" not in stderr
    figures.update(bad_requests=len(BAD_RECOMMEND) + len(BAD_FEEDBACK) + 6 + len(RAW),
                   valid_rows=len(stored), status_counts={s: statuses.count(s) for s in sorted(set(statuses))})


ALERTS_OK_RULE = "alerts:\n  - {name: r, metric: avg_latency_ms, threshold: 200, window: 5min, severity: warning, " \
                 "action: email}\n"
BAD_CONFIGS = [  # (file, content, command, text the one-line error must contain)
    ("alerts_config.yaml", ALERTS_OK_RULE.replace("avg_latency_ms", "cpu"), ["alerts", "check"],
     "entry 'r', field 'metric': unknown metric 'cpu'"),
    ("alerts_config.yaml", ALERTS_OK_RULE.replace("5min", "fortnight"), ["alerts", "check"],
     "entry 'r', field 'window': unknown duration 'fortnight'"),
    ("alerts_config.yaml", ALERTS_OK_RULE.replace("200", "fast"), ["alerts", "check"],
     "entry 'r', field 'threshold'"),
    ("alerts_config.yaml", ALERTS_OK_RULE.replace("warning", "apocalyptic"), ["alerts", "check"],
     "entry 'r', field 'severity'"),
    ("alerts_config.yaml", ALERTS_OK_RULE.replace("email}", "pager}"), ["alerts", "check"],
     "entry 'r', field 'action'"),
    ("alerts_config.yaml", "email:\n  smtp_server: a\n  sender: a@b.c\n  recipients: [x@y.z]\n  password: hunter2\n",
     ["alerts", "check"], "entry 'email', field 'password': never put the password in the file"),
    ("alerts_config.yaml", "email: {smtp_server: a, smtp_port: 99999, sender: a@b.c, recipients: [x@y.z]}\n",
     ["alerts", "check"], "entry 'email', field 'smtp_port'"),
    ("alerts_config.yaml", "alerts: [\n", ["alerts", "check"], "YAML syntax error at line 2"),
    ("alerts_config.yaml", "- a list\n", ["alerts", "check"], "must be a mapping"),
    ("monitor.yaml", "jobs:\n  nope: {trigger: interval, minutes: 1}\n", ["monitor", "--list"],
     "entry 'nope', field 'jobs': unknown job"),
    ("monitor.yaml", "jobs:\n  check_alerts: {trigger: sometimes}\n", ["monitor", "--list"],
     "entry 'check_alerts', field 'trigger'"),
    ("monitor.yaml", "jobs:\n  check_alerts: {trigger: cron, hour: 25}\n", ["monitor", "--list"],
     "entry 'check_alerts', field 'hour': not a valid cron hour"),
    ("monitor.yaml", "jobs:\n  check_alerts: {trigger: interval, minutes: -5}\n", ["monitor", "--list"],
     "entry 'check_alerts', field 'minutes'"),
    ("monitor.yaml", "jobs:\n  check_alerts: {trigger: interval}\n", ["monitor", "--list"],
     "entry 'check_alerts': an interval job needs a positive period"),
    ("monitor.yaml", "timezone: Mars/Olympus\n", ["monitor", "--list"], "field 'timezone': unknown timezone"),
    ("retention.yaml", "rotation:\n  default:\n    max_bytes: lots\n", ["logs", "status"],
     "entry 'rotation.default', field 'max_bytes'"),
    ("retention.yaml", "stores:\n  service_metrics:\n    requests: -3\n", ["logs", "status"],
     "entry 'stores.service_metrics', field 'requests'"),
    ("retention.yaml", "stores:\n  service_metrics:\n    nosuchtable: 3\n", ["logs", "prune", "--dry-run"],
     "field 'nosuchtable'"),
    ("retention.yaml", "prune:\n  batch_size: 0\n", ["logs", "prune", "--dry-run"], "field 'batch_size'"),
    ("retention.yaml", ": : :\n", ["logs", "status"], "not valid YAML at line 1"),
]


@pytest.mark.slow
def test_bad_config_files_are_one_line_errors_naming_the_field(paths):
    runner = CliRunner()
    paths.config_dir.mkdir(parents=True)
    for name, content, command, text in BAD_CONFIGS:
        for old in paths.config_dir.iterdir():
            old.unlink()
        (paths.config_dir / name).write_text(content, encoding="utf-8")
        result = runner.invoke(cli, ["--home", str(paths.root), *command])
        assert result.exit_code == 1, (name, content, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (name, result.exception)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {paths.config_dir / name}"), (name, result.output)
        assert text in lines[0], (name, lines[0])


@pytest.mark.slow
def test_a_broken_rotation_config_does_not_stop_the_service(project):
    paths, model_id = project
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    (paths.config_dir / "retention.yaml").write_text("rotation:\n  default:\n    max_bytes: lots\n", encoding="utf-8")
    process, url = start_serve(paths)
    try:
        with httpx.Client(base_url=url) as client:
            answers = [client.post("/recommend", json={"user_id": USER_BASE + i}) for i in range(20)]
    finally:
        stderr = stop_with_ctrl_c(process)
    assert all(a.status_code == 200 and a.json()["model_id"] == model_id for a in answers)
    assert "max_bytes" in stderr  # the config error is reported, logging goes on with the defaults
    assert query(paths.service_db, "SELECT COUNT(*) FROM requests") == [(20,)]
    assert paths.service_log.read_text(encoding="utf-8").count("| INFO | Request | ") == 20
