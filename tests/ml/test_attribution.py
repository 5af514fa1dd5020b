"""ml.attribution on small paths worked out by hand: parsing and its errors, every model's arithmetic,
the Markov chain's removal effects, both Shapley games against their definitions, and the CLI."""

from __future__ import annotations

import io
from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest

from analytics_assets.cli import main as cycle_main
from ml.attribution import (
    MODELS,
    PathDataError,
    aggregate_paths,
    attribute,
    markov_attribution,
    parse_models,
    paths_from_frame,
    paths_from_journeys,
    read_paths_csv,
    shapley_credits,
)
from ml.attribution.markov import build_chain
from ml.attribution.shapley import channel_sets, fit_conversion_model


def _csv(text: str):
    return read_paths_csv(io.StringIO(text))


def _credits(data, model, **kw) -> dict[tuple[str, str], float]:
    res = attribute(data, model, **kw)
    return {(r.channel, k): getattr(r, k) for r in res.itertuples() for k in ("conversions", "value")}


def _by_channel(expected: dict[str, tuple[float, float]]):
    """{channel: (conversions, value)} as _credits' keys, compared approximately."""
    return pytest.approx({(c, k): x for c, pair in expected.items() for k, x in zip(("conversions", "value"), pair)})


def _random_paths(seed: int, n_paths: int = 300, channels: str = "abcdef") -> pd.DataFrame:
    """Paths of 1-5 touches; each distinct channel raises the odds of converting (a most, f least)."""
    rng = np.random.default_rng(seed)
    effect = dict(zip(channels, np.linspace(1.0, 0.1, len(channels))))
    rows = []
    for _ in range(n_paths):
        path = rng.choice(list(channels), size=rng.integers(1, 6))
        p = 1 / (1 + np.exp(-(-2.0 + sum(effect[c] for c in set(path)))))
        journeys = int(rng.integers(1, 9))
        conv = int(rng.binomial(journeys, p))
        rows.append((" > ".join(path), conv, round(conv * rng.uniform(5, 50), 2), journeys - conv))
    return pd.DataFrame(rows, columns=["path", "total_conversions", "total_conversion_value", "total_null"])


# ------------------------------------------------------------------------------------------------ parsing


def test_paths_are_trimmed_and_identical_paths_merged():
    data = _csv(
        "path,total_conversions,total_conversion_value,total_null\n"
        "a > b,1,10,2\n"
        " a>b ,2,5.5,0\n"
        "b,0,0,3\n"
    )
    assert data.paths == (("a", "b"), ("b",))
    assert data.conversions.tolist() == [3, 0]
    assert data.value.tolist() == [15.5, 0]
    assert data.nulls.tolist() == [2, 3]
    assert data.channels == ("a", "b")


def test_value_and_null_columns_are_optional():
    data = _csv("path,total_conversions\na > b,2\n")
    assert data.value.tolist() == [0.0] and data.nulls.tolist() == [0.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pth,total_conversions\na,1\n", "missing column(s) path"),
        ("path,total_null\na,1\n", "missing column(s) total_conversions"),
        ("path,total_conversions,total_null\na > b,-1,0\n", "row 0: total_conversions is negative"),
        ("path,total_conversions,total_null\na,1,-2\n", "row 0: total_null is negative"),
        ("path,total_conversions,total_null\na,1,0\n,1,0\n", "row 1: empty path"),
        ("path,total_conversions\na >  > b,1\n", "row 0: empty channel name"),
        ("path,total_conversions\na,many\n", "row 0: total_conversions is not a number ('many')"),
        ("path,total_conversions,total_conversion_value\na,0,5\n", "total_conversion_value 5.0 with no conversions"),
        ("path,total_conversions\n", "no paths"),
        ("", "empty CSV"),
    ],
)
def test_bad_csvs_get_a_clear_error(text, message):
    with pytest.raises(PathDataError) as err:
        _csv(text)
    assert message in str(err.value)


def test_journeys_become_paths_ordered_by_time():
    touches = pd.DataFrame(
        {
            "journey_id": ["j1", "j1", "j2", "j3", "j3"],
            "channel": ["b", "a", "a", "a", "b"],
            "touched_at": [2, 1, 5, 1, 2],
        }
    )
    outcomes = pd.DataFrame(
        {"journey_id": ["j1", "j2", "j3", "j4"], "converted": [1, 0, 1, 1], "value": [10.0, None, 4.0, 9.0]}
    )
    data = paths_from_journeys(touches, outcomes)
    got = {p: (c, v, n) for p, c, v, n in zip(data.paths, data.conversions, data.value, data.nulls)}
    # j1 and j3 share a path; j4 has no touch and is not attributable
    assert got == {("a", "b"): (2.0, 14.0, 0.0), ("a",): (0.0, 0.0, 1.0)}
    with pytest.raises(PathDataError, match="0 or 1"):
        paths_from_journeys(touches, outcomes.assign(converted=2))


def test_parse_models():
    assert parse_models(None) == MODELS
    assert parse_models(["shapley,markov", "linear"]) == ("linear", "markov", "shapley")
    with pytest.raises(ValueError, match="unknown model 'lifetime'"):
        parse_models("lifetime")


# ---------------------------------------------------------------------------------------------- heuristics


def test_heuristics_on_a_path_worked_by_hand():
    data = _csv("path,total_conversions,total_conversion_value,total_null\na > b > c > b,2,100,5\n")
    assert _credits(data, "first_touch") == _by_channel({"a": (2, 100), "b": (0, 0), "c": (0, 0)})
    assert _credits(data, "last_touch") == _by_channel({"a": (0, 0), "b": (2, 100), "c": (0, 0)})
    assert _credits(data, "linear") == _by_channel({"a": (0.5, 25), "b": (1.0, 50), "c": (0.5, 25)})
    # U-shaped: 40% first, 40% last, 20% over the two touches between
    assert _credits(data, "position_based") == _by_channel({"a": (0.8, 40), "b": (1.0, 50), "c": (0.2, 10)})
    # half-life 1 touch: weights 1, 2, 4, 8 from the first touch to the last, over 15
    assert _credits(data, "time_decay") == _by_channel(
        {"a": (2 / 15, 100 / 15), "b": (20 / 15, 1000 / 15), "c": (8 / 15, 400 / 15)}
    )
    # half-life 2 touches: 0.5 ** (3/2, 1, 1/2, 0)
    w = 0.5 ** (np.array([3, 2, 1, 0]) / 2)
    w /= w.sum()
    td2 = _credits(data, "time_decay", half_life_steps=2)
    assert td2["a", "conversions"] == pytest.approx(2 * w[0])
    assert td2["b", "conversions"] == pytest.approx(2 * (w[1] + w[3]))


def test_position_based_on_short_paths():
    data = _csv("path,total_conversions\na,1\nb > c,1\n")
    assert _credits(data, "position_based") == _by_channel({"a": (1, 0), "b": (0.5, 0), "c": (0.5, 0)})


@pytest.mark.parametrize("seed", [1, 2])
def test_every_model_credits_exactly_the_totals(seed):
    data = paths_from_frame(_random_paths(seed))
    res = attribute(data, order=2)
    sums = res.groupby("model")[["conversions", "value"]].sum()
    assert set(sums.index) == set(MODELS)
    assert np.allclose(sums["conversions"], data.total_conversions)
    assert np.allclose(sums["value"], data.total_value)
    assert len(res) == len(MODELS) * len(data.channels)


# ---------------------------------------------------------------------------------------------- Markov


def test_markov_removal_effects_solved_by_hand():
    # start -> a (1/2) or b (1/2); a -> b always; b converts half the time.
    # P(conv) = 1/2; without a: 1/4 (RE 1/2); without b: 0 (RE 1). Credits 1/3 and 2/3 of 2.
    data = _csv("path,total_conversions,total_conversion_value,total_null\na > b,1,30,1\nb,1,10,1\n")
    res = markov_attribution(data)
    assert res.conversion_probability == pytest.approx(0.5)
    assert dict(zip(res.channels, res.removal_effect)) == pytest.approx({"a": 0.5, "b": 1.0})
    assert dict(zip(res.channels, res.conversions)) == pytest.approx({"a": 2 / 3, "b": 4 / 3})
    # both conversions end in b, worth (30 + 10) / 2 each: value follows the same removal effects
    assert dict(zip(res.channels, res.value)) == pytest.approx({"a": 40 / 3, "b": 80 / 3})


def test_markov_merges_repeats_and_builds_windows_of_k_channels():
    data = _csv("path,total_conversions,total_null\na > a > b > a,1,0\nc,0,1\n")
    assert build_chain(data, 1).states == (("a",), ("b",), ("c",))
    assert build_chain(data, 2).states == (("a", "a"), ("a", "b"), ("b", "a"), ("c",))
    assert build_chain(data, 3).states == (("a", "a", "b"), ("a", "b", "a"), ("c",))
    with pytest.raises(ValueError, match="order"):
        build_chain(data, 0)


def test_markov_higher_order_removes_every_state_holding_the_channel():
    # order 2, 10 journeys: start -> (a,b) 4/10, (c,a) 2/10, (c) 4/10; they convert 1/2, 1/2, 1/4
    data = _csv("path,total_conversions,total_null\na > b,2,2\nc > a,1,1\nc,1,3\n")
    res = markov_attribution(data, order=2)
    assert res.conversion_probability == pytest.approx(0.4 * 0.5 + 0.2 * 0.5 + 0.4 * 0.25)
    # removing a sends (a,b) and (c,a) to null; removing c, (c,a) and (c); removing b, (a,b)
    re = dict(zip(res.channels, res.removal_effect))
    assert re == pytest.approx({"a": 1 - 0.1 / 0.4, "b": 1 - 0.2 / 0.4, "c": 1 - 0.2 / 0.4})


def test_markov_exact_is_deterministic_and_simulation_agrees_within_its_noise():
    data = paths_from_frame(_random_paths(3, n_paths=400))
    exact = markov_attribution(data, order=2)
    again = markov_attribution(data, order=2, seed=99)
    assert np.array_equal(exact.conversions, again.conversions)

    def simulated(seed: int):
        return markov_attribution(data, order=2, method="simulate", n_simulations=200_000, seed=seed)

    sim = simulated(5)
    assert np.array_equal(sim.conversions, simulated(5).conversions)
    assert not np.array_equal(sim.conversions, simulated(6).conversions)
    # removal effects are proportions over ~n * P(conv) simulated conversions: 4 standard errors
    n_conv = 200_000 * exact.conversion_probability
    se = np.sqrt(exact.removal_effect * (1 - exact.removal_effect) / n_conv)
    assert np.all(np.abs(sim.removal_effect - exact.removal_effect) <= 4 * se + 1e-9)
    assert sim.conversion_probability == pytest.approx(exact.conversion_probability, abs=4 * np.sqrt(0.25 / 200_000))


def test_markov_step_limit_converges_to_the_unbounded_chain():
    data = paths_from_frame(_random_paths(4))
    exact = markov_attribution(data)
    short = markov_attribution(data, max_steps=2)
    long = markov_attribution(data, max_steps=200)
    assert short.conversion_probability < exact.conversion_probability
    assert long.conversion_probability == pytest.approx(exact.conversion_probability, rel=1e-9)
    assert np.allclose(long.conversions, exact.conversions)


# ---------------------------------------------------------------------------------------------- Shapley


def _shapley_by_definition(players: list[str], v) -> dict[str, float]:
    n = len(players)
    out = {}
    for i in players:
        others = [p for p in players if p != i]
        out[i] = sum(
            factorial(len(s)) * factorial(n - len(s) - 1) / factorial(n) * (v(set(s) | {i}) - v(set(s)))
            for k in range(n)
            for s in combinations(others, k)
        )
    return out


def test_path_subset_shapley_equals_the_coalition_definition():
    data = paths_from_frame(_random_paths(5))
    sets = [(set(p), c) for p, c in zip(data.paths, data.conversions)]
    expected = _shapley_by_definition(list(data.channels), lambda s: sum(c for t, c in sets if t <= s))
    conv, _ = shapley_credits(data, "path_subsets")
    assert dict(zip(data.channels, conv)) == pytest.approx(expected, rel=1e-12)


def test_incremental_shapley_equals_the_coalition_definition():
    data = paths_from_frame(_random_paths(6))
    sets, conv, null, _ = channel_sets(data)
    beta = fit_conversion_model(sets, conv, null, len(data.channels))
    idx = {c: i for i, c in enumerate(data.channels)}

    def p(channels: set) -> float:
        return 1 / (1 + np.exp(-(beta[0] + sum(beta[1 + idx[c]] for c in channels))))

    journeys = [(set(path), c + n) for path, c, n in zip(data.paths, data.conversions, data.nulls)]
    expected = _shapley_by_definition(list(data.channels), lambda s: sum(w * p(t & s) for t, w in journeys))
    total = sum(expected.values())
    got, _ = shapley_credits(data, "incremental")
    scaled = {c: e / total * data.total_conversions for c, e in expected.items()}
    assert dict(zip(data.channels, got)) == pytest.approx(scaled, rel=1e-9)


def test_incremental_shapley_samples_orderings_beyond_the_channel_limit():
    data = paths_from_frame(_random_paths(7))
    exact, _ = shapley_credits(data)
    sampled, _ = shapley_credits(data, max_exact_channels=2, n_permutations=4000, seed=1)
    again, _ = shapley_credits(data, max_exact_channels=2, n_permutations=4000, seed=1)
    other, _ = shapley_credits(data, max_exact_channels=2, n_permutations=4000, seed=2)
    assert np.array_equal(sampled, again) and not np.array_equal(sampled, other)
    assert sampled == pytest.approx(exact, rel=0.02)


def test_conversion_model_recovers_planted_log_odds():
    rng = np.random.default_rng(0)
    effects = np.array([1.0, 0.5, -0.3])
    x = rng.random((50_000, 3)) < 0.4
    y = rng.random(50_000) < 1 / (1 + np.exp(-(-2.0 + x @ effects)))
    paths = [tuple(c for c, on in zip("abc", row) if on) or ("d",) for row in x]
    data = aggregate_paths(paths, y.astype(float), None, (~y).astype(float))
    sets, conv, null, _ = channel_sets(data)
    beta = fit_conversion_model(sets, conv, null, len(data.channels), ridge=0.0)
    # channel d marks journeys with none of a, b, c: its planted effect is 0. Standard errors ~0.025.
    assert beta == pytest.approx([-2.0, *effects, 0.0], abs=0.08)


def test_incremental_shapley_needs_non_converting_journeys_and_some_lift():
    with pytest.raises(PathDataError, match="non-converting"):
        attribute(_csv("path,total_conversions\na > b,1\n"), "shapley")
    # b only ever lowers the odds, and a alone is never seen: nothing incremental to share
    with pytest.raises(PathDataError, match="no channel raises"):
        attribute(_csv("path,total_conversions,total_null\nb,1,9\nc,5,5\nb > c,1,9\n"), "shapley")
    paths = _csv("path,total_conversions\na > b,1\n")
    assert _credits(paths, "shapley", shapley_game="path_subsets") == _by_channel({"a": (0.5, 0), "b": (0.5, 0)})


# --------------------------------------------------------------------------------------------------- CLI


def test_cli_writes_every_channel_under_every_model(tmp_path, capsys):
    src = tmp_path / "paths.csv"
    _random_paths(8).to_csv(src, index=False)
    assert cycle_main(["attribution", str(src)]) == 0
    out = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(out.columns) == ["channel", "model", "conversions", "value"]
    expected = attribute(paths_from_frame(_random_paths(8)))
    pd.testing.assert_frame_equal(out, expected, check_exact=False, rtol=1e-12)

    dest = tmp_path / "credits.csv"
    args = ["attribution", str(src), "--model", "markov", "--model", "shapley,linear", "--order", "2"]
    args += ["--out", str(dest)]
    assert cycle_main([*args, "--seed", "3"]) == 0
    assert capsys.readouterr().out == ""
    written = pd.read_csv(dest)
    assert list(written["model"].unique()) == ["linear", "markov", "shapley"]
    markov2 = markov_attribution(paths_from_frame(_random_paths(8)), order=2)
    assert written.loc[written.model == "markov", "conversions"].to_numpy() == pytest.approx(markov2.conversions)


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("path,total_null\na,1\n", [], "missing column(s) total_conversions"),
        ("path,total_conversions,total_null\na,-3,1\n", [], "total_conversions is negative"),
        ("path,total_conversions,total_null\na,1,1\n", ["--model", "lifetime"], "unknown model 'lifetime'"),
        ("path,total_conversions,total_null\na,1,1\n", ["--order", "0"], "order must be an integer >= 1"),
    ],
)
def test_cli_reports_bad_input_and_exits_2(tmp_path, capsys, content, extra, message):
    src = tmp_path / "paths.csv"
    src.write_text(content)
    assert cycle_main(["attribution", str(src), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cycle attribution: ") and message in err
