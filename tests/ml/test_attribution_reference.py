"""ml.attribution against its peers on the public 10,000-path data set shipped in the `mta` package.

- first/last touch and linear: exactly ChannelAttribution's ``heuristic_models`` (conversions and value);
- position based and the path-subset Shapley game: exactly the ``mta`` package's implementations
  (Shapley on the paths over its 10 most common channels: mta's enumeration is exponential);
- time decay: the warehouse's definition (dbt ``int_attribution_weights``: 0.5 ** (distance / half-life),
  normalised per conversion), evaluated by DuckDB over the touches, with touches in place of days;
- Markov (orders 1 and 3): within ChannelAttribution's own run-to-run spread. ChannelAttribution
  simulates journeys through the chain, so its credits vary with the seed; ours solve the same chain
  exactly. Its folds use the generators ``seed + fold`` (10 folds), so the seeds here are 1,000 apart:
  consecutive seeds share 9 of 10 random streams and would understate the spread.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import io

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics_assets.cli import main as cycle_main
from ml.attribution import HEURISTIC_MODELS, attribute, markov_attribution, paths_from_frame, read_paths_csv

with contextlib.redirect_stdout(io.StringIO()):  # its import prints an advertising banner
    import ChannelAttribution as ca
from mta import MTA

CA_SEEDS = [0, 1000, 2000, 3000, 4000, 5000]
# Our credit must lie within K standard deviations (of one ChannelAttribution run) of the mean of the
# runs. Our value is the chain's exact expectation, which the mean of 6 runs estimates with a standard
# error of sd / sqrt(6) = 0.41 sd, so K = 3 is over 7 standard errors of slack for the estimate of the
# mean, and still allows a sample sd (5 degrees of freedom) that came out at half the true one. It is
# tight enough to tell models apart: order 1 and order 3 credits differ by up to ~8 sd (checked below).
K = 3.0


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(importlib.resources.files("mta") / "data" / "data.csv.gz")


@pytest.fixture(scope="module")
def data():
    return read_paths_csv(importlib.resources.files("mta") / "data" / "data.csv.gz")


@pytest.fixture(scope="module")
def ours(data) -> pd.DataFrame:
    return attribute(data, HEURISTIC_MODELS)


def _model(credits: pd.DataFrame, model: str, column: str = "conversions") -> pd.Series:
    return credits[credits["model"] == model].set_index("channel")[column]


def test_the_data_set_is_the_published_one(data):
    assert len(data) == 5408  # 10,000 rows, identical paths merged
    assert data.total_conversions == 19785
    assert len(data.channels) == 12


@pytest.mark.parametrize(
    ("model", "theirs"), [("first_touch", "first_touch"), ("last_touch", "last_touch"), ("linear", "linear_touch")]
)
def test_first_last_and_linear_equal_channelattribution(frame, ours, model, theirs):
    ref = ca.heuristic_models(frame, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False)
    ref = ref.set_index("channel_name")
    for column in ("conversions", "value"):
        expected = ref[f"{theirs}_{column}"].reindex(_model(ours, model).index)
        assert np.allclose(_model(ours, model, column), expected, rtol=1e-12, atol=1e-9), (model, column)


def _mta(frame: pd.DataFrame, weight_column: str) -> MTA:
    # no loop removal and no synthetic timestamps: the paths as given, weighted by `weight_column`
    with contextlib.redirect_stdout(io.StringIO()):  # it times every call with print
        return MTA(frame.assign(total_conversions=frame[weight_column]), allow_loops=True, add_timepoints=False)


def test_position_based_equals_mta(frame, ours):
    for column, weights in (("conversions", "total_conversions"), ("value", "total_conversion_value")):
        with contextlib.redirect_stdout(io.StringIO()):
            ref = _mta(frame, weights).position_based(first_weight=40, last_weight=40, normalize=False)
        expected = pd.Series(ref.attribution["pos_based"]).reindex(_model(ours, "position_based").index).fillna(0)
        assert np.allclose(_model(ours, "position_based", column), expected, rtol=1e-12, atol=1e-9), column


def test_path_subset_shapley_equals_mta(frame):
    # mta enumerates coalitions within coalitions (4^n): leave out the 15 rows that touch the two
    # rarest channels (delta, mi), which keeps 9,985 of the 10,000 rows and makes it 16 times faster
    sub = frame[~frame["path"].str.contains(r"\b(?:delta|mi)\b")].reset_index(drop=True)
    assert len(sub) == 9985
    with contextlib.redirect_stdout(io.StringIO()):
        ref = _mta(sub, "total_conversions").shapley(normalize=False)
    got = _model(attribute(paths_from_frame(sub), "shapley", shapley_game="path_subsets"), "shapley")
    expected = pd.Series(ref.attribution["shapley"]).reindex(got.index)
    assert len(got) == 10
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-9)


def test_time_decay_equals_the_warehouse_definition(data, ours):
    touches = pd.DataFrame(
        [(i, pos, c) for i, path in enumerate(data.paths) for pos, c in enumerate(path, start=1)],
        columns=["path_id", "touch_position", "channel"],
    )
    paths = pd.DataFrame({"path_id": range(len(data)), "conversions": data.conversions, "value": data.value})
    con = duckdb.connect()
    con.register("touches", touches)
    con.register("paths", paths)
    # int_attribution_weights' formula, distance counted in touches before the last one, half-life 1
    ref = con.execute(
        """
        with decayed as (
            select path_id, channel,
                   power(0.5, (count(*) over (partition by path_id) - touch_position) / 1.0) as decay
            from touches
        ),
        weighted as (
            select path_id, channel, decay / sum(decay) over (partition by path_id) as weight from decayed
        )
        select channel, sum(weight * conversions) as conversions, sum(weight * value) as value
        from weighted join paths using (path_id)
        group by channel
        """
    ).df().set_index("channel")
    con.close()
    for column in ("conversions", "value"):
        expected = ref[column].reindex(_model(ours, "time_decay").index)
        assert np.allclose(_model(ours, "time_decay", column), expected, rtol=1e-9), column


def _channelattribution_runs(frame: pd.DataFrame, order: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    conv, value = {}, {}
    for seed in CA_SEEDS:
        res = ca.markov_model(
            frame, "path", "total_conversions", var_value="total_conversion_value", var_null="total_null",
            order=order, seed=seed, verbose=False, flg_pro=False,
        ).set_index("channel_name")
        conv[seed], value[seed] = res["total_conversions"], res["total_conversion_value"]
    return pd.DataFrame(conv), pd.DataFrame(value)


@pytest.mark.parametrize("order", [1, 3])
def test_markov_lies_within_channelattributions_run_to_run_spread(frame, data, order):
    runs = dict(zip(("conversions", "value"), _channelattribution_runs(frame, order)))
    ours = markov_attribution(data, order)
    report = []
    for column, credited, floor in (
        ("conversions", ours.conversions, 1e-4 * data.total_conversions),
        ("value", ours.value, 1e-4 * data.total_value),
    ):
        ref = runs[column].reindex(ours.channels)
        mean, sd = ref.mean(axis=1), ref.std(axis=1, ddof=1)
        band = np.maximum(K * sd, floor)
        got = pd.Series(credited, index=ours.channels)
        z = (got - mean) / sd
        report.append(pd.DataFrame({"ours": got, "ca_mean": mean, "ca_sd": sd, "z": z}).assign(column=column))
        assert (np.abs(got - mean) <= band).all(), pd.concat(report).round(2).to_string()
        assert got.sum() == pytest.approx(ref.sum().mean(), rel=1e-9)  # both hand out every conversion
    if order == 3:
        # the band discriminates: the order-1 chain's credits fall outside the order-3 spread
        order1 = pd.Series(markov_attribution(data, 1).conversions, index=ours.channels)
        ref = runs["conversions"].reindex(ours.channels)
        assert (np.abs(order1 - ref.mean(axis=1)) > K * ref.std(axis=1, ddof=1)).any()


def test_cli_on_the_public_data_set(tmp_path, data):
    src = importlib.resources.files("mta") / "data" / "data.csv.gz"
    out = tmp_path / "credits.csv"
    assert cycle_main(["attribution", str(src), "--order", "2", "--out", str(out)]) == 0
    credits = pd.read_csv(out)
    assert len(credits) == 7 * 12
    assert np.allclose(credits.groupby("model")["conversions"].sum(), 19785)
    markov = credits[credits.model == "markov"].set_index("channel")["conversions"]
    assert markov.to_numpy() == pytest.approx(markov_attribution(data, 2).conversions)
