"""The champion/challenger gate: a retrain becomes the champion only when it beats the champion by the margin on
the holdout and on the posts neither model saw, judged on the warehouse's outcomes; the decision with both
models' figures is in MLflow and in the engagement_model asset's metadata."""

from __future__ import annotations

import functools
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from ml.governance import (
    KEPT,
    MIN_SHADOW_POSTS,
    PROMOTED,
    PROMOTION_MARGIN,
    PromotionDecision,
    error_figures,
    evaluate_challenger,
)
from ml.registry import (
    CHALLENGER_ALIAS,
    LoadedModel,
    RegisteredModelInfo,
    describe_alias,
    load_model,
    log_and_register,
    record_promotion,
    tracking_uri_for,
)
from ml.training import TrainingConfig, TrainingResult, train_engagement_model
from ml_testdata import make_posts

CONFIG = TrainingConfig(seed=11, max_epochs=60)
N_DAYS, EARLY_DAYS = 8, 6  # the challengers' holdout is the newest 2 of 8 days; early champions know 6


@functools.cache
def _posts() -> pd.DataFrame:
    return make_posts(seed=7, posts_per_platform=400, n_days=N_DAYS)


def _early(posts: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(posts["published_date"])
    return posts[dates < dates.min() + pd.Timedelta(days=EARLY_DAYS)].reset_index(drop=True)


def _shuffled(posts: pd.DataFrame) -> pd.DataFrame:
    """The same posts and score distribution with the link between them broken (a training set whose labels a
    bad join misaligned): nothing real to learn."""
    out = posts.copy()
    out["engagement_score"] = np.random.default_rng(5).permutation(out["engagement_score"].to_numpy())
    return out


@functools.cache
def _trained(which: str) -> TrainingResult:
    data = {
        "real_early": lambda: _early(_posts()),
        "shuffled_early": lambda: _shuffled(_early(_posts())),
        "real_all": _posts,
        "shuffled_all": lambda: _shuffled(_posts()),
    }[which]()
    return train_engagement_model(data, CONFIG)


def _gate(
    result: TrainingResult, dataset: pd.DataFrame, uri: str, artifacts: Path
) -> tuple[RegisteredModelInfo, PromotionDecision]:
    """What the engagement_model asset does with a retrain: compare, register as challenger, record."""
    try:
        champion = load_model(uri, flavor="state_dict")
    except LookupError:
        champion = None
    decision = evaluate_challenger(result, champion, dataset)
    info = log_and_register(result, uri, artifacts, alias=CHALLENGER_ALIAS)
    record_promotion(uri, info, decision.promoted, decision.tags(), decision.figures())
    return info, decision


def _aliases(uri: str) -> dict[str, str]:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    return {alias: str(version) for alias, version in client.get_registered_model("engagement_model").aliases.items()}


def _recorded(uri: str, info: RegisteredModelInfo) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """Run tags, run metrics and model version tags of a registered challenger."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(info.run_id)
    version = client.get_model_version(info.name, info.version)
    return dict(run.data.tags), dict(run.data.metrics), dict(version.tags)


def test_a_challenger_trained_on_shuffled_labels_stays_out(tmp_path: Path) -> None:
    uri, artifacts = tracking_uri_for(tmp_path / "mlflow"), tmp_path / "artifacts"
    posts = _posts()
    first, opening = _gate(_trained("real_early"), _early(posts), uri, artifacts)
    assert opening.promoted and opening.champion_version is None
    assert opening.reason.startswith("no champion yet")
    assert _aliases(uri) == {"champion": "1", "challenger": "1"}

    # trained on misaligned labels, judged on the real outcomes
    challenger = _trained("shuffled_all")
    second, decision = _gate(challenger, posts, uri, artifacts)
    assert (decision.promoted, decision.outcome, decision.champion_version) == (False, KEPT, "1")
    # the champion keeps serving: downstream reads it through the champion alias
    assert _aliases(uri) == {"champion": "1", "challenger": "2"}
    assert load_model(uri, flavor="state_dict").version == "1"

    # both models on the challenger's holdout rows: the newest 2 days
    holdout = decision.holdout
    assert holdout is not None and holdout.n_posts == challenger.metrics["n_holdout"]
    rows = posts[pd.to_datetime(posts["published_date"]) >= pd.Timestamp(challenger.metrics["holdout_start_date"])]
    champion = load_model(uri, flavor="state_dict")
    assert holdout.champion_rmse_log == pytest.approx(error_figures(champion.model, champion.spec, rows)[0])
    assert holdout.challenger_rmse_log == pytest.approx(
        error_figures(challenger.holdout_model, challenger.holdout_spec, rows)[0]
    )
    assert holdout.champion_rmse_log < holdout.challenger_rmse_log
    # the newest 2 days: published after the champion's data, and in the challenger's holdout
    late = pd.to_datetime(posts["published_date"]) > pd.Timestamp(champion.metrics["model_data_end_date"])
    assert decision.posts_unseen_by_champion == int(late.sum()) == decision.shadow_posts >= MIN_SHADOW_POSTS
    assert decision.shadow is not None and decision.shadow.champion_rmse_log < decision.shadow.challenger_rmse_log
    assert decision.holdout_posts_seen_by_champion == 0

    run_tags, run_metrics, version_tags = _recorded(uri, second)
    for tags in (run_tags, version_tags):
        assert tags["cycle.promotion"] == KEPT and tags["cycle.compared_with_champion"] == "1"
        assert tags["cycle.promotion_reason"] == decision.reason and "does not beat" in decision.reason
    assert run_metrics["gate/holdout_champion_rmse_log"] == pytest.approx(holdout.champion_rmse_log)
    assert run_metrics["gate/shadow_challenger_rmse_log"] == pytest.approx(decision.shadow.challenger_rmse_log)
    assert run_metrics["gate/promoted"] == 0.0
    assert float(version_tags["gate/holdout_challenger_rmse_log"]) == pytest.approx(holdout.challenger_rmse_log, rel=1e-5)
    assert _recorded(uri, first)[0]["cycle.promotion"] == PROMOTED


def test_a_challenger_that_learned_what_the_champion_missed_is_promoted(tmp_path: Path) -> None:
    uri, artifacts = tracking_uri_for(tmp_path / "mlflow"), tmp_path / "artifacts"
    posts = _posts()
    _gate(_trained("shuffled_early"), _shuffled(_early(posts)), uri, artifacts)
    assert _aliases(uri)["champion"] == "1"

    challenger = _trained("real_all")
    info, decision = _gate(challenger, posts, uri, artifacts)
    assert decision.promoted and decision.outcome == PROMOTED
    assert decision.holdout is not None and decision.shadow is not None
    # trained on the gate's dataset: the holdout figure is the one training reported
    assert decision.holdout.n_posts == challenger.metrics["n_holdout"]
    assert decision.holdout.challenger_rmse_log == pytest.approx(challenger.metrics["rmse_log"])
    for comparison in (decision.holdout, decision.shadow):
        assert comparison.improvement > PROMOTION_MARGIN
        assert comparison.challenger_wins(PROMOTION_MARGIN)
    assert "beats the champion v1" in decision.reason
    assert _aliases(uri) == {"champion": "2", "challenger": "2"}
    assert load_model(uri, flavor="state_dict").version == "2"
    run_tags, run_metrics, version_tags = _recorded(uri, info)
    assert run_tags["cycle.promotion"] == version_tags["cycle.promotion"] == PROMOTED
    assert run_metrics["gate/promoted"] == 1.0
    assert run_metrics["gate/shadow_improvement"] == pytest.approx(decision.shadow.improvement)


def test_a_gain_within_the_margin_stays_out_and_a_thin_shadow_set_leaves_the_holdout_to_decide() -> None:
    posts, trained = _posts(), _trained("real_all")
    # the challenger's own holdout-stage model as the champion, refit on nothing newer than its training part:
    # equal errors everywhere, and a tie never replaces the champion
    before_holdout = {**trained.metrics, "model_data_end_date": trained.metrics["train_end_date"]}
    twin = LoadedModel(trained.holdout_model, trained.holdout_spec, "1", before_holdout)
    tie = evaluate_challenger(trained, twin, posts)
    assert tie.shadow is not None and tie.shadow_posts == tie.holdout.n_posts
    assert tie.holdout.improvement == pytest.approx(0.0) and not tie.promoted
    # two more days of unchanged behaviour: a gain within the margin mints no new champion
    early = _trained("real_early")
    more = evaluate_challenger(trained, LoadedModel(early.model, early.spec, "1", early.metrics), posts)
    assert more.shadow is not None and abs(more.holdout.improvement) < PROMOTION_MARGIN and not more.promoted

    # a champion fitted on every post: none is unseen, so no shadow set
    seen_all = LoadedModel(trained.model, trained.spec, "1", trained.metrics)
    decision = evaluate_challenger(_trained("shuffled_all"), seen_all, posts)
    assert decision.shadow is None and decision.shadow_posts == decision.posts_unseen_by_champion == 0
    assert decision.holdout_posts_seen_by_champion == decision.holdout.n_posts
    assert "shadow set too small (0 posts" in decision.reason and "decided on the holdout alone" in decision.reason
    assert not decision.promoted
    assert "gate/shadow_champion_rmse_log" not in decision.figures()


# ----------------------------------------------------------------------------------- the asset records it
def _load_training_table(warehouse: Path, frame: pd.DataFrame) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        con.register("incoming", frame)
        con.execute("create or replace table main.ml_training_dataset as select * from incoming")
    finally:
        con.close()


def test_the_engagement_model_asset_registers_challengers_and_records_the_gate(tmp_path: Path) -> None:
    from analytics_assets.defs.ml.assets import engagement_model
    from analytics_assets.defs.quality_gate import QualityGateResource
    from analytics_assets.defs.resources import MlflowResource, WarehouseResource

    warehouse = tmp_path / "warehouse.duckdb"
    store = MlflowResource(tracking_uri=tracking_uri_for(tmp_path / "mlflow"), artifact_root=str(tmp_path / "artifacts"))
    resources = {
        "warehouse": WarehouseResource(path=str(warehouse)),
        "mlflow_store": store,
        "quality_gate": QualityGateResource(),
    }

    def materialize(instance: dg.DagsterInstance) -> dict:
        result = dg.materialize([engagement_model], instance=instance, resources=resources)
        (event,) = result.get_asset_materialization_events()
        return {k: v.value for k, v in event.materialization.metadata.items()}

    posts = _posts()
    with dg.instance_for_test() as instance:
        _load_training_table(warehouse, posts)
        first = materialize(instance)
        assert (first["promotion"], first["model_version"], first["challenger_version"]) == (PROMOTED, "1", "1")
        assert first["retrained"] is True and first["promotion_reason"].startswith("no champion yet")

        # one post deleted upstream: a retrain on the same outcomes but one, which the champion was fitted on
        # too (none unseen by it): no better, kept out on the holdout alone
        _load_training_table(warehouse, posts.drop(index=posts.index[-1]))
        second = materialize(instance)
        assert (second["promotion"], second["model_version"], second["challenger_version"]) == (KEPT, "1", "2")
        assert second["retrained"] is True and "does not beat the champion v1" in second["promotion_reason"]
        assert "decided on the holdout alone" in second["promotion_reason"]
        assert second["gate/holdout_posts"] == second["gate/holdout_posts_seen_by_champion"] > 0
        assert second["gate/holdout_improvement"] < PROMOTION_MARGIN
        assert second["gate/promoted"] == 0.0
        # holdout/* describe the champion that still serves
        assert second["holdout/dataset_fingerprint"] == first["holdout/dataset_fingerprint"]
        assert _aliases(store.tracking_uri) == {"champion": "1", "challenger": "2"}

        # the same data again: the kept challenger is not trained and registered once more
        third = materialize(instance)
        assert (third["promotion"], third["model_version"], third["retrained"]) == (KEPT, "1", False)
        assert "challenger v2" in third["promotion_reason"]
        assert describe_alias(store.tracking_uri).version == "2"
