"""Tracked journeys belong to a web property, from the raw rows to every attribution table.

A warehouse holds the journeys of three properties: the simulator's (``cycle-demo``), a second shop
(``shop-b``: another seed, whose journey ids are the same strings as the first's: journey ids are only
unique within a property) and rows loaded before raw_touchpoints had a property column (a warehouse created
then, migrated by the raw load: they belong to the default property). Each property's attribution is its
own: the rule-based marts (dbt, data tests included) and the model comparison asset give shop-b exactly
what they give a warehouse holding shop-b alone, and every property's credits sum to its own conversions.

dbt runs in-process with the project's manifest (``test_warehouse_incremental.Dbt``); the raw tables are
filled from the simulator (small volumes).
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics_assets.contracts.raw import DEFAULT_WEB_PROPERTY, TOUCHPOINTS
from analytics_assets.contracts.serving import WEB_PLATFORM
from analytics_assets.contracts.warehouse import ATTRIBUTION_MODEL_COMPARISON
from analytics_assets.defs.analysis.attribution import agg_attribution_model_comparison
from analytics_assets.defs.resources import WarehouseResource
from analytics_assets.sources.parsing.parsers import TOUCHPOINT_MAPPING, parse_records
from analytics_assets.sources.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.sources.simulator.core import WEB_PROPERTY
from analytics_assets.storage.warehouse import connect, replace_partitions
from test_warehouse_incremental import Dbt, _release_duckdb

pytestmark = pytest.mark.slow

DAYS = [date(2026, 10, 12) + timedelta(days=k) for k in range(3)]
LEGACY_DAY = DAYS[0] - timedelta(days=1)
SHOP_B = "shop-b"
RULE_MODELS = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]
ATTRIBUTION = ["+agg_channel_attribution_daily", "+agg_channel_attribution", "+int_attribution_paths"]
RECONCILES = "agg_channel_attribution_daily_reconciles_with_agg_channel_attribution"


def _sim(seed: int) -> PlatformSimulator:
    return PlatformSimulator(
        SimulatorConfig(seed=seed, posts_per_day=20, campaigns_per_platform=1, ai_generations_per_day=5,
                        journeys_per_day=60, experiment_units_per_day=5)
    )


def _touchpoints(native: pd.DataFrame, day: date) -> pd.DataFrame:
    parsed = parse_records(native, TOUCHPOINT_MAPPING)
    assert parsed.quarantine.empty
    return parsed.rows.assign(partition_date=day, loaded_at=pd.Timestamp("2026-10-15"))


def demo_rows(day: date) -> pd.DataFrame:
    return _touchpoints(_sim(5).day(day).touchpoints, day)


def shop_b_rows(day: date) -> pd.DataFrame:
    # the same journey ids as the demo's (jrn_<day>_<n>), other journeys; event ids are unique everywhere
    native = _sim(6).day(day).touchpoints
    native = native.assign(property_id=SHOP_B, event_id="b-" + native["event_id"])
    return _touchpoints(native, day)


def legacy_rows() -> pd.DataFrame:
    """Rows of a day loaded before the property column existed: the native payloads had no property."""
    native = _sim(7).day(LEGACY_DAY).touchpoints.drop(columns="property_id")
    native = native.assign(event_id="old-" + native["event_id"])
    return _touchpoints(native, LEGACY_DAY).drop(columns="property_id")


def create_legacy_raw_table(warehouse: Path) -> None:
    """raw_touchpoints as a warehouse created before the column has it, with one day loaded then."""
    columns = {c: t for c, t in TOUCHPOINTS.columns.items() if c != "property_id"}
    rows = legacy_rows()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema raw")
        con.execute(f"create table raw.raw_touchpoints ({', '.join(f'{c} {t}' for c, t in columns.items())})")
        con.register("_rows", rows)
        con.execute(f"insert into raw.raw_touchpoints select {', '.join(columns)} from _rows")


def load(warehouse: Path, rows_of_day) -> None:
    with connect(warehouse) as con:
        for day in DAYS:
            rows = pd.concat([f(day) for f in rows_of_day], ignore_index=True)
            replace_partitions(con, TOUCHPOINTS, rows, pd.DataFrame(), day, day)


def dbt_run(dbt: Dbt, warehouse: Path, command: str, select: list[str], window: tuple[date, date] | None = None):
    """One dbt command against ``warehouse``; the results by node name. ``run`` reuses the loaded manifest;
    data tests need a parsed one (a manifest read back from JSON cannot compile generic tests)."""
    from dbt.cli.main import dbtRunner

    dbt.env.setenv("CYCLE_WAREHOUSE_PATH", str(warehouse))
    # only the tests whose every parent is selected, as Dagster runs them (dbt_invocation)
    args = [command, *dbt.base, "--select", *select, "--indirect-selection", "cautious"]
    if window:
        args += ["--vars", json.dumps({"min_date": window[0].isoformat(), "max_date": window[1].isoformat()})]
    try:
        result = (dbt.runner if command == "run" else dbtRunner()).invoke(args)
    finally:
        _release_duckdb()
    return result, {r.node.name: r for r in (result.result or [])}


def read(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def compare_models(warehouse: Path) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [agg_attribution_model_comparison],
        resources={"warehouse": WarehouseResource(path=str(warehouse), threads=1, memory_limit="1GB")},
    )
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    return result


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory):
    root = tmp_path_factory.mktemp("attribution_property")
    with pytest.MonkeyPatch.context() as env:
        dbt = Dbt(root / "dbt_target", env)
        mixed = dbt.warehouse(root / "mixed")
        create_legacy_raw_table(mixed)
        load(mixed, [demo_rows, shop_b_rows])  # the raw load adds the missing column
        built, results = dbt_run(dbt, mixed, "build", ATTRIBUTION)
        assert built.success, [(n, r.status, r.message) for n, r in results.items() if r.status not in ("success", "pass")]
        compare_models(mixed)

        alone = dbt.warehouse(root / "shop_b_alone")
        load(alone, [shop_b_rows])
        built_alone, alone_results = dbt_run(dbt, alone, "build", ATTRIBUTION)
        assert built_alone.success, [(n, r.message) for n, r in alone_results.items() if r.status not in ("success", "pass")]
        compare_models(alone)
        yield {"dbt": dbt, "root": root, "mixed": mixed, "alone": alone, "results": results}


def test_an_existing_raw_table_gets_the_column_and_its_old_rows_the_default_property(warehouses):
    mixed = warehouses["mixed"]
    raw = read(mixed, "select partition_date, property_id, count(*) n from raw.raw_touchpoints group by all")
    legacy = raw[raw["partition_date"].dt.date == LEGACY_DAY]
    assert legacy["property_id"].isna().all() and legacy["n"].sum() > 0  # the day loaded before stays as it was
    assert set(raw.loc[raw["partition_date"].dt.date != LEGACY_DAY, "property_id"]) == {WEB_PROPERTY, SHOP_B}
    staged = read(mixed, "select property_id, count(*) n from main.stg_touchpoints group by all")
    assert set(staged["property_id"]) == {DEFAULT_WEB_PROPERTY, WEB_PROPERTY, SHOP_B}
    assert staged.set_index("property_id")["n"][DEFAULT_WEB_PROPERTY] == legacy["n"].sum()


def test_the_rule_based_marts_pass_their_data_tests_per_property(warehouses):
    results = warehouses["results"]
    for model in ["stg_touchpoints", "int_attribution_paths", "fct_touchpoint_attribution",
                  "agg_channel_attribution", "agg_channel_attribution_daily"]:
        assert results[model].status == "success", model
    assert results[RECONCILES].status == "pass"


def test_daily_credits_sum_to_the_channel_totals_and_each_property_to_its_own_conversions(warehouses):
    mixed = warehouses["mixed"]
    daily = read(mixed, "select * from main.agg_channel_attribution_daily")
    assert list(daily.columns) == ["conversion_date", "platform", "account_id", "model", "channel",
                                   "conversions", "conversion_value"]
    assert (daily["platform"] == WEB_PLATFORM).all()
    assert set(daily["account_id"]) == {DEFAULT_WEB_PROPERTY, WEB_PROPERTY, SHOP_B}
    assert set(daily["model"]) == set(RULE_MODELS)
    totals = read(mixed, "select * from main.agg_channel_attribution")
    # summed over days and properties: agg_channel_attribution's totals per (model, channel)
    over_days = daily.groupby(["model", "channel"])[["conversions", "conversion_value"]].sum().sort_index()
    expected = totals.groupby(["model", "channel"])[["conversions", "conversion_value"]].sum().sort_index()
    pd.testing.assert_frame_equal(over_days, expected, rtol=1e-9)
    # shares within (property, model)
    assert np.allclose(totals.groupby(["property_id", "model"])["share"].sum(), 1.0)
    # every property's credits under every model are its own conversions, each once
    conversions = read(mixed, "select property_id account_id, count(*) n, sum(conversion_value_usd) value "
                              "from main.int_journey_conversions group by all").set_index("account_id")
    credited = daily.groupby(["account_id", "model"])[["conversions", "conversion_value"]].sum().reset_index()
    for row in credited.itertuples():
        assert row.conversions == pytest.approx(conversions.loc[row.account_id, "n"]), row
        assert row.conversion_value == pytest.approx(conversions.loc[row.account_id, "value"]), row


def test_a_property_is_attributed_as_if_it_were_alone(warehouses):
    """shop-b's journeys share their ids with the demo's: joined on journey_id alone, a conversion would
    take the other property's touches."""
    columns = "conversion_date, model, channel, conversions, conversion_value"
    mixed = read(warehouses["mixed"], f"select {columns} from main.agg_channel_attribution_daily "
                                      f"where account_id = '{SHOP_B}' order by all")
    alone = read(warehouses["alone"], f"select {columns} from main.agg_channel_attribution_daily order by all")
    assert len(alone) > 0
    pd.testing.assert_frame_equal(mixed, alone)
    touches = read(warehouses["mixed"], "select property_id, event_id, conversion_id from main.fct_touchpoint_attribution")
    assert (touches["event_id"].str.startswith("b-") == (touches["property_id"] == SHOP_B)).all()
    assert (touches["conversion_id"].str.startswith("b-") == (touches["property_id"] == SHOP_B)).all()


def test_the_model_comparison_is_one_independent_comparison_per_property(warehouses):
    sql = f"select * from {ATTRIBUTION_MODEL_COMPARISON} order by account_id, model, channel"
    mixed = read(warehouses["mixed"], sql)
    assert (mixed["platform"] == WEB_PLATFORM).all()
    assert set(mixed["account_id"]) == {DEFAULT_WEB_PROPERTY, WEB_PROPERTY, SHOP_B}
    # each property's credits under every model (Markov and Shapley included) sum to its own conversions
    paths = read(warehouses["mixed"], "select distinct property_id account_id, path_id, converted, value "
                                      "from main.int_attribution_paths")
    own = paths.groupby("account_id")[["converted", "value"]].sum()
    sums = mixed.groupby(["account_id", "model"])[["conversions", "value", "share"]].sum().reset_index()
    assert len(sums) == 3 * 7
    for row in sums.itertuples():
        assert row.conversions == pytest.approx(own.loc[row.account_id, "converted"]), row
        assert row.value == pytest.approx(own.loc[row.account_id, "value"]), row
        assert row.share == pytest.approx(1.0), row
    # and shop-b's comparison is exactly the one of a warehouse holding shop-b alone
    alone = read(warehouses["alone"], sql)
    assert set(alone["account_id"]) == {SHOP_B}
    b = mixed[mixed["account_id"] == SHOP_B].reset_index(drop=True)
    pd.testing.assert_frame_equal(b.drop(columns=["window_start", "window_end"]),
                                  alone.drop(columns=["window_start", "window_end"]), rtol=1e-9)


def test_the_reconciliation_test_fails_when_a_daily_credit_is_lost(warehouses):
    broken = warehouses["dbt"].warehouse(warehouses["root"] / "broken")
    shutil.copy(warehouses["mixed"], broken)
    with duckdb.connect(str(broken)) as con:
        con.execute(f"delete from main.agg_channel_attribution_daily where account_id = '{SHOP_B}' "
                    "and model = 'linear' and channel = 'google_ads' and conversion_date = ?", [DAYS[1]])
    tested, results = dbt_run(warehouses["dbt"], broken, "test", [RECONCILES])
    assert not tested.success and results[RECONCILES].status == "fail"
    assert results[RECONCILES].failures == 1  # shop-b, linear, google_ads


def test_facts_attributed_before_the_property_column_get_the_default_property(warehouses):
    """An existing warehouse's fct_touchpoint_attribution lacks the column: an incremental run adds it,
    fills its window's days with their properties and says the older rows are the default property's
    (their raw rows had none)."""
    old = warehouses["dbt"].warehouse(warehouses["root"] / "old_facts")
    shutil.copy(warehouses["mixed"], old)
    with duckdb.connect(str(old)) as con:
        con.execute("alter table main.fct_touchpoint_attribution drop column property_id")
    ran, results = dbt_run(warehouses["dbt"], old, "run",
                           ["fct_touchpoint_attribution", "agg_channel_attribution", "agg_channel_attribution_daily"],
                           window=(DAYS[2], DAYS[2]))
    assert ran.success, [(n, r.message) for n, r in results.items()]
    facts = read(old, "select conversion_date, property_id, count(*) n from main.fct_touchpoint_attribution group by all")
    assert facts["property_id"].notna().all()
    in_window = facts["conversion_date"].dt.date == DAYS[2]
    assert set(facts.loc[in_window, "property_id"]) == {WEB_PROPERTY, SHOP_B}
    assert set(facts.loc[~in_window, "property_id"]) == {DEFAULT_WEB_PROPERTY}
    assert read(old, "select count(*) n from main.agg_channel_attribution where property_id is null")["n"][0] == 0
