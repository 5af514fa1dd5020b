"""POST /v1/events against its OpenAPI schema, with a key that holds the ``ingest`` scope (the run over every
operation in test_api_schema.py sends a read key, which this route answers 403). schemathesis generates batches,
valid and invalid: no answer is a 5xx, each status and body is the documented one, and invalid input is refused."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.main import create_app
from api_serving_data import NOW, make_registry, publish


def _build_app():
    root = Path(tempfile.mkdtemp(prefix="cycle-events-schema-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    publish(root / "serving")
    token = make_registry(root / "access.sqlite3", scopes=("ingest",))["default"]
    app = create_app(root / "serving", webhook_store=root / "inbound.sqlite3", access_store=root / "access.sqlite3",
                     rate_limit="1000000/minute", clock=lambda: NOW)
    return app, token


APP, TOKEN = _build_app()
schema = schemathesis.openapi.from_asgi("/v1/openapi.json", APP).include(path="/v1/events", method="POST")


def test_the_route_is_in_the_schema():
    op = APP.openapi()["paths"]["/v1/events"]["post"]
    assert {"200", "401", "403", "413", "422", "429", "503"} <= set(op["responses"])
    batch = op["requestBody"]["content"]["application/json"]["schema"]
    assert batch["type"] == "array" and batch["maxItems"] > 0


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_events_conform_to_the_schema(case):
    # a schema-valid event may still be refused (422, listed in `errors`) for what a schema cannot state: a
    # timestamp outside 2015..tomorrow, a web property the workspace does not own, an exposure outside its test
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[positive_data_acceptance])
