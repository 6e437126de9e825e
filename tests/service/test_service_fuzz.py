"""Schemathesis fuzzes the service's own OpenAPI schema over a real socket: no input may cause a 5xx.

Valid (positive) and invalid (negative) cases for every operation, bounded in examples so the
run stays well under a minute. Admin calls are made with the right token half of the time.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from recsys.paths import ProjectPaths
from recsys.service.app import create_app
from recsys.service.settings import ServiceSettings
from recsys.testing.service import LiveServer, register, save_tiny_model, tiny_data, write_products

TOKEN = "fuzz-token"
EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 40}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    paths = ProjectPaths.from_env(tmp_path_factory.mktemp("fuzz"))
    data = tiny_data()
    write_products(paths, data.item_ids)
    register(paths, save_tiny_model(paths, data), 0.2)
    app = create_app(paths, settings=ServiceSettings(admin_token=TOKEN, watch_interval=0.2, loader_stats_interval=0))
    with LiveServer(app) as server:
        yield server, paths


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=str)
def test_no_input_causes_a_server_error(fuzz_server, mode):
    server, paths = fuzz_server
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/recommend", "/feedback", "/health", "/model", "/admin/reload"}
    statuses: list[int] = []

    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode), authorized=st.booleans())
        @settings(max_examples=EXAMPLES[mode], deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case, authorized):
            headers = {"Authorization": f"Bearer {TOKEN}"} if authorized else None
            response = case.call_and_validate(base_url=server.url, headers=headers, checks=[not_a_server_error])
            statuses.append(response.status_code)

        try:
            run()
        except Unsatisfiable:  # an operation without inputs has no invalid variant
            assert mode == GenerationMode.NEGATIVE and operation.method.upper() == "GET"
    assert statuses and max(statuses) < 500
    log = paths.service_log.read_text(encoding="utf-8")
    assert "Traceback" not in log and "| ERROR |" not in log
