"""What the Dagster UI shows about the assets besides their data: described dbt checks, owners, freshness
policies, code references (defs/catalog.py, defs/transform/dbt_checks.py), and the `freshness:` of the
dbt sources. The row counts and column types of the dbt assets are checked on the end-to-end run
(tests/test_dbt_asset_metadata.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from analytics_assets.defs.catalog import DAILY_FRESHNESS, DEFAULT_OWNER, OWNERS_BY_GROUP
from analytics_assets.defs.transform.dbt import cycle_dbt_loop_models, cycle_dbt_models, dbt_project
from analytics_assets.defs.transform.dbt_checks import describe_test

DBT_CHECKS = [*cycle_dbt_models.check_specs, *cycle_dbt_loop_models.check_specs]


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(Path(dbt_project.manifest_path).read_text())


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from analytics_assets.definitions import build_defs

    return build_defs()


def test_every_dbt_check_says_what_it_checks(manifest):
    tests = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "test"}
    assert len(DBT_CHECKS) > 500
    for spec in DBT_CHECKS:
        assert spec.description and spec.description.strip(), spec.name
        assert spec.description != spec.name
    by_name = {spec.name: spec.description for spec in DBT_CHECKS}
    # generic tests read by their arguments: the column, the values, the related model
    accepted = next(n for n in tests.values() if (n.get("test_metadata") or {}).get("name") == "accepted_values")
    kwargs = accepted["test_metadata"]["kwargs"]
    assert f"`{kwargs['column_name']}`" in by_name[accepted["name"]]
    assert all(str(v) in by_name[accepted["name"]] for v in kwargs["values"])
    relationship = "relationships_fct_touchpoint_attribution_conversion_id__conversion_id__ref_int_journey_conversions_"
    assert by_name[relationship] == (
        "Every non-null `conversion_id` exists as `conversion_id` in `int_journey_conversions`."
    )
    # a description written in the yml wins, and a warn severity is said
    assert by_name["touchpoint_utm_pairs_are_mapped_to_a_channel"].startswith("A new (utm_source, utm_medium) pair")
    assert by_name["held_back_rows_waiting_for_a_parent"].endswith("Warns without blocking.")
    # a singular test: the comment that opens its SQL
    singular = next(n for n in tests.values() if not n.get("test_metadata"))
    assert by_name[singular["name"]].startswith("The served daily credits lose nothing and invent nothing")


def test_a_test_description_comes_from_its_arguments_its_config_or_its_sql():
    node = {"name": "t", "config": {"where": "a  is\n not null", "severity": "warn"},
            "test_metadata": {"name": "cycle_accepted_range",
                              "kwargs": {"column_name": "share", "min_value": 0, "max_value": 1, "inclusive": False,
                                         "model": "{{ get_where_subquery(ref('m')) }}"}}}
    assert describe_test(node) == (
        "Every non-null `share` is > 0 and < 1. Only rows where `a is not null`. Warns without blocking."
    )
    node = {"name": "t", "test_metadata": {"name": "cycle_expression_is_true", "kwargs": {
        "expression": "n = (select count(*) from {{ ref('stg_x') }})"}}}
    assert describe_test(node) == "Every row satisfies `n = (select count(*) from stg_x)`."
    # a macro without a rule, or called without the argument its rule reads: what it was given
    assert describe_test({"name": "t", "test_metadata": {"name": "my_test", "kwargs": {"k": 3, "model": "m"}}}) == (
        "dbt test `my_test` with k=3."
    )
    assert describe_test({"name": "t", "test_metadata": {"name": "not_null", "kwargs": {}}}) == "dbt test `not_null`."
    assert describe_test({"name": "t", "raw_code": "select 1", "original_file_path": "tests/x.sql"}) == (
        "Singular dbt test tests/x.sql: every row it returns fails."
    )
    assert describe_test({"name": "t", "description": " Said in the yml. ", "test_metadata": {"name": "unique"}}) == (
        "Said in the yml."
    )


def test_the_daily_sources_have_freshness_and_the_others_opt_out(manifest):
    sources = {s["name"]: s for s in manifest["sources"].values()}

    def limits(source: dict) -> tuple | None:
        freshness = source.get("freshness") or {}
        warn, error = freshness.get("warn_after") or {}, freshness.get("error_after") or {}
        if not warn.get("count") and not error.get("count"):
            return None
        return (warn["count"], warn["period"]), (error["count"], error["period"])

    daily = ("raw_social_post_snapshots", "raw_ad_campaign_metrics", "raw_boosts", "raw_touchpoints",
             "raw_ai_generations", "raw_ad_creative_metrics", "raw_experiment_observations", "ml_recommendations")
    for name in daily:
        assert limits(sources[name]) == ((26, "hour"), (48, "hour")), name
        assert sources[name]["loaded_at_field"], name  # DuckDB has no load metadata: dbt reads the column
    for name, source in sources.items():
        if name not in daily:
            assert limits(source) is None, name  # written only when something arrives
    # the same limits as the Dagster policy of the daily assets
    assert DAILY_FRESHNESS.warn_window.to_timedelta() == timedelta(hours=26)
    assert DAILY_FRESHNESS.fail_window.to_timedelta() == timedelta(hours=48)


def test_every_asset_has_an_owner_and_its_code_and_the_daily_ones_a_freshness_policy(defs):
    from analytics_assets.defs.pipeline import daily_pipeline_job

    specs = [spec for a in defs.assets or [] for spec in (a.specs if isinstance(a, dg.AssetsDefinition) else [a])]
    assert len(specs) > 80
    daily = daily_pipeline_job.selection.resolve(defs.resolve_asset_graph())
    assert len(daily) > 60
    for spec in specs:
        assert spec.owners == [OWNERS_BY_GROUP.get(spec.group_name, DEFAULT_OWNER)], (spec.key, spec.owners)
        references = spec.metadata["dagster/code_references"].code_references
        assert references and all(Path(r.file_path).is_file() for r in references), spec.key
        assert (spec.freshness_policy == DAILY_FRESHNESS) == (spec.key in daily), spec.key
    by_key = {spec.key: spec for spec in specs}
    # a dbt model links its SQL file and the Python that runs it; a Python asset its function
    stg_references = by_key[dg.AssetKey("stg_boosts")].metadata["dagster/code_references"].code_references
    stg = [Path(r.file_path) for r in stg_references]
    assert stg[0].name == "stg_boosts.sql" and any(p.name == "dbt.py" for p in stg)
    serving = by_key[dg.AssetKey("serving_snapshot")].metadata["dagster/code_references"].code_references
    assert Path(serving[0].file_path).name == "snapshot.py" and serving[0].line_number
    # the raw tables' owners are the data engineers, the model's the data scientists
    assert by_key[dg.AssetKey("engagement_model")].owners == ["team:data-science"]
    assert by_key[dg.AssetKey("engagement_model")].freshness_policy is None  # retrained on drift or weekly
