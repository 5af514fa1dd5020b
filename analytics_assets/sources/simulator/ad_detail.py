"""Ad campaigns in detail: settings that change over time, and each campaign's creatives (ads).

Both are pure functions of (config, day), like the rest of the simulator, so any day can be generated
alone: a campaign's settings on a day come from the settings period that day falls in, never from the
days before it. The creatives' daily rows split their campaign's day exactly (impressions, clicks,
conversions, spend and conversion value add up to the campaign row to the cent); reach does not add up
(one person can see several ads), so each creative has its own.
"""

from __future__ import annotations

import functools
from datetime import date

import numpy as np
import pandas as pd

from analytics_assets.sources.simulator import ground_truth as gt

# random streams of this module, apart from core's (1..7) and the ones other modules use
_SETTINGS, _CREATIVE_CATALOG, _CREATIVE_DAYS = 21, 22, 23


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, *key])


# ------------------------------------------------------------------------------------- campaign settings


def campaign_settings(campaigns: pd.DataFrame, seed: int, day: date) -> pd.DataFrame:
    """Each campaign's settings on ``day``: status, objective, budget factor, bidding strategy.

    ``campaigns`` is ``core.campaigns(config)``; the result has the same rows in the same order.
    """
    period = gt.CAMPAIGN_SETTINGS_PERIOD_DAYS
    rows = []
    for platform, seq in zip(campaigns["platform"], campaigns["campaign_seq"]):
        p_idx = gt.AD_PLATFORMS.index(platform)
        phase = int(_rng(seed, _SETTINGS, p_idx, seq).integers(0, period))
        k = (day.toordinal() + phase) // period
        rng = _rng(seed, _SETTINGS, p_idx, seq, k)
        draws = rng.random(4)
        picks = rng.integers(0, 1_000, 3)
        active, paused = gt.CAMPAIGN_STATUS[platform]
        bidding = gt.CAMPAIGN_BIDDING[platform]
        if platform == "google_ads":
            objective = gt.GOOGLE_CHANNEL_TYPES[seq % len(gt.GOOGLE_CHANNEL_TYPES)]
        else:
            objectives = gt.CAMPAIGN_OBJECTIVES[platform]
            base = objectives[seq % len(objectives)]
            keep = draws[1] < 0.9  # objectives change more rarely than the rest
            objective = base if keep else objectives[(objectives.index(base) + 1 + picks[0] % (len(objectives) - 1)) % len(objectives)]
        base_bid = bidding[seq % len(bidding)]
        keep_bid = draws[2] < gt.CAMPAIGN_KEEP_BASE_PROBABILITY
        bid = base_bid if keep_bid else bidding[(bidding.index(base_bid) + 1 + picks[1] % (len(bidding) - 1)) % len(bidding)]
        keep_budget = draws[3] < gt.CAMPAIGN_KEEP_BASE_PROBABILITY
        factor = 1.0 if keep_budget else gt.CAMPAIGN_BUDGET_FACTORS[picks[2] % len(gt.CAMPAIGN_BUDGET_FACTORS)]
        rows.append(
            {
                "status": paused if draws[0] < gt.CAMPAIGN_PAUSE_PROBABILITY else active,
                "is_active": bool(draws[0] >= gt.CAMPAIGN_PAUSE_PROBABILITY),
                "objective": objective,
                "budget_factor": factor,
                "bidding_strategy": bid,
            }
        )
    return pd.DataFrame(rows, index=campaigns.index)


# ------------------------------------------------------------------------------------------ creatives


@functools.lru_cache(maxsize=8)
def creative_catalog(campaigns_frame_key: tuple, seed: int) -> pd.DataFrame:
    """The creatives of every always-on campaign (fixed per seed): id, format, delivery weight.

    ``campaigns_frame_key`` is ``tuple(zip(platform, campaign_seq, campaign_id))`` (hashable for the cache).
    """
    rows = []
    for platform, seq, campaign_id in campaigns_frame_key:
        p_idx = gt.AD_PLATFORMS.index(platform)
        rng = _rng(seed, _CREATIVE_CATALOG, p_idx, seq)
        lo, hi = gt.CREATIVES_PER_CAMPAIGN
        n = int(rng.integers(lo, hi + 1))
        if platform == "google_ads":
            formats = gt.CREATIVE_FORMATS[platform][gt.GOOGLE_CHANNEL_TYPES[seq % len(gt.GOOGLE_CHANNEL_TYPES)]]
        else:
            formats = gt.CREATIVE_FORMATS[platform]
        weights = rng.dirichlet(np.full(n, 2.0))
        for j in range(n):
            rows.append(
                {
                    "platform": platform,
                    "campaign_id": campaign_id,
                    "ad_id": f"{campaign_id}{j:02d}",  # numeric strings, as every platform's ids
                    "creative_format": formats[int(rng.integers(0, len(formats)))],
                    "weight": float(weights[j]),
                    "frequency_factor": float(rng.uniform(0.8, 1.0)),
                    "video_start_rate": float(rng.uniform(*gt.VIDEO_START_RATE)),
                }
            )
    return pd.DataFrame(rows)


def split_exact(total: int, weights: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
    """``total`` split into integers proportional to ``weights`` (``fallback``, when given, if they are all 0),
    largest remainder: the parts add up exactly, and a part whose weight is 0 stays 0. Zeros when there is
    nothing to split or no weight to split it by."""
    if fallback is not None and weights.sum() <= 0:
        weights = fallback
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    share = weights / weights.sum() * total
    out = np.floor(share).astype(np.int64)
    rest = total - int(out.sum())
    if rest:
        out[np.argsort(-(share - out), kind="stable")[:rest]] += 1
    return out


def creative_days(campaign_day: pd.DataFrame, seed: int, day: date) -> pd.DataFrame:
    """Creative-level delivery of the always-on campaigns on ``day``, splitting ``campaign_day``
    (``core._ad_day``) exactly: counts and cents of the creatives add up to their campaign's."""
    key = tuple(zip(campaign_day["platform"], campaign_day["campaign_seq"], campaign_day["campaign_id"]))
    catalog = creative_catalog(key, seed)
    rng = _rng(seed, _CREATIVE_DAYS, day.toordinal())
    frames = []
    for c in campaign_day.itertuples(index=False):
        cr = catalog[catalog["campaign_id"] == c.campaign_id].reset_index(drop=True)
        n = len(cr)
        # daily noise on the fixed weights, drawn for every campaign so the stream stays aligned
        w = cr["weight"].to_numpy() * rng.lognormal(0, 0.25, n)
        impressions = rng.multinomial(int(c.impressions), w / w.sum()) if c.impressions > 0 else np.zeros(n, np.int64)
        clicks = rng.multivariate_hypergeometric(impressions, int(c.clicks)) if c.clicks > 0 else np.zeros(n, np.int64)
        conversions = (
            rng.multivariate_hypergeometric(clicks, int(c.conversions)) if c.conversions > 0 else np.zeros(n, np.int64)
        )
        spend_cents = split_exact(int(round(c.spend_local * 100)), impressions.astype(float))
        value_cents = split_exact(int(round(c.value_local * 100)), conversions.astype(float))
        frequency = np.maximum(c.frequency * cr["frequency_factor"].to_numpy(), 1.0)
        reach = np.where(impressions > 0, np.maximum(np.round(impressions / frequency), 1), 0).astype(np.int64)
        is_video = cr["creative_format"].isin(gt.VIDEO_FORMATS).to_numpy()
        p25 = rng.binomial(impressions, cr["video_start_rate"].to_numpy())
        r50, r75, r100 = gt.VIDEO_QUARTILE_RETENTION
        p50 = rng.binomial(p25, r50)
        p75 = rng.binomial(p50, r75)
        p100 = rng.binomial(p75, r100)
        frame = cr[["platform", "campaign_id", "ad_id", "creative_format"]].assign(
            ad_name=ad_names(c.campaign_name, cr["creative_format"]),
            account_id=c.account_id,
            campaign_name=c.campaign_name,
            currency=c.currency,
            metric_date=day,
            impressions=impressions.astype(np.int64),
            clicks=clicks.astype(np.int64),
            conversions=conversions.astype(float),
            spend_local=spend_cents / 100,
            value_local=value_cents / 100,
            reach=reach,
        )
        for name, values in (("video_p25", p25), ("video_p50", p50), ("video_p75", p75), ("video_p100", p100)):
            frame[name] = pd.array([int(v) if vid else pd.NA for v, vid in zip(values, is_video)], dtype="Int64")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def boost_creative_days(boost_rows: pd.DataFrame) -> pd.DataFrame:
    """A boost's campaign has one creative, the promoted post: its row is the campaign's row."""
    b = boost_rows.reset_index(drop=True)
    impressions = b["paid_impressions"].astype(np.int64)
    return pd.DataFrame(
        {
            "platform": "linkedin_ads",
            "campaign_id": b["campaign_id"],
            "ad_id": b["campaign_id"].astype(str) + "00",
            "creative_format": gt.BOOST_CREATIVE_FORMAT,
            "ad_name": "Boost | " + b["post_id"] + f" | {gt.BOOST_CREATIVE_FORMAT} 1",  # as ad_names names it
            "account_id": "LI-BOOST",
            "campaign_name": "Boost | " + b["post_id"],
            "currency": b["currency"],
            "metric_date": b["boost_date"],
            "impressions": impressions,
            "clicks": b["paid_clicks"].astype(np.int64),
            "conversions": 0.0,
            "spend_local": b["spend"].astype(float),
            "value_local": 0.0,
            "reach": boost_reach(impressions),
            "video_p25": pd.array([pd.NA] * len(b), dtype="Int64"),
            "video_p50": pd.array([pd.NA] * len(b), dtype="Int64"),
            "video_p75": pd.array([pd.NA] * len(b), dtype="Int64"),
            "video_p100": pd.array([pd.NA] * len(b), dtype="Int64"),
        }
    )


def ad_names(campaign_name: str, formats: pd.Series) -> list[str]:
    """Ads' names as advertisers write them, "<campaign name> | <format> <n>" (n counts the campaign's ads
    from 1). Derived, never drawn: adding names leaves every random stream, and so every number, as it was."""
    return [f"{campaign_name} | {fmt} {j + 1}" for j, fmt in enumerate(formats)]


def boost_reach(impressions: pd.Series) -> pd.Series:
    """Members reached by a boost's day of delivery (a boost's audience sees it ~1.25 times a day)."""
    imp = impressions.astype(np.int64)
    return pd.Series(np.where(imp > 0, np.maximum(np.round(imp / 1.25), 1), 0).astype(np.int64), index=impressions.index)


# ----------------------------------------------------------------------------------- native payloads


def _digits(ids: pd.Series) -> pd.Series:
    return ids.str.replace(r"\D", "", regex=True)


def money(values: pd.Series) -> pd.Series:
    """Amounts as the decimal strings the APIs send ("12.30")."""
    return values.map(lambda v: f"{v:.2f}")


def minor_units(values: pd.Series) -> pd.Series:
    """Amounts in the currency's minor unit, as strings (Meta's budgets)."""
    return np.round(values * 100).astype(np.int64).astype(str)


def micros(values: pd.Series) -> pd.Series:
    """Amounts in millionths, as strings (Google Ads' int64 micros), exact to the cent."""
    return (np.round(values * 100).astype(np.int64) * 10_000).astype(str)


def google_ads_rows(a: pd.DataFrame, resource: dict, extra: dict | None = None) -> pd.DataFrame:
    """GAQL searchStream rows (int64 fields arrive as strings) of campaign-day or ad-day delivery: the
    customer and campaign, then ``resource``'s fields (the campaign's settings or the ad), the date, the
    metrics and ``extra`` metrics."""
    return pd.DataFrame(
        {
            "customer.id": _digits(a["account_id"]),
            "customer.currencyCode": a["currency"],
            "campaign.id": a["campaign_id"],
            "campaign.name": a["campaign_name"],
            **resource,
            "segments.date": pd.to_datetime(a["metric_date"]).dt.strftime("%Y-%m-%d"),
            "metrics.impressions": a["impressions"].astype(str),
            "metrics.clicks": a["clicks"].astype(str),
            "metrics.costMicros": micros(a["spend_local"]),
            "metrics.conversions": a["conversions"],
            "metrics.conversionsValue": a["value_local"],
            **(extra or {}),
        }
    )


# the types Meta reports the same purchases under (in the order Insights list them), each with the same value
META_PURCHASE_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase")


def meta_purchase_actions(value: str, **windows: str) -> list[dict[str, str]]:
    """One purchase count or value as Meta reports it: once per purchase action type."""
    return [{"action_type": t, "value": value, **windows} for t in META_PURCHASE_TYPES]


def meta_insights_rows(a: pd.DataFrame, resource: dict, extra: dict | None = None) -> pd.DataFrame:
    """Meta Insights API rows (numbers as strings, conversions inside ``actions``): the account and
    campaign, ``resource``'s fields (the ad, at ad level), the day's delivery, then ``extra`` fields."""
    day = pd.to_datetime(a["metric_date"]).dt.strftime("%Y-%m-%d")
    return pd.DataFrame(
        {
            "account_id": _digits(a["account_id"]),
            "account_currency": a["currency"],
            "campaign_id": a["campaign_id"],
            "campaign_name": a["campaign_name"],
            **resource,
            "date_start": day,
            "date_stop": day,
            "impressions": a["impressions"].astype(str),
            "clicks": a["clicks"].astype(str),
            "spend": money(a["spend_local"]),
            "reach": a["reach"].astype(str),
            # one purchase is reported under each of Meta's purchase types at once, as real Insights do
            "actions": [
                [{"action_type": "link_click", "value": str(cl)}, *meta_purchase_actions(str(int(cv)))]
                for cl, cv in zip(a["clicks"], a["conversions"])
            ],
            "action_values": [meta_purchase_actions(f"{v:.2f}") for v in a["value_local"]],
            **(extra or {}),
        }
    )


def linkedin_analytics_rows(a: pd.DataFrame, pivot_values: list, extra: dict | None = None) -> pd.DataFrame:
    """LinkedIn adAnalytics elements (timeGranularity DAILY) with ``pivot_values`` (campaign, or campaign
    and creative URNs), the day's delivery, the fields Cycle's client joins from the account and campaign
    (``cycle.*``), then ``extra`` fields."""
    date_part = [{"year": int(x.year), "month": int(x.month), "day": int(x.day)} for x in pd.to_datetime(a["metric_date"])]
    return pd.DataFrame(
        {
            "pivotValues": pivot_values,
            "dateRange.start": date_part,
            "dateRange.end": date_part,
            "impressions": a["impressions"].astype(np.int64),
            "clicks": a["clicks"].astype(np.int64),
            "costInLocalCurrency": money(a["spend_local"]),
            "externalWebsiteConversions": a["conversions"].astype(np.int64),
            "conversionValueInLocalCurrency": money(a["value_local"]),
            "approximateMemberReach": a["reach"].astype(np.int64),
            "cycle.account_id": a["account_id"],
            "cycle.campaign_name": a["campaign_name"],
            "cycle.currency": a["currency"],
            **(extra or {}),
        }
    )


def native_creatives(creatives: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Ad-level reports in each platform's shape: Google Ads ``ad_group_ad`` GAQL rows, Meta insights
    ``level=ad``, LinkedIn adAnalytics ``pivots=CAMPAIGN,CREATIVE``."""
    out: dict[str, pd.DataFrame] = {}
    for platform, a in creatives.groupby("platform", sort=False):
        a = a.reset_index(drop=True)
        quartiles = a[["video_p25", "video_p50", "video_p75", "video_p100"]]
        if platform == "google_ads":
            imps = a["impressions"].astype(float)
            # a video ad without impressions that day reports rates of 0; other ads report none
            rates = {
                f"metrics.videoQuartileP{q}Rate": (quartiles[f"video_p{q}"].astype(float) / imps.where(imps > 0))
                .fillna(0.0)
                .where(quartiles[f"video_p{q}"].notna())
                for q in (25, 50, 75, 100)
            }
            ad = {"adGroupAd.ad.id": a["ad_id"], "adGroupAd.ad.name": a["ad_name"], "adGroupAd.ad.type": a["creative_format"]}
            out[platform] = google_ads_rows(a, ad, rates)
        elif platform == "meta_ads":

            def video_actions(values: pd.Series) -> list:
                return [
                    [{"action_type": "video_view", "value": str(int(v))}] if not pd.isna(v) else np.nan for v in values
                ]

            ad = {"ad_id": a["ad_id"], "ad_name": a["ad_name"], "creative.object_type": a["creative_format"]}
            watched = {f"video_p{q}_watched_actions": video_actions(quartiles[f"video_p{q}"]) for q in (25, 50, 75, 100)}
            out[platform] = meta_insights_rows(a, ad, watched)
        else:  # LinkedIn adAnalytics, pivots CAMPAIGN + CREATIVE, timeGranularity DAILY
            pivots = [
                [f"urn:li:sponsoredCampaign:{cid}", f"urn:li:sponsoredCreative:{aid}"]
                for cid, aid in zip(a["campaign_id"], a["ad_id"])
            ]
            video = {
                "videoFirstQuartileCompletions": quartiles["video_p25"],
                "videoMidpointCompletions": quartiles["video_p50"],
                "videoThirdQuartileCompletions": quartiles["video_p75"],
                "videoCompletions": quartiles["video_p100"],
                "cycle.creative_name": a["ad_name"],
                "cycle.creative_type": a["creative_format"],
            }
            out[platform] = linkedin_analytics_rows(a, pivots, video)
    return out
