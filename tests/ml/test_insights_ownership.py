"""Whose each finding is (ml.insights.findings_per_account): a finding about an account goes to it, one about a
platform to each account of the platform, one computed over a pool of accounts to each account of the pool; its
insight_id is a hash of what it says and whose it is, stable across reruns that say the same."""

from __future__ import annotations

import pandas as pd

from ml.insights import Finding, finding_scope, findings_per_account, insight_id, rank_findings, roas_warnings

ACCOUNTS = pd.DataFrame(
    [("linkedin", "li-1", "organic"), ("linkedin", "li-2", "organic"), ("x", "x-1", "organic"),
     ("google_ads", "g-1", "paid"), ("web", "site", "web")],
    columns=["platform", "account_id", "channel_type"],
)
BOOSTING = pd.DataFrame([("linkedin", "li-2")], columns=["platform", "account_id"])
EXPERIMENTS = pd.DataFrame([("exp_1", "x", "x-1"), ("exp_1", "linkedin", "li-1")],
                           columns=["experiment_id", "platform", "account_id"])


def findings(effect: float = 0.3) -> list[Finding]:
    return [
        Finding("warning", "google_ads campaign c1", "loses money", "cut", "critical", "ROAS", effect=-0.6,
                platform="google_ads", account_id="g-1"),
        Finding("posting_time", "linkedin posts at 09:00 UTC", "09:00 is best", "post then", "medium", "score",
                effect=effect, platform="linkedin"),
        Finding("creative", "creative: video", "video wins", "use video", "low", "watch", effect=0.1,
                evidence={"experiment_id": "exp_1"}),
        Finding("boost_timing", "boosts starting on Monday", "Monday lifts", "start Mondays", "low", "lift", effect=0.2),
        Finding("content", "hook 'question'", "questions engage", "ask", "low", "rate", effect=0.15),
        Finding("warning", "feature drift", "drifted", "check", "medium", "drift share", effect=0.4),
    ]


def owners(table: pd.DataFrame, category: str) -> set[tuple[str, str]]:
    rows = table[table["category"] == category]
    return set(zip(rows["platform"], rows["account_id"]))


def test_each_finding_goes_to_the_accounts_of_its_scope():
    table = findings_per_account(rank_findings(findings()), ACCOUNTS, BOOSTING, EXPERIMENTS)
    assert dict(zip(table["subject"], table["scope"])) == {
        "google_ads campaign c1": "account", "linkedin posts at 09:00 UTC": "platform", "creative: video": "experiment",
        "boosts starting on Monday": "boosting_accounts", "hook 'question'": "organic_accounts",
        "feature drift": "all_accounts",
    }
    by_subject = {s: set(zip(g["platform"], g["account_id"])) for s, g in table.groupby("subject")}
    every = set(zip(ACCOUNTS["platform"], ACCOUNTS["account_id"]))
    assert by_subject["google_ads campaign c1"] == {("google_ads", "g-1")}
    assert by_subject["linkedin posts at 09:00 UTC"] == {("linkedin", "li-1"), ("linkedin", "li-2")}
    assert by_subject["creative: video"] == {("x", "x-1"), ("linkedin", "li-1")}
    assert by_subject["boosts starting on Monday"] == {("linkedin", "li-2")}
    assert by_subject["hook 'question'"] == {("linkedin", "li-1"), ("linkedin", "li-2"), ("x", "x-1")}
    assert by_subject["feature drift"] == every
    assert table["insight_id"].is_unique and table["insight_id"].str.fullmatch(r"ins_[0-9a-f]{24}").all()
    # each account's insights are ranked 1..n in the order of the findings' ranks
    for _, rows in table.groupby(["platform", "account_id"]):
        assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
        assert rows["finding_rank"].is_monotonic_increasing


def test_the_id_survives_a_rerun_that_says_the_same_and_changes_when_it_turns_around():
    first = findings_per_account(rank_findings(findings(0.3)), ACCOUNTS, BOOSTING, EXPERIMENTS)
    same = findings_per_account(rank_findings(findings(0.35)), ACCOUNTS, BOOSTING, EXPERIMENTS)
    turned = findings_per_account(rank_findings(findings(-0.3)), ACCOUNTS, BOOSTING, EXPERIMENTS)
    key = ["subject", "platform", "account_id"]
    a, b, c = (t.set_index(key)["insight_id"] for t in (first, same, turned))
    assert a.equals(b.loc[a.index])
    hour = ("linkedin posts at 09:00 UTC", "linkedin", "li-1")
    assert a.loc[hour] != c.loc[hour] and a.drop(index=[hour, hour[:1] + ("linkedin", "li-2")]).equals(
        c.loc[a.index].drop(index=[hour, hour[:1] + ("linkedin", "li-2")]))
    assert insight_id("c", "s", "m", 0.1, "x", "1") != insight_id("c", "s", "m", 0.1, "x", "2")


def test_scope_rules_and_a_campaign_warning_names_its_ad_account():
    assert finding_scope("warning", None, "a", {}) == "account"
    assert finding_scope("anomaly", "x", None, {}) == "platform"
    assert finding_scope("audience", None, None, {"experiment_id": "e"}) == "experiment"
    assert finding_scope("boost_budget", None, None, {}) == "boosting_accounts"
    assert finding_scope("content", float("nan"), None, {}) == "organic_accounts"
    assert finding_scope("warning", None, None, {}) == "all_accounts"
    days = pd.DataFrame({"platform": "meta_ads", "account_id": "act_1", "campaign_id": "c9",
                         "spend_usd": [400.0, 300.0, 350.0], "revenue_usd": [40.0, 30.0, 20.0]})
    (warning,) = roas_warnings(days)
    assert (warning.platform, warning.account_id) == ("meta_ads", "act_1")


def test_an_experiment_or_pool_without_accounts_reaches_nobody():
    table = findings_per_account(
        rank_findings(findings()[2:4]), ACCOUNTS, BOOSTING.iloc[0:0], EXPERIMENTS.iloc[0:0]
    )
    assert table.empty and list(table.columns)[:3] == ["insight_id", "platform", "account_id"]
