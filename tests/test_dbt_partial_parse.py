"""Dagster's dbt invocations keep dbt's partial parsing: the partition window reaches the models through
env vars read only at execution (a changed --vars re-parses the whole project), and each invocation starts
from the newest partial-parse file of the same profile. (That a rerun skips parsing is checked on the
end-to-end pipeline, tests/test_pipeline_e2e.py.)"""

from __future__ import annotations

import os

import pytest

from analytics_assets.defs.transform import dbt_invocation as dbt_assets
from analytics_assets.defs.transform.dbt_invocation import DBT_PROJECT_DIR

WINDOW_ENV = {"CYCLE_DBT_MIN_DATE": "2026-01-02", "CYCLE_DBT_MAX_DATE": "2026-01-03"}


def _project_manifest():
    """dbt/target/manifest.json (what Dagster runs) when no project file is newer, else a fresh parse."""
    from dbt.artifacts.schemas.manifest import WritableManifest
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest

    path = DBT_PROJECT_DIR / "target" / "manifest.json"
    sources = [DBT_PROJECT_DIR / "dbt_project.yml"] + [
        f for d in ("models", "macros", "seeds", "snapshots", "tests") for f in (DBT_PROJECT_DIR / d).rglob("*")
        if f.is_file()
    ]
    if path.exists() and max(f.stat().st_mtime for f in sources) <= path.stat().st_mtime:
        return Manifest.from_writable_manifest(WritableManifest.read_and_check_versions(str(path)))
    parsed = dbtRunner().invoke(["parse", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
                                 str(DBT_PROJECT_DIR), "--target-path", os.environ["DBT_TARGET_PATH"], "--quiet"])
    assert parsed.success, parsed.exception
    return parsed.result


@pytest.fixture(scope="module")
def window_bounds(tmp_path_factory):
    """Compile `cycle_window_bounds()` in-process with the given vars and env (dbt parses the inline node
    first, so a bound read while parsing would show)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    root = tmp_path_factory.mktemp("window")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CYCLE_WAREHOUSE_PATH", str(root / "warehouse.duckdb"))
        env.setenv("DBT_TARGET_PATH", str(root / "target"))
        manifest = _project_manifest()
        runner = dbtRunner(manifest=manifest)

        def bounds(dbt_vars: str | None = None, **window_env: str) -> str:
            for name in WINDOW_ENV:
                env.delenv(name, raising=False)
            for name, value in window_env.items():
                env.setenv(name, value)
            args = ["compile", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                    "--quiet", "--inline", "{{ cycle_window_bounds() | join(' ') }}"]
            result = runner.invoke(args + (["--vars", dbt_vars] if dbt_vars else []))
            if not result.success:
                # dbt only drops the inline node from the manifest after a successful run
                for unique_id in [k for k, n in manifest.nodes.items() if n.name == "inline_query"]:
                    del manifest.nodes[unique_id]
                raise RuntimeError(str(result.exception))
            return result.result.results[0].node.compiled_code.strip()

        try:
            yield bounds
        finally:
            # dbt-duckdb keeps the database open in-process between commands
            if DuckDBConnectionManager._ENV is not None:
                DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager.close_all_connections()


def test_window_comes_from_vars_then_env_then_the_whole_history(window_bounds):
    assert window_bounds() == "1900-01-01 9999-12-31"
    assert window_bounds(**WINDOW_ENV) == "2026-01-02 2026-01-03"
    # a hand-run `dbt build --vars` (and a unit test's var overrides) win over the env Dagster sets
    assert window_bounds('{min_date: "2025-05-05", max_date: "2025-05-06"}', **WINDOW_ENV) == "2025-05-05 2025-05-06"
    assert window_bounds('{min_date: "2025-05-05"}', **WINDOW_ENV) == "2025-05-05 9999-12-31"
    assert window_bounds(CYCLE_DBT_MIN_DATE="2026-01-02") == "2026-01-02 9999-12-31"


def test_a_bad_window_in_the_env_is_a_clear_error(window_bounds):
    with pytest.raises(RuntimeError, match="must be ISO dates"):
        window_bounds(CYCLE_DBT_MIN_DATE="yesterday")
    with pytest.raises(RuntimeError, match="is after max_date"):
        window_bounds(CYCLE_DBT_MIN_DATE="2026-01-03", CYCLE_DBT_MAX_DATE="2026-01-02")


def test_partial_parse_file_is_shared_by_invocations_of_the_same_profile_only(tmp_path, monkeypatch):
    monkeypatch.setattr(dbt_assets, "PARTIAL_PARSE_CACHE", tmp_path / "cache")
    monkeypatch.setattr(dbt_assets, "PARTIAL_PARSE_CACHE_SIZE", 2)
    warehouse_a = {"CYCLE_WAREHOUSE_PATH": str(tmp_path / "a" / "warehouse.duckdb")}
    key_a = dbt_assets._profile_key(warehouse_a)
    # the window is no part of the profile: every partition of a warehouse shares one file
    assert dbt_assets._profile_key({**warehouse_a, "CYCLE_DBT_MIN_DATE": "2026-01-02"}) == key_a

    def invocation(name: str, key: str, written: bytes | None) -> bytes | None:
        """Seed a target folder as the asset does, let "dbt" write `written`, save; return the seed's content."""
        target = tmp_path / name
        dbt_assets._seed_partial_parse(target, key)
        seeded = target / dbt_assets.PARTIAL_PARSE_FILE
        seed = seeded.read_bytes() if seeded.exists() else None
        if written is not None:
            seeded.write_bytes(written)
        dbt_assets._save_partial_parse(target, key)
        return seed

    assert invocation("first", key_a, b"parsed for a") is None
    assert invocation("second", key_a, b"parsed again for a") == b"parsed for a"
    assert invocation("third", key_a, None) == b"parsed again for a"  # nothing written: the cache is kept

    key_b = dbt_assets._profile_key({"CYCLE_WAREHOUSE_PATH": str(tmp_path / "b" / "warehouse.duckdb")})
    assert key_b != key_a
    assert invocation("other warehouse", key_b, b"parsed for b") is None
    # the cache keeps the newest files only
    os.utime(tmp_path / "cache" / f"{key_a}.msgpack", (0, 0))
    invocation("third warehouse", "c", b"parsed for c")
    assert sorted(f.stem for f in (tmp_path / "cache").iterdir()) == sorted([key_b, "c"])


def test_only_the_newest_invocation_target_folders_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(dbt_assets, "INVOCATION_TARGETS_KEPT", 3)
    for k in range(6):
        folder = tmp_path / f"cycle_dbt_models-run{k}"
        (folder / "compiled").mkdir(parents=True)
        os.utime(folder, (1_000 + k, 1_000 + k))
    (tmp_path / "partial_parse_cache").mkdir()  # other folders of dbt's target are not the asset's runs
    dbt_assets._prune_invocation_targets(tmp_path, "cycle_dbt_models")
    assert sorted(f.name for f in tmp_path.iterdir()) == [
        "cycle_dbt_models-run3",
        "cycle_dbt_models-run4",
        "cycle_dbt_models-run5",
        "partial_parse_cache",
    ]
