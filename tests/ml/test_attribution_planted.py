"""Attribution on the simulator's journeys against the planted truth.

The simulator converts a journey with probability sigmoid(CONVERSION_BASE_LOGIT + effects of the
distinct channels it touched). The planted truth of a channel is its expected incremental conversions
(``ground_truth.expected_incremental_conversions``): over the journeys that touched it, how much less
likely they were to convert without it. Models are compared on credit shares.

What holds (and is asserted): the incremental Shapley game orders every pair of channels whose planted
shares differ by at least ``SEPARATED`` and has the smallest error of all models; every model puts
reddit_organic last. What does not: the heuristics, the Markov removal effect and
the path-subset Shapley game credit a channel's presence on converting journeys, so a frequently touched
weak channel (x_organic, 15% of touches, effect 0.2) outranks a rarer strong one (linkedin_ads, 10%,
effect 0.7); their error is reported, not bounded. Run with ``-s`` to see the table.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics_assets.simulator import PlatformSimulator, SimulatorConfig
from analytics_assets.simulator import ground_truth as gt
from ml.attribution import MODELS, attribute, paths_from_journeys

DAYS = 5
JOURNEYS_PER_DAY = 4000  # 20,000 journeys, ~4,000 conversions
# Pairs of channels closer than this in planted share are not asserted: linkedin_ads, meta_ads and
# linkedin_organic lie within 0.01 of each other, tiktok_organic and x_organic within 0.015, and 20,000
# journeys estimate shares to about +-0.01.
SEPARATED = 0.03


@pytest.fixture(scope="module")
def journeys() -> pd.DataFrame:
    config = SimulatorConfig(
        seed=7,
        posts_per_day=20,  # the journeys do not depend on the other entities: keep those small
        campaigns_per_platform=1,
        ai_generations_per_day=5,
        journeys_per_day=JOURNEYS_PER_DAY,
    )
    sim = PlatformSimulator(config)
    start = date(2025, 6, 2)
    return pd.concat([sim.day(start + timedelta(days=k)).touchpoints for k in range(DAYS)], ignore_index=True)


@pytest.fixture(scope="module")
def evaluation(journeys):
    channel_of = {utm: channel for channel, utm in gt.CHANNEL_UTM.items()}
    touches = journeys[journeys["event"] == "touchpoint"].copy()
    touches["channel"] = [channel_of[(s, m)] for s, m in zip(touches["utm_source"], touches["utm_medium"])]
    touches["touched_at"] = pd.to_datetime(touches["timestamp"])
    conversions = journeys[journeys["event"] == "conversion"].set_index("journey_id")
    value_usd = conversions["revenue"] * conversions["currency"].map(gt.USD_PER_UNIT)
    outcomes = pd.DataFrame({"journey_id": journeys["journey_id"].unique()})
    outcomes["converted"] = outcomes["journey_id"].isin(conversions.index).astype(float)
    outcomes["value"] = outcomes["journey_id"].map(value_usd).fillna(0.0)
    data = paths_from_journeys(touches, outcomes, order_columns=("touched_at", "event_id"))

    truth = pd.Series(gt.expected_incremental_conversions(touches.groupby("journey_id")["channel"].agg(set)))
    credits = attribute(data)
    for order in (2, 3):
        credits = pd.concat([credits, attribute(data, "markov", order=order).assign(model=f"markov_order_{order}")])
    subsets = attribute(data, "shapley", shapley_game="path_subsets").assign(model="shapley_path_subsets")
    credits = pd.concat([credits, subsets])
    shares = {
        column: credits.pivot(index="channel", columns="model", values=column).pipe(lambda t: t / t.sum())
        for column in ("conversions", "value")
    }
    truth_share = (truth / truth.sum()).reindex(shares["conversions"].index)
    table = pd.DataFrame(
        {
            "mae_conversion_share": (shares["conversions"].sub(truth_share, axis=0)).abs().mean(),
            # value is drawn independently of the channels: its planted shares are the conversions'
            "mae_value_share": (shares["value"].sub(truth_share, axis=0)).abs().mean(),
            "spearman": shares["conversions"].apply(lambda s: stats.spearmanr(s, truth_share)[0]),
            "kendall": shares["conversions"].apply(lambda s: stats.kendalltau(s, truth_share)[0]),
        }
    ).sort_values("mae_conversion_share")
    print(f"\n{len(outcomes):,} journeys, {data.total_conversions:,.0f} conversions\n{table.round(3).to_markdown()}")
    side_by_side = pd.concat([truth_share.rename("planted"), shares["conversions"]], axis=1)
    print(side_by_side.sort_values("planted", ascending=False).round(3).to_markdown())
    return data, truth, truth_share, shares["conversions"], table


def test_the_planted_truth_follows_effect_and_reach(evaluation):
    data, truth, truth_share, _, _ = evaluation
    assert set(truth.index) == set(gt.CHANNEL_CONVERSION_EFFECTS)
    # incremental conversions are a part of the conversions: the baseline belongs to no channel
    assert 0.3 * data.total_conversions < truth.sum() < data.total_conversions
    assert truth_share.idxmax() == "google_ads" and truth_share.idxmin() == "reddit_organic"
    # reach matters too: linkedin_organic (20% of touches, effect 0.45) is level with linkedin_ads (10%, 0.7)
    assert abs(truth_share["linkedin_organic"] - truth_share["linkedin_ads"]) < 0.02


def _separated_pairs(truth_share: pd.Series) -> list[tuple[str, str]]:
    """(higher, lower) channel pairs whose planted shares differ by at least SEPARATED."""
    return [
        (a, b) if truth_share[a] > truth_share[b] else (b, a)
        for a, b in combinations(truth_share.index, 2)
        if abs(truth_share[a] - truth_share[b]) >= SEPARATED
    ]


def test_incremental_shapley_ranks_channels_by_planted_incremental_conversions(evaluation):
    _, _, truth_share, shares, table = evaluation
    pairs = _separated_pairs(truth_share)
    assert len(pairs) >= 15  # of 21: all but the near-ties
    swapped = [(hi, lo) for hi, lo in pairs if not shares.loc[hi, "shapley"] > shares.loc[lo, "shapley"]]
    assert swapped == [], table.round(3).to_string()
    assert table.loc["shapley", "mae_conversion_share"] < 0.03
    assert table.loc["shapley", "mae_value_share"] < 0.03
    assert table["mae_conversion_share"].idxmin() == "shapley", table.round(3).to_string()


def test_every_model_finds_the_weakest_channel(evaluation):
    _, _, _, shares, _ = evaluation
    assert set(MODELS) <= set(shares.columns)
    assert (shares.idxmin() == "reddit_organic").all(), shares.idxmin()
    # the strongest one is not found by all: the order-1 Markov chain puts linkedin_organic, the most
    # touched channel, level with google_ads


def test_markov_and_shapley_are_stable_from_run_to_run(evaluation):
    data, *_ = evaluation
    first = attribute(data, ["markov", "shapley"], order=2, seed=1)
    second = attribute(data, ["markov", "shapley"], order=2, seed=2)
    pd.testing.assert_frame_equal(first, second)  # exact solutions: the seed has nothing to draw
    assert np.isfinite(first[["conversions", "value"]].to_numpy()).all()
