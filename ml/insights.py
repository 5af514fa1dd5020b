"""Turn analytics tables into ranked, actionable findings, and report only patterns the data supports.

Every finding carries its severity, the supporting figures (effect, confidence interval, p and q values,
sample sizes) and a suggested action. Patterns are tested, not eyeballed:

- segment effects (posting hours, content types, platforms, boost timing, budgets) compare each level's
  mean of ``log(value)`` with the rest of its group by Welch's t-test, so effects read as multiplicative
  lifts (the way engagement responds), and the whole family of tests of one run is corrected with
  Benjamini-Hochberg. A level is reported only when its q-value is below ``alpha`` *and* its lift is at
  least ``min_effect`` (statistically real and large enough to act on);
- anomalies are the dated ones of ``ml.anomalies`` (``InsightInputs.metric_anomalies``), one finding per
  campaign or platform and kind naming the days and series; without them, robust z-scores (median and MAD of a
  trailing window) beyond ``z_threshold``;
- warnings are rule-based facts (losses, data quality) with the figures that trigger them.

Plain library: pandas, numpy and scipy only.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

SEVERITIES = ("critical", "high", "medium", "low")

DEFAULT_ALPHA = 0.05  # false-discovery rate of one family of segment tests
DEFAULT_MIN_EFFECT = 0.10  # a lift below 10% is not worth changing a plan for
DEFAULT_MIN_N = 20  # per level and per rest-of-group, below which a level is not tested


@dataclass(frozen=True)
class Finding:
    category: str  # posting_time, content, platform, boost_timing, boost_budget, boost_content, audience, anomaly, warning
    subject: str  # what the finding is about, e.g. "linkedin 09:00 UTC"
    title: str
    action: str
    severity: str
    metric: str
    effect: float | None = None  # relative lift against the baseline (0.25 = +25%)
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    n: int | None = None
    evidence: dict = field(default_factory=dict)
    platform: str | None = None  # the platform the finding is about, when it is about one
    account_id: str | None = None  # the account it is about, when it is about one (a campaign's ad account)

    @property
    def finding_id(self) -> str:
        return f"{self.category}:{self.subject}"


def _severity_of_lift(effect: float) -> str:
    size = abs(effect)
    return "high" if size >= 0.5 else "medium" if size >= 0.2 else "low"


def _welch(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float, float, float]:
    """Difference of means of ``a`` and ``b`` (Welch): estimate, CI bounds and two-sided p-value."""
    res = stats.ttest_ind(a, b, equal_var=False)
    diff = float(a.mean() - b.mean())
    ci = res.confidence_interval(confidence_level=confidence)
    return diff, float(ci.low), float(ci.high), float(res.pvalue)


@dataclass(frozen=True)
class SegmentFamily:
    """One family of segment tests: which column splits the data, within which groups, and how to word it."""

    category: str
    segment: str  # column whose levels are compared
    value: str  # strictly positive metric (rates, lifts as ratios, ROAS...)
    metric: str  # human name of the metric
    within: str | None = None  # compare levels inside each group of this column (e.g. platform)
    # estimate each level's effect inside each group of this column and pool the groups' estimates (inverse
    # variance): one effect per level, free of a mix that differs between groups (TikTok posts are all video,
    # and TikTok engages more: pooled, video reads +48% where its planted effect within platforms is +33%)
    stratify: str | None = None
    best_only: bool = False  # per group, report only the strongest positive and negative level
    subject: Callable[[str | None, object], str] = lambda group, level: f"{group} {level}" if group else str(level)
    action_up: Callable[[str, float], str] = lambda subject, lift: f"Favour {subject} (+{lift:.0%})."
    action_down: Callable[[str, float], str] = lambda subject, lift: f"Avoid {subject} ({lift:.0%})."


def segment_tests(
    frame: pd.DataFrame, family: SegmentFamily, *, min_n: int = DEFAULT_MIN_N, confidence: float = 0.95
) -> pd.DataFrame:
    """One Welch test of ``log(value)`` per (group, level) against the rest of the group (per level, pooled over
    the strata when the family is stratified: :func:`stratified_tests`)."""
    if family.stratify:
        return stratified_tests(frame, family, min_n=min_n, confidence=confidence)
    data = frame[[c for c in (family.within, family.segment, family.value) if c]].dropna()
    data = data[data[family.value] > 0]  # log scale: non-positive values carry no multiplicative information
    groups = data.groupby(family.within, sort=True) if family.within else [(None, data)]
    rows = []
    for group, g in groups:
        logv = np.log(g[family.value].to_numpy(dtype=float))
        levels = g[family.segment].to_numpy()
        for level in pd.unique(levels):
            inside = levels == level
            a, b = logv[inside], logv[~inside]
            if len(a) < min_n or len(b) < min_n:
                continue
            rows.append(_effect_row(group, level, a, b, *_welch(a, b, confidence)))
    return pd.DataFrame(
        rows, columns=["group", "level", "n", "n_rest", "mean", "mean_rest", "effect", "ci_low", "ci_high", "p_value"]
    )


def _effect_row(group, level, a: np.ndarray, b: np.ndarray, diff: float, lo: float, hi: float, p: float) -> dict:
    """One level's row: its logs ``a`` against the rest's ``b``, the log difference with its interval, as
    multiplicative effects."""
    return {
        "group": group,
        "level": level,
        "n": int(len(a)),
        "n_rest": int(len(b)),
        "mean": float(np.exp(a.mean())),
        "mean_rest": float(np.exp(b.mean())),
        "effect": math.expm1(diff),
        "ci_low": math.expm1(lo),
        "ci_high": math.expm1(hi),
        "p_value": p,
    }


def stratified_tests(
    frame: pd.DataFrame, family: SegmentFamily, *, min_n: int = DEFAULT_MIN_N, confidence: float = 0.95
) -> pd.DataFrame:
    """Each level's effect on ``log(value)`` against the rest *within* each stratum (``family.stratify``), pooled
    over the strata by inverse variance, with a normal confidence interval and p-value. A stratum counts for a
    level only with ``min_n`` rows on both sides (a platform whose posts are all video says nothing about
    video); ``n``/``n_rest`` are the rows of the strata that count, ``strata`` how many did."""
    columns = ["group", "level", "n", "n_rest", "mean", "mean_rest", "effect", "ci_low", "ci_high", "p_value", "strata"]
    data = frame[[family.stratify, family.segment, family.value]].dropna()
    data = data[data[family.value] > 0].assign(_log=lambda d: np.log(d[family.value].to_numpy(dtype=float)))
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    rows = []
    for level in pd.unique(data[family.segment]):
        diffs, weights, inside_logs, rest_logs = [], [], [], []
        for _, g in data.groupby(family.stratify, sort=True):
            inside = (g[family.segment] == level).to_numpy()
            a, b = g["_log"].to_numpy()[inside], g["_log"].to_numpy()[~inside]
            if len(a) < min_n or len(b) < min_n:
                continue
            variance = a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)
            if not variance > 0:
                continue
            diffs.append(a.mean() - b.mean())
            weights.append(1.0 / variance)
            inside_logs.append(a)
            rest_logs.append(b)
        if not diffs:
            continue
        w = np.asarray(weights)
        diff = float(np.dot(w, diffs) / w.sum())
        se = float(1.0 / np.sqrt(w.sum()))
        a, b = np.concatenate(inside_logs), np.concatenate(rest_logs)
        p_value = float(2 * stats.norm.sf(abs(diff) / se))
        rows.append({**_effect_row(None, level, a, b, diff, diff - z * se, diff + z * se, p_value), "strata": len(diffs)})
    return pd.DataFrame(rows, columns=columns)


def _bh(p_values: Iterable[float]) -> np.ndarray:
    p = np.asarray(list(p_values), dtype=float)
    return stats.false_discovery_control(p) if len(p) else p


def segment_findings(
    frame: pd.DataFrame,
    families: list[SegmentFamily] | SegmentFamily,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_effect: float = DEFAULT_MIN_EFFECT,
    min_n: int = DEFAULT_MIN_N,
) -> list[Finding]:
    """Significant, material segment effects of all ``families`` over ``frame`` (one BH-corrected family)."""
    families = [families] if isinstance(families, SegmentFamily) else families
    tests = [(fam, segment_tests(frame, fam, min_n=min_n)) for fam in families]
    q_all = _bh(np.concatenate([t["p_value"].to_numpy() for _, t in tests]) if tests else [])
    findings: list[Finding] = []
    offset = 0
    for fam, t in tests:
        t = t.assign(q_value=q_all[offset : offset + len(t)])
        offset += len(t)
        kept = t[(t["q_value"] < alpha) & (t["effect"].abs() >= min_effect)]
        if fam.best_only and len(kept):
            key = kept["group"].fillna("") if fam.within else pd.Series("", index=kept.index)
            up = kept[kept["effect"] > 0].assign(_k=key).sort_values("effect", ascending=False)
            down = kept[kept["effect"] < 0].assign(_k=key).sort_values("effect")
            others = {
                g: sorted(x["level"].tolist(), key=str) for g, x in kept[kept["effect"] > 0].assign(_k=key).groupby("_k")
            }
            kept = pd.concat([up.drop_duplicates("_k"), down.drop_duplicates("_k")]).drop(columns="_k")
        else:
            others = {}
        for r in kept.itertuples(index=False):
            subject = fam.subject(r.group, r.level)
            up = r.effect > 0
            evidence = {
                "mean": r.mean,
                "mean_rest": r.mean_rest,
                "n_rest": r.n_rest,
                "test": "Welch t-test on log values, Benjamini-Hochberg across the run",
            }
            if fam.stratify:
                evidence["test"] = (
                    f"log values against the rest within each {fam.stratify}, pooled by inverse variance "
                    f"({int(r.strata)} {fam.stratify}s), Benjamini-Hochberg across the run"
                )
            if fam.best_only and up:
                evidence["significant_positive_levels"] = others.get(r.group if fam.within else "", [])
            platform = r.group if fam.within == "platform" else r.level if fam.segment == "platform" else None
            findings.append(
                Finding(
                    category=fam.category,
                    subject=subject,
                    platform=None if platform is None else str(platform),
                    title=f"{fam.metric} {'higher' if up else 'lower'} for {subject}: {r.effect:+.0%} vs the rest",
                    action=(fam.action_up if up else fam.action_down)(subject, r.effect),
                    severity=_severity_of_lift(r.effect),
                    metric=fam.metric,
                    effect=float(r.effect),
                    ci_low=float(r.ci_low),
                    ci_high=float(r.ci_high),
                    p_value=float(r.p_value),
                    q_value=float(r.q_value),
                    n=int(r.n),
                    evidence=evidence,
                )
            )
    return findings


def anomaly_findings(
    daily: pd.DataFrame,
    *,
    date_col: str,
    group_col: str,
    value_col: str,
    metric: str,
    window: int = 14,
    min_history: int = 7,
    z_threshold: float = 5.0,
) -> list[Finding]:
    """Days whose value departs from the trailing ``window`` days of its group by more than ``z_threshold``
    robust standard deviations (1.4826 x MAD). The window excludes the day itself, so a spike cannot hide itself."""
    findings = []
    for group, g in daily.sort_values(date_col).groupby(group_col, sort=True):
        values = g[value_col].to_numpy(dtype=float)
        dates = g[date_col].to_numpy()
        for i in range(min_history, len(values)):
            hist = values[max(0, i - window) : i]
            med = float(np.median(hist))
            scale = 1.4826 * float(np.median(np.abs(hist - med)))
            if scale <= 0 or not np.isfinite(values[i]):
                continue
            z = (values[i] - med) / scale
            if abs(z) < z_threshold:
                continue
            day = pd.Timestamp(dates[i]).date().isoformat()
            change = values[i] / med - 1 if med else float("inf")
            findings.append(
                Finding(
                    category="anomaly",
                    subject=f"{group} {day}",
                    platform=str(group) if group_col == "platform" else None,
                    title=f"{metric} of {group} on {day} was {values[i]:,.0f} against a usual {med:,.0f} ({change:+.0%})",
                    action="Check for a viral post, a tracking change or bot traffic before using this day for decisions.",
                    severity="high" if abs(z) >= 2 * z_threshold else "medium",
                    metric=metric,
                    effect=float(change),
                    n=len(hist),
                    evidence={"robust_z": float(z), "median": med, "value": float(values[i]), "window_days": len(hist)},
                )
            )
    return findings


def roas_warnings(
    campaigns: pd.DataFrame, *, min_spend: float = 500.0, confidence: float = 0.9
) -> list[Finding]:
    """Campaigns losing money: daily ROAS whose upper confidence bound (t over days) stays below 1.

    ``campaigns`` has one row per campaign and day with ``campaign_id``, ``platform``, ``spend_usd`` and
    ``revenue_usd`` (and ``account_id``, its ad account, which the warning then names). A bad day alone never triggers it: the whole window must say so."""
    findings = []
    for (platform, cid), g in campaigns.groupby(["platform", "campaign_id"], sort=True):
        spend = float(g["spend_usd"].sum())
        if spend < min_spend or len(g) < 3:
            continue
        daily = (g["revenue_usd"] / g["spend_usd"].where(g["spend_usd"] > 0)).dropna().to_numpy(dtype=float)
        if len(daily) < 3:
            continue
        roas = float(g["revenue_usd"].sum()) / spend
        upper = float(daily.mean() + stats.t.ppf(confidence, len(daily) - 1) * daily.std(ddof=1) / math.sqrt(len(daily)))
        if upper >= 1:
            continue
        findings.append(
            Finding(
                category="warning",
                subject=f"{platform} campaign {cid}",
                platform=str(platform),
                account_id=str(g["account_id"].iloc[0]) if "account_id" in g and g["account_id"].notna().any() else None,
                title=f"{platform} campaign {cid} returns {roas:.2f} per unit spent (ROAS < 1 on every test)",
                action="Cut its budget or fix targeting and creative; move spend to campaigns above ROAS 1.",
                severity="critical" if roas < 0.5 else "high",
                metric="ROAS",
                effect=roas - 1,
                ci_high=upper - 1,
                n=len(daily),
                evidence={"spend_usd": spend, "revenue_usd": float(g["revenue_usd"].sum()), "roas": roas},
            )
        )
    return findings


def rank_findings(findings: list[Finding]) -> pd.DataFrame:
    """Findings as a table ordered by severity, then by size of effect (largest first)."""
    cols = [
        "rank", "finding_id", "category", "subject", "severity", "title", "action", "metric",
        "effect", "ci_low", "ci_high", "p_value", "q_value", "n", "evidence", "platform", "account_id",
    ]  # fmt: skip
    if not findings:
        return pd.DataFrame(columns=cols)
    frame = pd.DataFrame([{**asdict(f), "finding_id": f.finding_id} for f in findings])
    frame["_sev"] = frame["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
    frame["_size"] = -frame["effect"].abs().fillna(0)
    frame = frame.sort_values(["_sev", "_size", "finding_id"]).drop(columns=["_sev", "_size"])
    frame = frame.drop_duplicates("finding_id").reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    frame["evidence"] = frame["evidence"].map(lambda e: json.dumps(e, default=float, sort_keys=True))
    return frame[cols]


# ------------------------------------------------------------------------------------- Cycle's findings

_DOW = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_FACTOR_CATEGORY = {"targeting": "audience", "budget": "boost_budget", "boost_timing": "boost_timing", "creative": "creative"}


def _hour_subject(group: str | None, level: object) -> str:
    return f"{group} posts at {int(level):02d}:00 UTC"


def _dow_subject(prefix: str) -> Callable[[str | None, object], str]:
    return lambda group, level: f"{prefix}{(group + ' ') if group else ''}on {_DOW[int(level)]}"


POST_FAMILIES = (
    SegmentFamily(
        "posting_time", "publish_hour", "engagement_rate", "Engagement rate", within="platform", best_only=True,
        subject=_hour_subject,
        action_up=lambda s, lift: f"Schedule {s.split(' posts')[0]} posts in this hour (+{lift:.0%} engagement rate).",
        action_down=lambda s, lift: f"Move {s.split(' posts')[0]} posts out of this hour ({lift:.0%}).",
    ),
    SegmentFamily(
        "posting_day", "publish_dow", "engagement_rate", "Engagement rate", within="platform",
        subject=_dow_subject("posts "),
    ),
    # content effects within platform: platforms differ in engagement and in content mix
    SegmentFamily(
        "content", "hook_type", "engagement_rate", "Engagement rate", stratify="platform", subject=lambda g, v: f"hook '{v}'"
    ),
    SegmentFamily(
        "content", "media_type", "engagement_rate", "Engagement rate", stratify="platform", subject=lambda g, v: f"{v} posts"
    ),
    SegmentFamily(
        "content", "topic", "engagement_rate", "Engagement rate", stratify="platform", subject=lambda g, v: f"topic '{v}'"
    ),
    SegmentFamily(
        "platform", "platform", "engagement_rate", "Engagement rate", subject=lambda g, v: f"{v} organic",
        action_up=lambda s, lift: f"Give {s} a larger share of the content calendar (+{lift:.0%} engagement rate).",
        action_down=lambda s, lift: f"Publish less on {s}, or rework its format ({lift:.0%} engagement rate).",
    ),
)
CAMPAIGN_FAMILIES = (
    SegmentFamily(
        "platform", "platform", "roas", "ROAS", subject=lambda g, v: f"{v} campaigns",
        action_up=lambda s, lift: f"Shift budget towards {s} (ROAS +{lift:.0%} against the other ad platforms).",
        action_down=lambda s, lift: f"Shift budget away from {s} (ROAS {lift:.0%} against the other ad platforms).",
    ),
)
BOOST_FAMILIES = (
    SegmentFamily(
        "boost_timing", "flight_start_dow", "lift_ratio", "Boost organic lift", subject=_dow_subject("boosts starting "),
        action_up=lambda s, lift: f"Start boosts on that day: {s} lift organic reach {lift:+.0%} more.",
        action_down=lambda s, lift: f"Avoid starting boosts on that day: {s} lift organic reach {lift:+.0%}.",
    ),
    SegmentFamily(
        "boost_content", "media_type", "lift_ratio", "Boost organic lift", subject=lambda g, v: f"boosted {v} posts",
        action_up=lambda s, lift: f"Boost {s.removeprefix('boosted ')} first: they respond to boosting ({lift:+.0%} lift).",
        action_down=lambda s, lift: f"Do not boost {s.removeprefix('boosted ')}: they respond weakly ({lift:+.0%} lift).",
    ),
    SegmentFamily(
        "boost_budget", "budget_tier", "lift_ratio", "Boost organic lift", subject=lambda g, v: f"boosts with a {v} daily budget",
    ),
)


@dataclass
class InsightInputs:
    """What the insights read, one frame per source (None: not available, nothing is said about it)."""

    posts: pd.DataFrame | None = None  # platform, publish_hour, publish_dow, hook_type, media_type, topic, engagement_rate
    campaign_days: pd.DataFrame | None = None  # platform, account_id, campaign_id, metric_date, spend_usd, revenue_usd
    boosts: pd.DataFrame | None = None  # boost_id, flight_start_dow, media_type, daily_budget_usd, relative_lift
    experiments: pd.DataFrame | None = None  # rows of experiment_results
    platform_daily: pd.DataFrame | None = None  # metric_date, platform, impressions
    # the dated anomalies of the window (analysis.metric_anomalies, ml.anomalies): when given, they are the anomaly
    # findings (dates, series, expected ranges) and the undated z-score scan of platform_daily is not run
    metric_anomalies: pd.DataFrame | None = None
    # the posting policy's slots (ml.ml_posting_slots: platform, publish_dow, publish_hour, posterior_mean_log,
    # posterior_sd_log, n_seen_at_hour, model_version): when given, the best hours are the policy's, so the
    # insights and the recommendations give one answer to "when should I post?"
    posting_slots: pd.DataFrame | None = None
    extra: list[Finding] = field(default_factory=list)  # data-quality warnings computed by the caller


def _budget_tiers(daily_budget: pd.Series) -> pd.Series:
    """Budget tertiles named by their USD range, so a finding reads 'a 20-60 USD daily budget'."""
    if daily_budget.nunique() < 3:
        return pd.Series(pd.NA, index=daily_budget.index, dtype=object)
    tiers = pd.qcut(daily_budget, 3, duplicates="drop")
    return tiers.map(lambda iv: f"{iv.left:.0f}-{iv.right:.0f} USD").astype(object)


def experiment_findings(results: pd.DataFrame) -> list[Finding]:
    """A finding for every experiment with a declared winner; inconclusive or running ones say nothing."""
    findings = []
    for r in results[results["status"] == "winner"].itertuples(index=False):
        base = abs(float(r.control_mean)) or 1.0
        rel = float(r.effect) / base
        winner_is_treatment = r.winner == r.treatment_variant
        loser = r.control_variant if winner_is_treatment else r.treatment_variant
        findings.append(
            Finding(
                category=_FACTOR_CATEGORY.get(r.factor, r.factor),
                subject=f"{r.factor}: {r.winner}",
                title=f"A/B test {r.experiment_id}: {r.winner} beats {loser} on {r.metric} ({rel:+.0%})",
                action=f"Use {r.winner} for {r.factor.replace('_', ' ')} on future boosts.",
                severity=_severity_of_lift(rel),
                metric=str(r.metric),
                effect=rel,
                ci_low=float(r.ci_low) / base,
                ci_high=float(r.ci_high) / base,
                p_value=float(r.p_value),
                n=int(r.n_control + r.n_treatment),
                evidence={"experiment_id": r.experiment_id, "test": r.test, "decision_rule": r.decision_rule},
            )
        )
    return findings


def posting_time_findings(slots: pd.DataFrame, *, level: float = 0.90, min_effect: float = DEFAULT_MIN_EFFECT) -> list[Finding]:
    """Each platform's best hour by the posting policy's posteriors (the hour ``/v1/optimal-hours`` ranks first),
    with its expected lift over the platform's average hour and a ``level`` interval; none below ``min_effect``."""
    z = stats.norm.ppf(0.5 + level / 2)
    findings = []
    for platform, grp in slots.groupby("platform", sort=True):
        by_hour = grp.groupby("publish_hour").agg(
            mean_log=("posterior_mean_log", "mean"), sd_log=("posterior_sd_log", "mean"), n=("n_seen_at_hour", "max")
        )
        best = by_hour["mean_log"].idxmax()
        diff = float(by_hour.loc[best, "mean_log"] - by_hour["mean_log"].mean())
        effect = math.expm1(diff)
        if effect < min_effect:
            continue
        sd = float(by_hour.loc[best, "sd_log"])
        subject = f"{platform} posts at {int(best):02d}:00 UTC"
        findings.append(
            Finding(
                category="posting_time",
                subject=subject,
                platform=str(platform),
                title=f"{platform} posts published at {int(best):02d}:00 UTC are expected to engage {effect:+.0%} "
                "more than at the average hour",
                action=f"Schedule {platform} posts in this hour (+{effect:.0%} expected engagement); Cycle's posting-slot "
                "recommendations plan each post's hour.",
                severity=_severity_of_lift(effect),
                metric="Expected engagement score",
                effect=effect,
                ci_low=math.expm1(diff - z * sd),
                ci_high=math.expm1(diff + z * sd),
                n=int(by_hour.loc[best, "n"]),
                evidence={
                    "source": "posting policy (ml.ml_posting_slots)",
                    "model_version": str(grp["model_version"].iloc[0]) if "model_version" in grp else None,
                    "interval_level": level,
                },
            )
        )
    return findings


def generate_findings(
    inputs: InsightInputs, *, alpha: float = DEFAULT_ALPHA, min_effect: float = DEFAULT_MIN_EFFECT, min_n: int = DEFAULT_MIN_N
) -> list[Finding]:
    """Every finding Cycle reports, from whatever inputs are available (segment tests: one BH family per source)."""
    findings: list[Finding] = []
    if inputs.posts is not None and len(inputs.posts):
        use_policy = inputs.posting_slots is not None and len(inputs.posting_slots) > 0
        families = [f for f in POST_FAMILIES if not (use_policy and f.category == "posting_time")]
        findings += segment_findings(inputs.posts, families, alpha=alpha, min_effect=min_effect, min_n=min_n)
    if inputs.posting_slots is not None and len(inputs.posting_slots):
        findings += posting_time_findings(inputs.posting_slots, min_effect=min_effect)
    if inputs.campaign_days is not None and len(inputs.campaign_days):
        cd = inputs.campaign_days
        with np.errstate(divide="ignore", invalid="ignore"):
            cd = cd.assign(roas=cd["revenue_usd"] / cd["spend_usd"].where(cd["spend_usd"] > 0))
        findings += segment_findings(cd, list(CAMPAIGN_FAMILIES), alpha=alpha, min_effect=min_effect, min_n=min_n)
        findings += roas_warnings(inputs.campaign_days)
    if inputs.boosts is not None and len(inputs.boosts):
        b = inputs.boosts.assign(
            lift_ratio=1.0 + inputs.boosts["relative_lift"], budget_tier=_budget_tiers(inputs.boosts["daily_budget_usd"])
        )
        findings += segment_findings(b, list(BOOST_FAMILIES), alpha=alpha, min_effect=min_effect, min_n=min_n)
    if inputs.experiments is not None and len(inputs.experiments):
        findings += experiment_findings(inputs.experiments)
    if inputs.metric_anomalies is not None:
        from ml.anomalies import anomaly_insights

        findings += [Finding(**fields) for fields in anomaly_insights(inputs.metric_anomalies)]
    elif inputs.platform_daily is not None and len(inputs.platform_daily):
        findings += anomaly_findings(
            inputs.platform_daily, date_col="metric_date", group_col="platform", value_col="impressions", metric="Impressions"
        )
    return findings + list(inputs.extra)


def quality_findings(
    quarantine: pd.DataFrame,
    drift: tuple[object, str, float] | None,
    flagged_deltas: int,
    flagged_posts: int,
    max_quarantine_share: float,
) -> list[Finding]:
    """Data-quality warnings: quarantine share per raw table (``quarantine``: source_table, quarantined,
    loaded), the latest drifted day (day, drifted columns, drift share), snapshot jumps awaiting review."""
    findings = []
    for r in quarantine.itertuples(index=False):
        share = r.quarantined / max(r.loaded + r.quarantined, 1)
        if share > max_quarantine_share:
            findings.append(
                Finding(
                    category="warning",
                    subject=f"quarantine {r.source_table}",
                    title=f"{share:.1%} of {r.source_table} records were quarantined",
                    action="Read raw.raw_quarantine's reasons: a source changed its payload or sends bad data.",
                    severity="high",
                    metric="quarantine share",
                    effect=float(share),
                    n=int(r.loaded + r.quarantined),
                    evidence={"quarantined": int(r.quarantined), "loaded": int(r.loaded)},
                )
            )
    if drift:
        day, columns, share = drift
        findings.append(
            Finding(
                category="warning",
                subject="feature drift",
                title=f"Posting behaviour drifted on {day}: {columns}",
                action="The engagement model is retrained on drift; check the new champion's recommendations.",
                severity="medium",
                metric="drift share",
                effect=float(share),
                evidence={"day": str(day), "drifted_columns": columns},
            )
        )
    if flagged_deltas:
        findings.append(
            Finding(
                category="anomaly",
                subject="snapshot jumps",
                title=f"{flagged_deltas} metric jumps above 1000% between snapshots on {flagged_posts} posts await review",
                action="Review main.fct_snapshot_delta_flags: a viral post, or a platform restating its counters.",
                severity="medium",
                metric="flagged deltas",
                n=int(flagged_deltas),
                evidence={"posts": int(flagged_posts)},
            )
        )
    return findings


# ------------------------------------------------------------------------------ whose finding it is

# Every served insight belongs to one account (the API answers a workspace with its accounts' rows only).
# A finding names its account when it is about one (a campaign losing money: its ad account), else its
# platform (a posting hour, a platform's anomaly), else it was computed over a pool of accounts and holds for
# each of them: an A/B test's accounts (those whose boosts it ran on), the accounts whose boosts the boost
# tests pooled, every organic account (content tests over all organic posts), or every account (data
# quality of the pipeline they all come from). A finding is published once per account of its scope.
SCOPES = ("account", "platform", "experiment", "boosting_accounts", "organic_accounts", "all_accounts")
ORGANIC_CATEGORIES = frozenset({"content", "posting_time", "posting_day", "platform"})
ACCOUNT_FINDING_COLUMNS = [
    "insight_id", "platform", "account_id", "rank", "finding_rank", "scope", "finding_id", "category", "subject",
    "severity", "title", "action", "metric", "effect", "ci_low", "ci_high", "p_value", "q_value", "n", "evidence",
]  # fmt: skip


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def finding_scope(category: str, platform: object, account_id: object, evidence: dict) -> str:
    """Which accounts a finding holds for (``SCOPES``)."""
    if not _missing(account_id):
        return "account"
    if not _missing(platform):
        return "platform"
    if evidence.get("experiment_id"):
        return "experiment"
    if category.startswith("boost_"):
        return "boosting_accounts"
    if category in ORGANIC_CATEGORIES:
        return "organic_accounts"
    return "all_accounts"


def insight_id(category: str, subject: str, metric: str, effect: object, platform: str, account_id: str) -> str:
    """A served insight's id: a hash of what it says (category, subject, metric, direction of the effect) and
    whose it is (platform, account). Rerunning on newer data keeps the id of a finding that still says the
    same thing, so an acknowledgement stays with it; a finding that turns around is a new one."""
    direction = "none" if _missing(effect) else "up" if float(effect) > 0 else "down" if float(effect) < 0 else "flat"
    text = "\x1f".join([category, subject, metric, direction, platform, account_id])
    return "ins_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def findings_per_account(
    ranked: pd.DataFrame,
    accounts: pd.DataFrame,
    boosting: pd.DataFrame,
    experiment_accounts: pd.DataFrame,
) -> pd.DataFrame:
    """``ranked`` (``rank_findings``) published once per account of each finding's scope: ``accounts`` (every
    account: platform, account_id, channel_type), ``boosting`` (platform, account_id of the boosts the boost
    tests pooled), ``experiment_accounts`` (experiment_id, platform, account_id). ``rank`` orders each
    account's insights (1 = first), ``finding_rank`` is the finding's rank over all findings."""
    every = sorted(zip(accounts["platform"], accounts["account_id"]))
    organic = sorted(zip(*(accounts[accounts["channel_type"] == "organic"][c] for c in ("platform", "account_id"))))
    boosted = sorted(set(zip(boosting["platform"], boosting["account_id"])))
    by_experiment: dict[str, list[tuple[str, str]]] = {}
    for e, p, a in zip(experiment_accounts["experiment_id"], experiment_accounts["platform"], experiment_accounts["account_id"]):
        by_experiment.setdefault(str(e), []).append((str(p), str(a)))
    rows = []
    for r in ranked.to_dict("records"):
        evidence = json.loads(r["evidence"]) if isinstance(r["evidence"], str) else dict(r["evidence"] or {})
        scope = finding_scope(r["category"], r.get("platform"), r.get("account_id"), evidence)
        if scope == "account":
            targets = [(str(r["platform"]), str(r["account_id"]))]
        elif scope == "platform":
            targets = [acc for acc in every if acc[0] == r["platform"]]
        elif scope == "experiment":
            targets = sorted(set(by_experiment.get(str(evidence["experiment_id"]), [])))
        elif scope == "boosting_accounts":
            targets = boosted
        elif scope == "organic_accounts":
            targets = organic
        else:
            targets = every
        for platform, account_id in targets:
            rows.append({
                **r, "platform": platform, "account_id": account_id, "scope": scope, "finding_rank": r["rank"],
                "insight_id": insight_id(r["category"], r["subject"], r["metric"], r["effect"], platform, account_id),
            })
    frame = pd.DataFrame(rows, columns=[c for c in ACCOUNT_FINDING_COLUMNS if c != "rank"])
    frame = frame.sort_values(["platform", "account_id", "finding_rank"], kind="stable")
    frame = frame.drop_duplicates("insight_id").reset_index(drop=True)  # one finding per thing said per account
    frame["rank"] = frame.groupby(["platform", "account_id"]).cumcount() + 1
    return frame[ACCOUNT_FINDING_COLUMNS]
