"""Planted anomalies found end to end (issue 14): the simulator, as a data engineer sets it from the UI's launchpad
(the ``simulator`` resource's ``anomaly_days``), plants a spend spike, a tracking outage, a CTR collapse and a
viral spike on one day; the day goes through the raw layer and dbt like any other, and ``metric_anomalies``
reports each planted anomaly on its day, with its kind, its series and an expected range the observed value is
outside of, and no anomaly on the quiet days before it. (A rerun of a day changing nothing is shown by
test_metric_anomalies_asset.py.)"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest

from analytics_assets.sources.simulator import PlatformSimulator
from cycle_testing import new_home

pytestmark = pytest.mark.slow

PLANTED = date(2026, 7, 20)
# four weeks of history: the detector judges a series once it has 10 clean days over at least 14, and a simulated
# campaign may be paused for a week or two of them
START = PLANTED - timedelta(days=27)
SIM = {"seed": 12, "posts_per_day": 24, "journeys_per_day": 4, "ai_generations_per_day": 2,
       "experiment_units_per_day": 2, "malformed_rate": 0.0, "anomaly_days": [PLANTED.isoformat()]}


def _run(home, start: date, end: date):
    defs = home.defs(**SIM)
    # the anomalies and what they read, from the raw layer up: the daily (partitioned) assets only
    graph = defs.resolve_asset_graph()
    upstream = dg.AssetSelection.assets("metric_anomalies").upstream().resolve(graph)
    daily = [key for key in upstream if graph.get(key).partitions_def is not None]
    job = dg.define_asset_job("planted_anomalies", selection=dg.AssetSelection.assets(*daily))
    result = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("planted_anomalies").execute_in_process(
        instance=home.instance,
        tags={"dagster/asset_partition_range_start": start.isoformat(),
              "dagster/asset_partition_range_end": end.isoformat()},
        raise_on_error=False,
    )
    assert result.success, [str(e.event_specific_data.error) for e in result.all_events if e.is_step_failure]
    return result


def test_each_planted_anomaly_is_found_on_its_day_through_raw_and_dbt(tmp_path):
    home = new_home(tmp_path / "home")
    _run(home, START, PLANTED)
    found = home.query(
        "select metric_date, series_id, kind, observed, expected_low, expected_high from analysis.metric_anomalies "
        "where metric_date = ? order by kind", [PLANTED],
    )
    truth = PlatformSimulator(home.resources(**SIM)["simulator"].config()).anomalies(PLANTED, PLANTED)
    assert sorted(truth["kind"]) == ["ctr_collapse", "spend_spike", "tracking_outage", "viral_spike"]
    assert sorted(found["kind"]) == sorted(truth["kind"]), found.to_string()
    for planted in truth.itertuples(index=False):
        [row] = found[found["kind"] == planted.kind].itertuples(index=False)
        # the series is the planted campaign's, or the planted platform's organic series
        target = planted.campaign_id if isinstance(planted.campaign_id, str) else planted.platform
        assert target in row.series_id, (planted, row)
        assert not (row.expected_low <= row.observed <= row.expected_high)
    # nothing flagged on the quiet days the detector judged
    earlier = home.query("select count(*) as n from analysis.metric_anomalies where metric_date < ?", [PLANTED])
    assert earlier.n[0] == 0

