"""App wiring: settings, OpenAPI docs, isolation from dagster and the warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.settings import Settings, default_serving_dir

ROOT = Path(__file__).resolve().parents[2]


def test_serving_dir_from_env(tmp_path):
    assert default_serving_dir({"CYCLE_SERVING_DIR": str(tmp_path / "s")}) == tmp_path / "s"
    assert default_serving_dir({"CYCLE_HOME": str(tmp_path)}) == tmp_path / "serving"
    # CYCLE_SERVING_DIR wins over CYCLE_HOME
    env = {"CYCLE_HOME": str(tmp_path / "home"), "CYCLE_SERVING_DIR": str(tmp_path / "s")}
    assert default_serving_dir(env) == tmp_path / "s"
    # the project's data/ folder, wherever the process runs from
    assert default_serving_dir({}) == (ROOT / "data" / "serving").resolve()
    assert Settings.from_env({"CYCLE_API_DUCKDB_MEMORY_LIMIT": "64MB"}).duckdb_memory_limit == "64MB"


def test_create_app_reads_env_and_argument_overrides(monkeypatch, tmp_path):
    from api.main import create_app

    monkeypatch.setenv("CYCLE_SERVING_DIR", str(tmp_path / "from_env"))
    assert create_app().state.settings.serving_dir == tmp_path / "from_env"
    assert create_app(tmp_path / "arg").state.settings.serving_dir == tmp_path / "arg"


def test_openapi_describes_endpoints_and_parameters(client):
    spec = client.get("/v1/openapi.json").json()
    paths = spec["paths"]
    assert {"/v1/health", "/v1/livez", "/v1/optimal-hours", "/v1/rollups/daily", "/v1/attribution",
            "/v1/overview"} <= set(paths)
    # the unversioned 0.1 paths still answer, but are not documented
    assert not {"/health", "/optimal-hours", "/rollups/daily", "/attribution", "/overview"} & set(paths)
    assert all(p.startswith(("/v1/", "/webhooks/")) for p in paths)

    def params(path):
        return {p["name"]: p for p in paths[path]["get"]["parameters"]}

    oh = params("/v1/optimal-hours")
    assert oh["top"]["schema"]["minimum"] == 1 and oh["top"]["schema"]["maximum"] == 24
    assert oh["top"]["schema"]["default"] == 3
    assert all(p["description"] for p in oh.values())
    roll = params("/v1/rollups/daily")
    assert set(roll) == {"platform", "start", "end", "limit", "cursor"}
    assert all(p["description"] and not p["required"] for p in roll.values())
    assert roll["limit"]["schema"]["default"] == 100
    att = params("/v1/attribution")
    assert att["model"]["required"] is True and att["model"]["description"]
    assert {"start", "end"} <= set(att)
    schemas = spec["components"]["schemas"]
    assert schemas["AttributionModel"]["enum"] == [
        "first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley"
    ]
    assert schemas["OrganicPlatform"]["enum"] == ["linkedin", "x", "reddit", "tiktok"]
    assert len(schemas["Platform"]["enum"]) == 7
    for path in ("/v1/optimal-hours", "/v1/rollups/daily", "/v1/attribution", "/v1/overview"):
        assert {"200", "401", "403", "404", "422", "429", "503"} <= set(paths[path]["get"]["responses"])
        assert paths[path]["get"]["security"]  # an API key
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
    assert "security" not in paths["/v1/livez"]["get"]  # the only route without a key
    assert client.get("/v1/docs").status_code == 200
    root = client.get("/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/v1/docs"


def test_api_does_not_import_dagster_and_module_app_exists(tmp_path):
    code = (
        "import sys, api.main as m; "
        "assert m.app.title == 'Cycle API'; "
        "bad = [n for n in sys.modules if n.split('.')[0] == 'dagster']; "
        "assert not bad, bad; print('ok')"
    )
    env = {**os.environ, "CYCLE_SERVING_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_store_duckdb_has_no_file_access(client):
    """The API's DuckDB cannot open files itself (so it can never open the warehouse)."""
    import duckdb

    store = client.app.state.store
    cur = store._con.cursor()
    try:
        with pytest.raises(duckdb.Error, match="disabled by configuration"):
            cur.execute("SELECT * FROM read_parquet(?)", [str(store.path("attribution_daily.parquet"))])
    finally:
        cur.close()
