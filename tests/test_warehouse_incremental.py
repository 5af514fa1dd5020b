"""The warehouse's incremental models give, partition by partition, exactly what a full refresh gives,
and the campaign history (snapshot -> dim_campaign) does not depend on how or in what order the days
were loaded: one dbt run over several days (Dagster's single-run backfill) and a later backfill of
earlier days end with the same dim_campaign as a full build.

dbt runs in-process (dbtRunner with the project's manifest loaded once) so each partition costs a few
seconds, not a parse; the raw tables are filled directly from the simulator (parse_day +
replace_partitions), small volumes.
"""

from __future__ import annotations

import functools
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics_assets.defs.transform.dbt import DBT_PROJECT_DIR
from analytics_assets.sources.parsing.loader import parse_day
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.storage.warehouse import connect, replace_partitions
from warehouse_state import table_fingerprints

pytestmark = pytest.mark.slow

DAYS = [date(2026, 10, 12) + timedelta(days=k) for k in range(3)]
SIM = SimulatorConfig(
    seed=5,
    posts_per_day=30,
    journeys_per_day=30,
    ai_generations_per_day=20,
    experiment_units_per_day=20,
    malformed_rate=0.01,
)
# the campaign history (dim_campaign with the snapshot and everything it is built from)
HISTORY_MODELS = ["dim_campaign"]
HISTORY_SELECT = "+dim_campaign"
# the organic post chain: incremental models whose days (or posts) depend on other days of their inputs, so a
# windowed run reads the days around its window (var post_history_lookback_days) and rewrites some of them
POST_CHAIN_MODELS = ["int_post_daily_increments", "agg_account_daily", "agg_platform_daily",
                     "agg_content_performance_daily", "agg_account_content_performance_daily", "dim_post"]


class Dbt:
    """dbt in-process: the project's manifest loaded once, then any number of commands, each against the
    warehouse file given (the profile reads CYCLE_WAREHOUSE_PATH)."""

    def __init__(self, target: Path, env: pytest.MonkeyPatch):
        from dbt.cli.main import dbtRunner

        self.env = env
        self.target = target
        self.base = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                     "--target-path", str(target), "--quiet"]
        self.manifest = self._project_manifest() or self._parse()
        # dbt-duckdb names the database after the warehouse file and the manifest keeps that name: every
        # warehouse here is a file of that name in its own folder
        self.database = next(n.database for n in self.manifest.nodes.values() if n.resource_type == "model")
        self.runner = dbtRunner(manifest=self.manifest)

    @staticmethod
    def _project_manifest():
        """The manifest `make install` keeps in dbt/target (what Dagster runs), when no project file is
        newer than it: loading it takes seconds where a parse takes half a minute."""
        from dbt.artifacts.schemas.manifest import WritableManifest
        from dbt.contracts.graph.manifest import Manifest

        path = DBT_PROJECT_DIR / "target" / "manifest.json"
        if not path.exists():
            return None
        sources = [DBT_PROJECT_DIR / "dbt_project.yml"] + [
            f for d in ("models", "macros", "seeds", "snapshots", "tests") for f in (DBT_PROJECT_DIR / d).rglob("*")
            if f.is_file()
        ]
        if max(f.stat().st_mtime for f in sources) > path.stat().st_mtime:
            return None
        manifest = Manifest.from_writable_manifest(WritableManifest.read_and_check_versions(str(path)))
        # the artifact reads every data test back as a singular one, without the generic test's arguments
        # (`dbt test` then fails to compile it): restore those from the JSON
        from dbt.contracts.graph.nodes import GenericTestNode

        for uid, node in json.loads(path.read_text())["nodes"].items():
            if node["resource_type"] == "test" and node.get("test_metadata"):
                manifest.nodes[uid] = GenericTestNode.from_dict(node)
        # the `graph` context (a test's model-level window, macros/test_window.sql) as a parse leaves it
        manifest.build_flat_graph()
        return manifest

    def _parse(self):
        from dbt.cli.main import dbtRunner

        self.env.setenv("CYCLE_WAREHOUSE_PATH", str(self.target / "parse" / "warehouse.duckdb"))
        parsed = dbtRunner().invoke(["parse", *self.base])
        assert parsed.success, parsed.exception
        return parsed.result

    def warehouse(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{self.database}.duckdb"

    def incremental_models(self) -> list[str]:
        return sorted(
            n.name for n in self.manifest.nodes.values()
            if n.resource_type == "model" and n.config.materialized == "incremental"
        )

    def build(self, warehouse: Path, select: list[str], window: tuple[date, date] | None = None,
              full_refresh: bool = False, extra_vars: dict | None = None) -> None:
        args = ["build", "--select", *select, "--exclude-resource-type", "test", "unit_test"]
        if full_refresh:
            args.append("--full-refresh")
        result = self._invoke(warehouse, args, window, extra_vars)
        assert result.success, [(r.node.name, r.message) for r in (result.result or []) if r.status != "success"]

    def test(self, warehouse: Path, select: str, window: tuple[date, date] | None = None) -> dict[str, str]:
        """`dbt test` of the data tests `select` picks: each test's status (pass, fail, error)."""
        result = self._invoke(warehouse, ["test", "--select", select, "--exclude-resource-type", "unit_test"], window)
        assert result.result, (result.exception, "no test selected")
        return {r.node.name: str(r.status) if str(r.status) != "error" else f"error: {r.message}" for r in result.result}

    def _invoke(self, warehouse: Path, args: list[str], window: tuple[date, date] | None = None,
                extra_vars: dict | None = None):
        self.env.setenv("CYCLE_WAREHOUSE_PATH", str(warehouse))
        args = [args[0], *self.base, *args[1:]]
        dbt_vars = dict(extra_vars or {})
        if window:
            dbt_vars.update(min_date=window[0].isoformat(), max_date=window[1].isoformat())
        if dbt_vars:
            args += ["--vars", json.dumps(dbt_vars)]
        try:
            return self.runner.invoke(args)
        finally:
            _release_duckdb()


def _release_duckdb() -> None:
    # dbt-duckdb keeps the database open in-process between commands; close it so this process can open
    # the file with its own settings (to load raw days) and the next command starts clean
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


@functools.lru_cache(maxsize=len(DAYS))
def raw_batches(day: date) -> tuple:
    return tuple(parse_day(PlatformSimulator(SIM).day(day)).values())


def load_raw(warehouse: Path, days: list[date]) -> None:
    with connect(warehouse) as con:
        for day in days:
            for batch in raw_batches(day):
                replace_partitions(con, batch.table, batch.rows, batch.quarantine, day, day)


def tables(warehouse: Path, names: list[str]) -> dict[str, tuple[int, int]]:
    prints = table_fingerprints(warehouse)
    return {name: prints.get(f"main.{name}") for name in names}


def read(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        yield _build_warehouses(tmp_path_factory.mktemp("incremental"), env)


def _build_warehouses(root: Path, env: pytest.MonkeyPatch) -> dict:
    dbt = Dbt(root / "dbt_target", env)
    raw = dbt.warehouse(root / "loaded")
    load_raw(raw, DAYS)
    select = ["+config.materialized:incremental", HISTORY_SELECT]

    full = dbt.warehouse(root / "full")
    shutil.copy(raw, full)
    dbt.build(full, select, full_refresh=True)

    # one partition at a time, as the daily schedule runs them
    partitioned = dbt.warehouse(root / "partitioned")
    shutil.copy(raw, partitioned)
    for day in DAYS:
        dbt.build(partitioned, select, window=(day, day))

    # the history backfilled out of order: the last two days in one run (a single-run backfill), then
    # the raw day before them arrives and is built in one more run
    backfilled = dbt.warehouse(root / "backfilled")
    load_raw(backfilled, DAYS[1:])
    dbt.build(backfilled, [HISTORY_SELECT], window=(DAYS[1], DAYS[2]))
    load_raw(backfilled, DAYS[:1])
    dbt.build(backfilled, [HISTORY_SELECT], window=(DAYS[0], DAYS[0]))

    # the post chain's days loaded and built out of order (the last day first, then a backfill of the days
    # before it): a day built later changes what the days after it count from (their increments, their posts'
    # spans), which its run must rewrite
    out_of_order = dbt.warehouse(root / "out_of_order")
    for day in (DAYS[2], DAYS[0], DAYS[1]):
        load_raw(out_of_order, [day])
        dbt.build(out_of_order, [f"+{m}" for m in POST_CHAIN_MODELS], window=(day, day))
    return {"dbt": dbt, "full": full, "partitioned": partitioned, "backfilled": backfilled,
            "out_of_order": out_of_order}


def test_every_incremental_model_built_partition_by_partition_equals_a_full_refresh(warehouses):
    models = warehouses["dbt"].incremental_models()
    assert {"fct_campaign_performance", "fct_ad_creative_performance", "agg_ai_usage_daily",
            "fct_post_metrics_daily", "fct_snapshot_delta_flags", *POST_CHAIN_MODELS} <= set(models)
    full = tables(warehouses["full"], models + HISTORY_MODELS)
    partitioned = tables(warehouses["partitioned"], models + HISTORY_MODELS)
    assert all(v is not None for v in full.values()), full
    assert all(full[m][0] > 0 for m in ["fct_campaign_performance", "fct_ad_creative_performance", "agg_ai_usage_daily",
                                        *POST_CHAIN_MODELS])
    assert [m for m in full if partitioned[m] != full[m]] == []
    # each day of each partitioned fact is there exactly once
    days = read(warehouses["partitioned"], "select metric_date, count(*) n from main.fct_ad_creative_performance group by 1")
    assert sorted(days["metric_date"].dt.date) == DAYS


def test_the_post_chain_built_out_of_order_equals_a_full_refresh(warehouses):
    full = tables(warehouses["full"], POST_CHAIN_MODELS)
    out_of_order = tables(warehouses["out_of_order"], POST_CHAIN_MODELS)
    assert [m for m in POST_CHAIN_MODELS if out_of_order[m] != full[m]] == []
    # the last day was first built without its previous day: its increments now count from that day
    later = read(warehouses["out_of_order"], f"select count(*) n from main.int_post_daily_increments "
                                             f"where metric_date = date '{DAYS[2]}' and previous_metric_date = date '{DAYS[1]}'")
    assert later["n"].iloc[0] > 0


def test_campaign_history_is_the_same_however_the_days_were_loaded(warehouses):
    columns = "campaign_version_id, platform, campaign_id, version_number, valid_from, valid_to, is_current, " \
              "campaign_status, objective, bidding_strategy, daily_budget"
    order = "order by platform, campaign_id, valid_from"
    full = read(warehouses["full"], f"select {columns} from main.dim_campaign {order}")
    backfilled = read(warehouses["backfilled"], f"select {columns} from main.dim_campaign {order}")
    pd.testing.assert_frame_equal(backfilled, full)
    # the history is real: settings changed within these four days, and the single run over the last two
    # days recorded versions whose start the later backfill moved (kept in the snapshot as invalidated)
    assert (full.groupby(["platform", "campaign_id"]).size() > 1).any()
    assert full["campaign_status"].eq("paused").any()
    snap = read(warehouses["backfilled"], "select * from main.snap_campaign_versions")
    invalidated = snap[snap["dbt_valid_to"].notna()]
    assert len(invalidated) > 0
    assert (pd.to_datetime(invalidated["valid_from"]).dt.date == DAYS[1]).all()
    # versions still valid start on the day they were first observed (updated_at = that day)
    valid = snap[snap["dbt_valid_to"].isna()]
    assert (pd.to_datetime(valid["dbt_valid_from"]) == pd.to_datetime(valid["valid_from"])).all()


def test_dim_campaign_matches_the_simulators_settings_every_day(warehouses):
    from analytics_assets.sources.simulator import ad_detail
    from analytics_assets.sources.simulator.core import campaigns

    versions = read(warehouses["full"], "select * from main.dim_campaign where not is_boost")
    catalog = campaigns(SIM)
    for day in DAYS:
        truth = ad_detail.campaign_settings(catalog, SIM.seed, day).assign(
            platform=catalog["platform"], campaign_id=catalog["campaign_id"]
        )
        ts = pd.Timestamp(day)
        valid = versions[(versions["valid_from"] <= ts) & (versions["valid_to"].isna() | (versions["valid_to"] > ts))]
        merged = truth.merge(valid, on=["platform", "campaign_id"], how="left", validate="one_to_one")
        assert merged["campaign_version_id"].notna().all(), day
        assert (merged["campaign_status"] == merged["is_active"].map({True: "active", False: "paused"})).all()
        assert (merged["bidding_strategy_y"] == merged["bidding_strategy_x"].str.lower()).all()
        assert (merged["objective_y"] == merged["objective_x"].str.lower()).all()


def test_a_rarely_used_hook_cannot_top_the_ranking_on_real_data(warehouses, tmp_path):
    dbt, full = warehouses["dbt"], warehouses["full"]
    hooks_wh = dbt.warehouse(tmp_path / "hooks")
    shutil.copy(full, hooks_wh)
    dbt.build(hooks_wh, ["+agg_hook_success"], window=(DAYS[0], DAYS[-1]))
    hooks = read(hooks_wh, "select * from main.agg_hook_success")
    best_by_mean = hooks.sort_values("mean_engagement_rate", ascending=False).iloc[0]
    # make that hook "rare": require one post more than it has
    threshold = int(best_by_mean["posts"]) + 1
    dbt.build(hooks_wh, ["agg_hook_success"], window=(DAYS[0], DAYS[-1]), extra_vars={"hook_min_posts": threshold})
    hooks = read(hooks_wh, "select * from main.agg_hook_success").set_index("hook_type")
    flagged = hooks.loc[best_by_mean["hook_type"]]
    assert flagged["insufficient_sample"] and pd.isna(flagged["hook_rank"])
    ranked = hooks[hooks["hook_rank"].notna()].sort_values("hook_rank")
    assert len(ranked) > 0 and (ranked["posts"] >= threshold).all()
    assert flagged["mean_engagement_rate"] > ranked["mean_engagement_rate"].iloc[0]
    assert (ranked["ci_lower"].diff().dropna() <= 0).all()  # ranked by the interval's lower bound


def test_a_scheduled_run_tests_the_rows_of_its_window_and_a_full_build_all(warehouses, tmp_path):
    dbt = warehouses["dbt"]
    broken = dbt.warehouse(tmp_path / "broken")
    shutil.copy(warehouses["partitioned"], broken)
    # one post's row of the first day twice: a fault in a day the later runs no longer write
    with duckdb.connect(str(broken)) as con:
        con.execute(f"insert into main.fct_post_metrics_daily select * from main.fct_post_metrics_daily "
                    f"where metric_date = date '{DAYS[0]}' limit 1")
    unique = "cycle_unique_combination_of_columns_fct_post_metrics_daily_platform__post_id__metric_date"
    assert set(dbt.test(broken, unique, window=(DAYS[2], DAYS[2])).values()) == {"pass"}
    assert set(dbt.test(broken, unique, window=(DAYS[0], DAYS[1])).values()) == {"fail"}
    assert set(dbt.test(broken, unique).values()) == {"fail"}


def test_a_boost_removed_from_an_older_post_unmarks_it_in_a_windowed_run(warehouses, tmp_path):
    """A restated day of boosts that no longer holds a post's boosts: a windowed run of a later day, where the
    post has no row, still unmarks it, as a full refresh of the same data does."""
    dbt = warehouses["dbt"]
    restated = dbt.warehouse(tmp_path / "restated")
    shutil.copy(warehouses["partitioned"], restated)
    boosted = read(restated, "select platform, post_id from main.dim_post where is_boosted "
                             "order by latest_metric_date, platform, post_id limit 1")
    assert len(boosted) == 1
    platform, post_id = boosted.iloc[0]
    with duckdb.connect(str(restated)) as con:
        removed = con.execute("delete from raw.raw_boosts where organic_platform = ? and post_id = ? returning 1",
                              [platform, post_id]).fetchall()
    assert removed
    # a day after the history: no post has a row in it, so only the boosted flag can change
    later = DAYS[-1] + timedelta(days=1)
    dbt.build(restated, ["dim_post"], window=(later, later))
    flag = read(restated, f"select is_boosted from main.dim_post where platform = '{platform}' and post_id = '{post_id}'")
    assert flag["is_boosted"].tolist() == [False]

    refreshed = dbt.warehouse(tmp_path / "refreshed")
    shutil.copy(restated, refreshed)
    dbt.build(refreshed, ["dim_post"], full_refresh=True)
    assert tables(restated, ["dim_post"]) == tables(refreshed, ["dim_post"])


def test_a_models_test_window_scopes_every_test_attached_to_it(warehouses, tmp_path):
    """fct_campaign_performance's `meta: test_window` windows every test on it, and the reconciliation of its
    creatives reads it over the same window: a fault on the first day fails them in a window holding that day
    and in a full build, and not in a scheduled run of a later day."""
    dbt = warehouses["dbt"]
    broken = dbt.warehouse(tmp_path / "broken")
    shutil.copy(warehouses["partitioned"], broken)
    with duckdb.connect(str(broken)) as con:
        rows = con.execute("select count(*) from main.fct_campaign_performance").fetchone()[0]
        # one campaign day of the first day twice, with more clicks than its creatives add up to (on a platform
        # without quarantined ad records that day, which the reconciliation skips as a known gap)
        con.execute(f"""insert into main.fct_campaign_performance select * replace (clicks + 1000 as clicks)
                        from main.fct_campaign_performance
                        where metric_date = date '{DAYS[0]}' and clicks > 0 and platform not in (
                            select platform from raw.raw_quarantine where partition_date = date '{DAYS[0]}'
                                and source_table in ('raw_ad_campaign_metrics', 'raw_ad_creative_metrics'))
                        limit 1""")
        assert con.execute("select count(*) from main.fct_campaign_performance").fetchone()[0] == rows + 1
    unique = "cycle_unique_combination_of_columns_fct_campaign_performance_platform__campaign_id__metric_date"
    reconcile = ("cycle_reconciles_with_parent_fct_ad_creative_performance_platform__campaign_id__metric_date__"
                 "impressions__clicks__spend__conversions__conversion_value_usd__ref_fct_campaign_performance___"
                 "raw_ad_campaign_metrics__raw_ad_creative_metrics")
    select = f"{unique} {reconcile}"
    assert dbt.test(broken, select, window=(DAYS[2], DAYS[2])) == {unique: "pass", reconcile: "pass"}
    assert dbt.test(broken, select, window=(DAYS[0], DAYS[0])) == {unique: "fail", reconcile: "fail"}
    assert dbt.test(broken, select) == {unique: "fail", reconcile: "fail"}
