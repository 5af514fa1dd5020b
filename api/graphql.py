"""GraphQL at ``/v1/graphql`` (Strawberry): the read models of API v1 in one query language, answered by the
REST handlers themselves.

Every resolver calls the REST route's handler (``api.routes.*``, ``api.overview``) with the request's store
and principal, so the numbers, the rounding, the ordering, the pagination cursors and the workspace scoping
are REST's by construction; each GraphQL object is the REST answer's JSON with camelCase names (the types
are generated from the REST response models). Arguments are validated with the REST parameters' own types
and refused with REST's 422 messages, as GraphQL errors (``extensions.code`` ``BAD_USER_INPUT``).

Access is REST's: the context getter depends on ``require("read")``, so a missing or bad key is a **401**,
a key without ``read`` a **403** and a spent rate limit a **429** with ``Retry-After``, as HTTP answers,
before the query is even read; one GraphQL request counts as one request against the key's limit. A
campaign or boost of another workspace resolves to ``null``, exactly like one that does not exist.

Limits (stated in the schema's description too): a body of at most ``MAX_BODY_BYTES`` (413 past it),
``MAX_TOKENS`` lexical tokens, ``MAX_FIELDS`` fields once fragments are expanded, a depth of ``MAX_DEPTH`` (introspection excluded), ``MAX_ALIASES`` aliases and
a cost of ``MAX_COST``: the estimated number of objects the answer holds plus ``READ_COST`` per read of the
served data (each root field, each campaign's ``daily``), where a field with a page size (``first``, ``limit``,
``top``) multiplies what is under it by that size. Introspection stays on; its nested lists are bounded by
graphql-core's ``MaxIntrospectionDepthRule`` (one of its specified rules)."""

from __future__ import annotations

import inspect
import json
import logging
import typing
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIWebSocketRoute
from graphql import (
    ExecutionResult as GraphQLExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.validation import ValidationContext, ValidationRule
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from strawberry.experimental.pydantic import type as pydantic_type
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.scalars import JSON

from api import overview as overview_route
from api.auth import Principal, require
from api.errors import describe
from api.pagination import MAX_LIMIT
from api.routes import accounts as accounts_route
from api.routes import anomalies as anomalies_route
from api.routes import forecasts as forecasts_route
from api.routes import attribution as attribution_route
from api.routes import boosts as boosts_route
from api.routes import campaigns as campaigns_route
from api.routes import content as content_route
from api.routes import experiments as experiments_route
from api.routes import insights as insights_route
from api.routes import models as models_route
from api.routes import posts as posts_route
from api.routes import optimal_hours as optimal_hours_route
from api.routes import rollups as rollups_route
from api.routes.common import Store
from api.schemas import Anomaly as AnomalyModel
from api.schemas import AnomalyPage as AnomalyPageModel
from api.schemas import AttributionModel, Platform
from api.schemas import Forecast as ForecastModel
from api.schemas import ForecastPage as ForecastPageModel
from api.store import ServingFileInvalid, ServingFileMissing, ServingStore

log = logging.getLogger(__name__)

PATH = "/graphql"  # under /v1
MAX_BODY_BYTES = 64 * 1024
MAX_TOKENS = 2000
MAX_DEPTH = 8
MAX_ALIASES = 30
MAX_COST = 5000
MAX_FIELDS = 2000  # fields of the operations once fragments are expanded (repeated spreads grow exponentially)
PAGE_ARGUMENTS = ("first", "limit", "top")  # a field with one multiplies the cost of what is under it
READ_COST = 10  # a field that reads the served data (each root field, each campaign's daily) costs this per call
NESTED_READS = {("Campaign", "daily")}

DESCRIPTION = f"""Cycle's served data (the REST routes of /v1, same numbers, same key, same workspace scoping).
Authenticate with `Authorization: Bearer cyk_...` or `X-API-Key: cyk_...` (scope `read`): a missing or bad key
is an HTTP 401, a key without `read` a 403, a spent rate limit a 429 with Retry-After (one request per query).
Invalid arguments are errors with REST's 422 messages (`extensions.code` BAD_USER_INPUT); a campaign, boost,
insight or experiment not in the key's workspace is null. Lists page with `first` (REST's `limit`) and `after` (REST's `cursor`:
the previous page's `nextCursor`). Limits: body {MAX_BODY_BYTES // 1024} KiB, {MAX_TOKENS} tokens, {MAX_FIELDS}
fields once fragments are expanded, depth
{MAX_DEPTH}, {MAX_ALIASES} aliases, cost {MAX_COST} (the estimated number of objects in the answer plus {READ_COST} per
read of the data: each root field and each campaign's `daily`; a field with `first`, `limit` or `top` multiplies
what is under it by that number)."""


# -- errors --------------------------------------------------------------------------------------


def _error(message: str, code: str, status: int, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, "status": status, **extensions})


def _describe(error: dict[str, Any], path: str) -> str:
    return describe(error, path)  # the REST 422 wording


def _invalid(errors: list[dict[str, Any]], path: str, names: dict[str, str]) -> GraphQLError:
    """REST's 422 for ``errors`` (pydantic/FastAPI error dicts, loc ``(where, parameter, ...)``) as one
    GraphQL error; ``names`` maps REST parameter names to this field's argument names."""
    details = []
    for error in errors:
        loc = list(error.get("loc") or ())
        parameter = str(loc[1]) if len(loc) > 1 else ""
        details.append({"argument": names.get(parameter, parameter), "msg": _describe(error, path)})
    return _error("; ".join(d["msg"] for d in details), "BAD_USER_INPUT", 422, errors=details)


def _refusal(exc: Exception, path: str, names: dict[str, str]) -> GraphQLError | None:
    """The GraphQL error for what REST answers with an error status; None for anything else (a bug)."""
    if isinstance(exc, RequestValidationError):
        return _invalid(list(exc.errors()), path, names)
    if isinstance(exc, HTTPException):
        return _error(str(exc.detail), "NOT_FOUND" if exc.status_code == 404 else "HTTP_ERROR", exc.status_code)
    if isinstance(exc, ServingFileMissing):
        return _error(str(exc), "NOT_FOUND", 404)
    if isinstance(exc, ServingFileInvalid):
        return _error(str(exc), "SERVICE_UNAVAILABLE", 503)
    return None


def _unexpected(error: GraphQLError) -> bool:
    """An exception a resolver did not turn into an answer: masked ("Unexpected error.") and logged."""
    return error.path is not None and error.original_error is not None and not isinstance(
        error.original_error, GraphQLError
    )


# -- calling the REST handlers --------------------------------------------------------------------


class Context(BaseContext):
    def __init__(self, store: ServingStore, principal: Principal):
        super().__init__()
        self.store = store
        self.principal = principal


def _hints(handler: Callable[..., Any]) -> dict[str, Any]:
    return typing.get_type_hints(handler, include_extras=True)


_ADAPTERS: dict[tuple[Callable[..., Any], str], TypeAdapter[Any]] = {}


def _validated(handler: Callable[..., Any], path: str, names: dict[str, str], args: dict[str, Any]) -> dict[str, Any]:
    """``args`` (REST parameter names) validated by the handler's own parameter types (FastAPI's Query/Path
    constraints included), as FastAPI validates a request; REST's 422 wording when one is invalid."""
    values, errors = {}, []
    for name, value in args.items():
        key = (handler, name)
        if key not in _ADAPTERS:
            _ADAPTERS[key] = TypeAdapter(_hints(handler)[name])
        try:
            values[name] = _ADAPTERS[key].validate_python(value)
        except ValidationError as exc:
            errors += [{**e, "loc": ("query", name, *e["loc"])} for e in exc.errors(include_url=False)]
    if errors:
        raise _invalid(errors, path, names)
    return values


async def _call(
    info: strawberry.Info,
    handler: Callable[..., Any],
    path: str,
    names: dict[str, str] | None = None,
    *,
    missing_is_null: bool = False,
    **args: Any,
) -> Any:
    """The REST handler's answer for ``args`` (REST names; ``names`` maps them to this field's arguments for
    the error messages), run like FastAPI runs a sync route (in the thread pool). ``missing_is_null``: a 404 of
    the handler (no such id in the workspace) resolves to null."""
    names = names or {}
    context: Context = info.context
    values = _validated(handler, path, names, args)
    try:
        return await run_in_threadpool(handler, context.store, context.principal, **values)
    except Exception as exc:
        if missing_is_null and isinstance(exc, HTTPException) and exc.status_code == 404:
            return None
        refusal = _refusal(exc, path, names)
        if refusal is None:
            raise
        raise refusal from None


def _default(handler: Callable[..., Any], name: str) -> Any:
    """The REST parameter's default, so GraphQL's defaults are REST's."""
    return inspect.signature(handler).parameters[name].default


PAGE = {"limit": "first", "cursor": "after"}
DEFAULT_FIRST: int = _default(rollups_route.rollups_daily, "limit")
DEFAULT_TOP: int = _default(optimal_hours_route.optimal_hours, "top")
DEFAULT_TOP_POSTS: int = _default(posts_route.top_posts, "limit")

FirstArg = Annotated[int, strawberry.argument(description=f"Page size, 1..{MAX_LIMIT} (REST's `limit`).")]
AfterArg = Annotated[
    str | None, strawberry.argument(description="`nextCursor` of the previous page (REST's `cursor`); omit for the first.")
]
StartArg = Annotated[str | None, strawberry.argument(description="First day, YYYY-MM-DD (inclusive); omit for no bound.")]
EndArg = Annotated[str | None, strawberry.argument(description="Last day, YYYY-MM-DD (inclusive); omit for no bound.")]
OrganicPlatformArg = Annotated[
    str | None, strawberry.argument(description="Organic platform: linkedin, x, reddit, tiktok; omit for all.")
]
AdPlatformArg = Annotated[
    str | None, strawberry.argument(description="Ad platform: google_ads, meta_ads, linkedin_ads; omit for all.")
]
PlatformArg = Annotated[str | None, strawberry.argument(description="Any platform (organic or ad); omit for all.")]
AccountArg = Annotated[str | None, strawberry.argument(description="One of the workspace's account ids; omit for all.")]


# -- types: the REST response models, camelCased ----------------------------------------------------


def _graphql(model: type[BaseModel], name: str | None = None) -> Callable[[type], type]:
    return pydantic_type(model=model, all_fields=True, name=name or model.__name__, description=(model.__doc__ or None))


def _answer(graphql_type: Any, response: BaseModel | None) -> Any:
    """The GraphQL object of a REST answer, with REST's rounding: the numbers of the JSON REST sends."""
    if response is None:
        return None
    return graphql_type.from_pydantic(type(response).model_validate(response.model_dump()))


strawberry.enum(Platform)
strawberry.enum(AttributionModel)


@_graphql(accounts_route.WorkspaceAccount)
class WorkspaceAccount:
    pass


@_graphql(accounts_route.AccountsResponse, "Accounts")
class Accounts:
    pass


@_graphql(rollups_route.DailyRollup)
class DailyRollup:
    pass


@_graphql(rollups_route.DailyRollupsResponse, "DailyRollups")
class DailyRollups:
    pass


@_graphql(rollups_route.PlatformTotals)
class PlatformTotals:
    pass


@_graphql(rollups_route.PlatformComparisonResponse, "PlatformComparison")
class PlatformComparison:
    pass


@_graphql(overview_route.OverviewMetric)
class OverviewMetric:
    pass


@_graphql(overview_route.AttributedOverview)
class AttributedOverview:
    pass


@_graphql(overview_route.OverviewResponse, "Overview")
class Overview:
    pass


@_graphql(attribution_route.ChannelCredit)
class ChannelCredit:
    pass


@_graphql(attribution_route.AttributionResponse, "Attribution")
class Attribution:
    pass


@_graphql(attribution_route.ModelCredit)
class ModelCredit:
    pass


@_graphql(attribution_route.ChannelComparison)
class ChannelComparison:
    pass


@_graphql(attribution_route.ModelComparisonResponse, "AttributionModels")
class AttributionModels:
    pass


@_graphql(campaigns_route.CampaignDay)
class CampaignDay:
    pass


@_graphql(campaigns_route.CampaignDailyResponse, "CampaignDaily")
class CampaignDaily:
    pass


@_graphql(campaigns_route.CampaignTotals)
class CampaignTotals:
    pass


@_graphql(campaigns_route.Campaign)
class Campaign:
    @strawberry.field(description="The campaign's daily metrics (REST: /v1/campaigns/{platform}/{id}/daily).")
    async def daily(
        self,
        info: strawberry.Info,
        start: StartArg = None,
        end: EndArg = None,
        first: FirstArg = DEFAULT_FIRST,
        after: AfterArg = None,
    ) -> CampaignDaily | None:
        answer = await _call(
            info, campaigns_route.campaign_daily, "/v1/campaigns/{platform}/{campaign_id}/daily", PAGE, missing_is_null=True,
            platform=self.platform, campaign_id=self.campaign_id, start=start, end=end, limit=first, cursor=after,
        )
        return _answer(CampaignDaily, answer)


@_graphql(campaigns_route.CampaignPage)
class CampaignPage:
    pass


@_graphql(posts_route.TopPost)
class TopPost:
    pass


@_graphql(posts_route.TopPostsResponse, "TopPosts")
class TopPosts:
    pass


@_graphql(posts_route.HeatmapCell)
class HeatmapCell:
    pass


@_graphql(posts_route.HeatmapResponse, "Heatmap")
class Heatmap:
    pass


@_graphql(boosts_route.Boost)
class Boost:
    pass


@_graphql(boosts_route.BoostPage)
class BoostPage:
    pass


@_graphql(boosts_route.BoostSplit)
class BoostSplit:
    pass


@_graphql(boosts_route.BoostDetail)
class BoostDetail:
    pass


@_graphql(insights_route.Insight)
class Insight:
    evidence: JSON = strawberry.field(description="Supporting figures (test, means, sample sizes...).")
    scope: str = strawberry.field(description="account, platform, experiment, boosting_accounts, organic_accounts or "
                                  "all_accounts: why it is this account's.")
    severity: str = strawberry.field(description="critical, high, medium or low.")


@_graphql(insights_route.InsightPage)
class InsightPage:
    pass


@_graphql(experiments_route.Variant)
class ExperimentVariant:
    role: str = strawberry.field(description="control or treatment.")


@_graphql(experiments_route.ExperimentAccount)
class ExperimentAccount:
    pass


@_graphql(experiments_route.Experiment)
class Experiment:
    status: str = strawberry.field(description="running, inconclusive or winner.")


@_graphql(experiments_route.ExperimentPage)
class ExperimentPage:
    pass


@_graphql(content_route.HookSuccess)
class HookSuccess:
    pass


@_graphql(content_route.HookSuccessPage)
class HookSuccessPage:
    pass


@_graphql(content_route.ContentDay)
class ContentDay:
    dimension: str = strawberry.field(description="hook_type, media_type or topic.")


@_graphql(content_route.ContentDayPage)
class ContentDayPage:
    pass


_SERIES_ENTITY = "campaign (an always-on campaign) or platform (organic totals)."
_SERIES_METRIC = "spend, clicks, conversions (campaigns); impressions, engagements (platforms)."


@_graphql(AnomalyModel)
class Anomaly:
    entity_type: str = strawberry.field(description=_SERIES_ENTITY)
    metric: str = strawberry.field(description=_SERIES_METRIC)
    kind: str = strawberry.field(description="spend_spike, tracking_outage, ctr_collapse, viral_spike or other.")
    severity: str = strawberry.field(description="medium, high or critical.")


@_graphql(AnomalyPageModel)
class AnomalyPage:
    pass


@_graphql(ForecastModel)
class Forecast:
    entity_type: str = strawberry.field(description=_SERIES_ENTITY)
    metric: str = strawberry.field(description=_SERIES_METRIC)


@_graphql(ForecastPageModel)
class ForecastPage:
    pass


@_graphql(models_route.ModelVersion)
class ModelVersion:
    role: str = strawberry.field(description="champion, challenger (the newest retrain, kept out) or retired.")
    decision: str | None = strawberry.field(description="The promotion gate's decision: promoted or kept.")


@_graphql(models_route.LiveAccuracy)
class LiveAccuracy:
    pass


@_graphql(models_route.DriftColumn)
class DriftColumn:
    pass


@_graphql(models_route.Drift)
class Drift:
    pass


@_graphql(models_route.ModelHealthResponse, "ModelHealth")
class ModelHealth:
    pass


def _acknowledged(info: strawberry.Info, answer: Any) -> Any:
    """REST's reading of insights: the acknowledgements in the API's store applied to the served rows."""
    if answer is None:
        return None
    acks = info.context.request.app.state.insight_acknowledgements
    page = isinstance(answer, insights_route.InsightPage)
    items = answer.items if page else [answer]
    fresh = [insights_route.Insight.model_validate(r) for r in insights_route.overlay([i.model_dump() for i in items], acks)]
    return answer.model_copy(update={"items": fresh}) if page else fresh[0]


@strawberry.type(description="One of the best publishing hours of a platform (a row of REST's /v1/optimal-hours).")
class OptimalHour:
    platform: str
    rank: int = strawberry.field(description="1 = best hour.")
    hour: int = strawberry.field(description="UTC hour of day, 0..23 (REST's publish_hour).")
    expected_engagement: float | None = strawberry.field(
        description="Predicted engagement score, 0..1000 (REST's expected_engagement_score)."
    )
    lift_vs_platform_mean: float | None = strawberry.field(
        description="Expected score / platform mean - 1 (0.12 means 12% above the platform average)."
    )
    model_name: str | None
    model_version: str | None
    generated_at: datetime | None = strawberry.field(description="When the hours were computed (UTC).")


@strawberry.type(description="A platform's best hours and the model that produced them.")
class PlatformOptimalHours:
    platform: str
    model_name: str | None
    model_version: str | None
    generated_at: datetime | None
    hours: list[OptimalHour] = strawberry.field(description="Best hours first.")


def _optimal_hours(response: Any) -> list[PlatformOptimalHours]:
    doc = response.model_dump()  # REST's rounding
    out = []
    for p in doc["platforms"]:
        hours = [
            OptimalHour(
                platform=p["platform"], rank=h["rank"], hour=h["publish_hour"],
                expected_engagement=h["expected_engagement_score"], lift_vs_platform_mean=h["lift_vs_platform_mean"],
                model_name=p["model_name"], model_version=p["model_version"], generated_at=p["generated_at"],
            )
            for h in p["hours"]
        ]
        out.append(PlatformOptimalHours(platform=p["platform"], model_name=p["model_name"],
                                        model_version=p["model_version"], generated_at=p["generated_at"], hours=hours))
    return out


# -- the query type ---------------------------------------------------------------------------------


@strawberry.type(description=DESCRIPTION)
class Query:
    @strawberry.field(description="The best UTC publishing hours, best first per platform (REST: /v1/optimal-hours).")
    async def optimal_hours(
        self,
        info: strawberry.Info,
        platform: OrganicPlatformArg = None,
        top: Annotated[int, strawberry.argument(description="Hours per platform, 1..24.")] = DEFAULT_TOP,
    ) -> list[OptimalHour] | None:
        answer = await _call(info, optimal_hours_route.optimal_hours, "/v1/optimal-hours", platform=platform, top=top)
        return [hour for p in _optimal_hours(answer) for hour in p.hours]

    @strawberry.field(description="The same hours grouped per platform, as REST's /v1/optimal-hours answers them.")
    async def optimal_hours_by_platform(
        self,
        info: strawberry.Info,
        platform: OrganicPlatformArg = None,
        top: Annotated[int, strawberry.argument(description="Hours per platform, 1..24.")] = DEFAULT_TOP,
    ) -> list[PlatformOptimalHours] | None:
        answer = await _call(info, optimal_hours_route.optimal_hours, "/v1/optimal-hours", platform=platform, top=top)
        return _optimal_hours(answer)

    @strawberry.field(description="The key's workspace and its accounts (REST: /v1/accounts).")
    async def accounts(self, info: strawberry.Info) -> Accounts | None:
        return _answer(Accounts, await _call(info, accounts_route.accounts, "/v1/accounts"))

    @strawberry.field(description="The engagement model's retrains, the champion's live accuracy and the newest drift "
                      "day (REST: /v1/models).")
    async def models(self, info: strawberry.Info) -> ModelHealth | None:
        return _answer(ModelHealth, await _call(info, models_route.model_health, "/v1/models"))

    @strawberry.field(description="Daily metrics per platform and channel type (REST: /v1/rollups/daily).")
    async def rollups_daily(
        self,
        info: strawberry.Info,
        platform: PlatformArg = None,
        start: StartArg = None,
        end: EndArg = None,
        first: FirstArg = DEFAULT_FIRST,
        after: AfterArg = None,
    ) -> DailyRollups | None:
        answer = await _call(info, rollups_route.rollups_daily, "/v1/rollups/daily", PAGE,
                             platform=platform, start=start, end=end, limit=first, cursor=after)
        return _answer(DailyRollups, answer)

    @strawberry.field(description="Paid platforms side by side over a window (REST: /v1/platforms/comparison).")
    async def platform_comparison(
        self, info: strawberry.Info, platform: PlatformArg = None, start: StartArg = None, end: EndArg = None
    ) -> PlatformComparison | None:
        answer = await _call(info, rollups_route.platform_comparison, "/v1/platforms/comparison",
                             platform=platform, start=start, end=end)
        return _answer(PlatformComparison, answer)

    @strawberry.field(description="Every overview metric over start..end against the previous window (REST: /v1/overview); "
                      "default: the 7 days ending on the latest day with data.")
    async def overview(self, info: strawberry.Info, start: StartArg = None, end: EndArg = None) -> Overview | None:
        return _answer(Overview, await _call(info, overview_route.overview, "/v1/overview", start=start, end=end))

    @strawberry.field(description="Channel credit under one attribution model (REST: /v1/attribution).")
    async def attribution(
        self,
        info: strawberry.Info,
        model: Annotated[str, strawberry.argument(description="first_touch, last_touch, linear, time_decay, "
                                                  "position_based, markov or shapley.")],
        start: StartArg = None,
        end: EndArg = None,
    ) -> Attribution | None:
        answer = await _call(info, attribution_route.attribution, "/v1/attribution", model=model, start=start, end=end)
        return _answer(Attribution, answer)

    @strawberry.field(description="Every attribution model side by side (REST: /v1/attribution/models).")
    async def attribution_models(self, info: strawberry.Info) -> AttributionModels | None:
        return _answer(AttributionModels, await _call(info, attribution_route.attribution_models, "/v1/attribution/models"))

    @strawberry.field(description="The workspace's ad campaigns with settings and lifetime totals (REST: /v1/campaigns).")
    async def campaigns(
        self, info: strawberry.Info, platform: AdPlatformArg = None, first: FirstArg = DEFAULT_FIRST, after: AfterArg = None
    ) -> CampaignPage | None:
        answer = await _call(info, campaigns_route.list_campaigns, "/v1/campaigns", PAGE,
                             platform=platform, limit=first, cursor=after)
        return _answer(CampaignPage, answer)

    @strawberry.field(description="One campaign; null when the workspace has none of that id "
                      "(REST: /v1/campaigns/{platform}/{id}).")
    async def campaign(
        self,
        info: strawberry.Info,
        platform: Annotated[str, strawberry.argument(description="Ad platform: google_ads, meta_ads, linkedin_ads.")],
        campaign_id: str,
    ) -> Campaign | None:
        answer = await _call(info, campaigns_route.get_campaign, "/v1/campaigns/{platform}/{campaign_id}",
                             {"campaign_id": "campaignId"}, missing_is_null=True,
                             platform=platform, campaign_id=campaign_id)
        return _answer(Campaign, answer)

    @strawberry.field(description="The workspace's best posts by engagement score (REST: /v1/posts/top).")
    async def top_posts(
        self,
        info: strawberry.Info,
        platform: OrganicPlatformArg = None,
        limit: Annotated[int, strawberry.argument(description="How many posts, 1..20.")] = DEFAULT_TOP_POSTS,
    ) -> TopPosts | None:
        answer = await _call(info, posts_route.top_posts, "/v1/posts/top", platform=platform, limit=limit)
        return _answer(TopPosts, answer)

    @strawberry.field(description="Engagement by weekday and UTC hour of publication (REST: /v1/engagement/heatmap).")
    async def heatmap(self, info: strawberry.Info, platform: OrganicPlatformArg = None) -> Heatmap | None:
        return _answer(Heatmap, await _call(info, posts_route.heatmap, "/v1/engagement/heatmap", platform=platform))

    @strawberry.field(description="The workspace's boosted posts and their measured effect (REST: /v1/boosts).")
    async def boosts(
        self,
        info: strawberry.Info,
        platform: OrganicPlatformArg = None,
        status: Annotated[str | None, strawberry.argument(
            description="estimated, no_pre_boost_history, no_flight_data, too_few_comparables or organic_untracked.")] = None,
        first: FirstArg = DEFAULT_FIRST,
        after: AfterArg = None,
    ) -> BoostPage | None:
        answer = await _call(info, boosts_route.list_boosts, "/v1/boosts", PAGE,
                             platform=platform, status=status, limit=first, cursor=after)
        return _answer(BoostPage, answer)

    @strawberry.field(description="One boost with its organic-versus-paid split; null when the workspace has none of "
                      "that id (REST: /v1/boosts/{id}).")
    async def boost(self, info: strawberry.Info, boost_id: str) -> BoostDetail | None:
        answer = await _call(info, boosts_route.get_boost, "/v1/boosts/{boost_id}", {"boost_id": "boostId"},
                             missing_is_null=True, boost_id=boost_id)
        return _answer(BoostDetail, answer)

    @strawberry.field(description="Ranked findings per account of the workspace, with a suggested action and when "
                      "each was acknowledged (REST: /v1/insights).")
    async def insights(
        self,
        info: strawberry.Info,
        platform: PlatformArg = None,
        account: AccountArg = None,
        severity: Annotated[str | None, strawberry.argument(description="critical, high, medium or low.")] = None,
        category: Annotated[str | None, strawberry.argument(
            description="posting_time, posting_day, content, platform, boost_timing, boost_budget, boost_content, "
            "audience, creative, anomaly or warning.")] = None,
        first: FirstArg = DEFAULT_FIRST,
        after: AfterArg = None,
    ) -> InsightPage | None:
        answer = await _call(info, insights_route.list_insights, "/v1/insights", PAGE, platform=platform,
                             account=account, severity=severity, category=category, limit=first, cursor=after)
        return _answer(InsightPage, _acknowledged(info, answer))

    @strawberry.field(description="One insight; null when the workspace has none of that id (REST: /v1/insights/{id}).")
    async def insight(self, info: strawberry.Info, insight_id: str) -> Insight | None:
        answer = await _call(info, insights_route.get_insight, "/v1/insights/{insight_id}",
                             {"insight_id": "insightId"}, missing_is_null=True, insight_id=insight_id)
        return _answer(Insight, _acknowledged(info, answer))

    @strawberry.field(description="The A/B tests run on the workspace's boosts, newest first (REST: /v1/experiments).")
    async def experiments(
        self,
        info: strawberry.Info,
        platform: OrganicPlatformArg = None,
        account: AccountArg = None,
        status: Annotated[str | None, strawberry.argument(description="running, inconclusive or winner.")] = None,
        factor: Annotated[str | None, strawberry.argument(
            description="boost_timing, budget, targeting or creative.")] = None,
        first: FirstArg = DEFAULT_FIRST,
        after: AfterArg = None,
    ) -> ExperimentPage | None:
        answer = await _call(info, experiments_route.list_experiments, "/v1/experiments", PAGE, platform=platform,
                             account=account, status=status, factor=factor, limit=first, cursor=after)
        return _answer(ExperimentPage, answer)

    @strawberry.field(description="One A/B test; null when none of the workspace's accounts boosted during it (REST: "
                      "/v1/experiments/{id}).")
    async def experiment(self, info: strawberry.Info, experiment_id: str) -> Experiment | None:
        answer = await _call(info, experiments_route.get_experiment, "/v1/experiments/{experiment_id}",
                             {"experiment_id": "experimentId"}, missing_is_null=True, experiment_id=experiment_id)
        return _answer(Experiment, answer)

    @strawberry.field(description="Engagement by hook template per account (REST: /v1/content/hooks).")
    async def content_hooks(
        self,
        info: strawberry.Info,
        platform: OrganicPlatformArg = None,
        account: AccountArg = None,
        first: FirstArg = DEFAULT_FIRST,
        after: AfterArg = None,
    ) -> HookSuccessPage | None:
        answer = await _call(info, content_route.hook_success, "/v1/content/hooks", PAGE, platform=platform,
                             account=account, limit=first, cursor=after)
        return _answer(HookSuccessPage, answer)

    @strawberry.field(description="Content performance per day, account and attribute (REST: /v1/content/performance).")
    async def content_performance(
        self,
        info: strawberry.Info,
        platform: OrganicPlatformArg = None,
        account: AccountArg = None,
        dimension: Annotated[str | None, strawberry.argument(description="hook_type, media_type or topic.")] = None,
        start: StartArg = None,
        end: EndArg = None,
        first: FirstArg = DEFAULT_FIRST,
        after: AfterArg = None,
    ) -> ContentDayPage | None:
        answer = await _call(info, content_route.content_performance, "/v1/content/performance", PAGE,
                             platform=platform, account=account, dimension=dimension, start=start, end=end,
                             limit=first, cursor=after)
        return _answer(ContentDayPage, answer)

    @strawberry.field(description="Dated anomalies of the workspace's daily campaign and platform series, latest first "
                      "(REST: /v1/anomalies).")
    async def anomalies(
        self,
        info: strawberry.Info,
        start: StartArg = None,
        end: EndArg = None,
        platform: PlatformArg = None,
        campaign_id: Annotated[str | None, strawberry.argument(description="Only this campaign's series.")] = None,
        metric: Annotated[str | None, strawberry.argument(description=_SERIES_METRIC)] = None,
        kind: Annotated[str | None, strawberry.argument(
            description="spend_spike, tracking_outage, ctr_collapse, viral_spike or other.")] = None,
        min_severity: Annotated[str | None, strawberry.argument(
            description="Only anomalies at least this severe: medium < high < critical.")] = None,
        first: FirstArg = DEFAULT_FIRST,
        after: AfterArg = None,
    ) -> AnomalyPage | None:
        answer = await _call(info, anomalies_route.list_anomalies, "/v1/anomalies",
                             {**PAGE, "campaign_id": "campaignId", "min_severity": "minSeverity"},
                             start=start, end=end, platform=platform, campaign_id=campaign_id, metric=metric,
                             kind=kind, min_severity=min_severity, limit=first, cursor=after)
        return _answer(AnomalyPage, answer)

    @strawberry.field(description="The latest 7-day forecasts of the workspace's daily campaign and platform series, "
                      "with 80% and 95% intervals (REST: /v1/forecasts).")
    async def forecasts(
        self,
        info: strawberry.Info,
        platform: PlatformArg = None,
        campaign_id: Annotated[str | None, strawberry.argument(description="Only this campaign's series.")] = None,
        metric: Annotated[str | None, strawberry.argument(description=_SERIES_METRIC)] = None,
        first: FirstArg = DEFAULT_FIRST,
        after: AfterArg = None,
    ) -> ForecastPage | None:
        answer = await _call(info, forecasts_route.list_forecasts, "/v1/forecasts", {**PAGE, "campaign_id": "campaignId"},
                             platform=platform, campaign_id=campaign_id, metric=metric, limit=first, cursor=after)
        return _answer(ForecastPage, answer)


# -- limits -------------------------------------------------------------------------------------------


def _named_type(graphql_type: Any) -> Any:
    while isinstance(graphql_type, (GraphQLNonNull, GraphQLList)):
        graphql_type = graphql_type.of_type
    return graphql_type


def query_cost(schema: Any, document: Any, operation_name: str | None, variables: dict[str, Any] | None) -> int:
    """The estimated number of objects the operation's answer holds, plus ``READ_COST`` per read of the served
    data: each field with a selection counts once per object it is resolved on (``READ_COST`` times for a root
    field or one of ``NESTED_READS``), and a field with a page size (``PAGE_ARGUMENTS``: a literal, a
    variable's value or the argument's default) multiplies what is under it by that size. Run on a validated
    document (fields known, fragments acyclic, depth bounded)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    operation = next((o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)), None)
    if operation is None:
        return 0
    variables = variables or {}
    defaults = {
        v.variable.name.value: int(v.default_value.value)
        for v in operation.variable_definitions or ()
        if isinstance(v.default_value, IntValueNode)
    }

    def size(node: FieldNode, field: Any) -> int:
        for name in PAGE_ARGUMENTS:
            if field is None or name not in field.args:
                continue
            value: Any = field.args[name].default_value
            for argument in node.arguments or ():
                if argument.name.value != name:
                    continue
                if isinstance(argument.value, IntValueNode):
                    value = int(argument.value.value)
                elif isinstance(argument.value, VariableNode):
                    var = argument.value.name.value
                    value = variables.get(var, defaults.get(var, value))
            if isinstance(value, int) and not isinstance(value, bool):
                return max(1, min(value, MAX_COST + 1))
        return 1

    def cost(selections: SelectionSetNode, parent: Any, objects: int, seen: frozenset[str], depth: int) -> int:
        total = 0
        if depth > MAX_DEPTH * 4:  # validation bounded the depth already; never recurse without bound
            return total
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                fields = parent.fields if isinstance(parent, GraphQLObjectType) else {}
                field = fields.get(name)
                reads = field is not None and (parent is root or (parent.name, name) in NESTED_READS)
                if selection.selection_set is None and not reads:
                    continue
                total += objects * (READ_COST if reads else 1)
                if selection.selection_set is not None:
                    child = _named_type(field.type) if field is not None else None
                    total += cost(selection.selection_set, child, objects * size(selection, field), seen, depth + 1)
            elif isinstance(selection, InlineFragmentNode):
                target = schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                total += cost(selection.selection_set, target, objects, seen, depth + 1)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    target = schema.get_type(fragment.type_condition.name.value)
                    total += cost(fragment.selection_set, target, objects, seen | {name}, depth + 1)
            if total > MAX_COST:
                return total
        return total

    root = schema.query_type if operation.operation.value == "query" else None
    return cost(operation.selection_set, root, 1, frozenset(), 0)


def expanded_fields(document: Any, cap: int = MAX_FIELDS + 1) -> int | None:
    """How many fields the document's operations hold once every fragment spread is expanded (at most ``cap``),
    computed once per fragment; None when a fragment spreads itself. The validation rules (Strawberry's depth
    and alias limits among them) walk that expansion, so it is bounded before they run."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    sizes: dict[str, int] = {}
    cyclic = False

    def size(selections: SelectionSetNode, path: frozenset[str]) -> int:
        nonlocal cyclic
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += 1 + (size(selection.selection_set, path) if selection.selection_set else 0)
            elif isinstance(selection, InlineFragmentNode):
                total += size(selection.selection_set, path)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in path:
                    cyclic = True
                elif name in fragments:  # an unknown one is KnownFragmentNamesRule's to report
                    if name not in sizes:
                        sizes[name] = size(fragments[name].selection_set, path | {name})
                    total += sizes[name]
            if total >= cap or cyclic:
                return min(total, cap)
        return total

    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total = min(cap, total + size(definition.selection_set, frozenset()))
        if cyclic:
            return None
    return total


class QuerySizeLimiter(SchemaExtension):
    """Refuses, before validation, a document of more than ``max_fields`` fields once its fragments are
    expanded, or whose fragments spread themselves."""

    def __init__(self, max_fields: int = MAX_FIELDS):
        self.max_fields = max_fields

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.pre_execution_errors is None:
            fields = expanded_fields(context.graphql_document, self.max_fields + 1)
            if fields is None:
                context.pre_execution_errors = [GraphQLError("A fragment spreads itself (directly or through others).")]
            elif fields > self.max_fields:
                context.pre_execution_errors = [GraphQLError(
                    f"The query holds more than {self.max_fields} fields once its fragments are expanded."
                )]
        yield


class QueryCostLimiter(SchemaExtension):
    """Refuses, before executing anything, an operation whose ``query_cost`` exceeds ``max_cost``."""

    def __init__(self, max_cost: int = MAX_COST):
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            estimate = query_cost(context.schema._schema, context.graphql_document, context.operation_name,
                                  context.variables)
            if estimate > self.max_cost:
                context.result = GraphQLExecutionResult(data=None, errors=[_error(
                    f"The query's cost is over {self.max_cost} (the objects it may return, plus {READ_COST} per read "
                    "of the data; a field with first, limit or top multiplies what is under it): ask for smaller pages "
                    "or fewer nested lists.", "QUERY_TOO_COSTLY", 400, maxCost=self.max_cost,
                )])
        yield


class _DepthLimiter(QueryDepthLimiter):
    """Strawberry's depth limit, which fails with a KeyError on a spread of an unknown fragment: that query
    gets graphql-core's own "Unknown fragment" error instead."""

    def __init__(self, max_depth: int):
        super().__init__(max_depth=max_depth)
        rules = []
        for rule in self.validation_rules:

            class Tolerant(rule):  # type: ignore[valid-type,misc]
                def __init__(self, context: ValidationContext) -> None:
                    try:
                        super().__init__(context)
                    except KeyError:  # KnownFragmentNamesRule reports it
                        ValidationRule.__init__(self, context)

            rules.append(Tolerant)
        self.validation_rules = rules


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Log the unexpected errors (a bug) with their traceback; refusals of a query are the client's."""
        for error in errors:
            if _unexpected(error):
                log.error("GraphQL resolver failed: %s", error.message, exc_info=error.original_error)


_TIMESTAMP = TypeAdapter(datetime)
# timestamps written as REST writes them (pydantic: 2024-05-15T06:01:00Z), not Strawberry's isoformat (+00:00)
DateTime = strawberry.scalar(
    name="DateTime",
    description="A UTC date and time, ISO 8601, written as REST writes it (2024-05-15T06:01:00Z).",
    serialize=lambda value: _TIMESTAMP.dump_python(value, mode="json"),
    parse_value=_TIMESTAMP.validate_python,
)


def build_schema() -> strawberry.Schema:
    schema = _Schema(
        query=Query,
        scalar_overrides={datetime: DateTime},
        extensions=[
            MaxTokensLimiter(max_token_count=MAX_TOKENS),
            QuerySizeLimiter(MAX_FIELDS),  # first: the validation rules walk the expanded fragments
            _DepthLimiter(MAX_DEPTH),
            MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            QueryCostLimiter(MAX_COST),
            MaskErrors(should_mask_error=_unexpected),
        ],
    )
    schema._schema.description = DESCRIPTION
    return schema


schema = build_schema()


# -- HTTP ---------------------------------------------------------------------------------------------


def _json_or_400(text: str | bytes) -> Any:
    """The JSON value of ``text``; None when it is not JSON (Strawberry answers that with a 400 itself), a 400
    when it nests too deeply for the parser (Strawberry's own parse would fail with a 500)."""
    try:
        return json.loads(text)
    except ValueError:
        return None
    except RecursionError:
        raise HTTPException(status_code=400, detail="The request's JSON is nested too deeply.") from None


async def _bounded_request(request: Request) -> None:
    """Read the body (after the key was checked), 413 past ``MAX_BODY_BYTES``; the handler then reads it
    from Starlette's cache. JSON that Strawberry would fail on (a 500) is a 400."""
    too_large = HTTPException(status_code=413, detail=f"The GraphQL request is larger than {MAX_BODY_BYTES} bytes.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    if request.method != "POST":
        for name in ("variables", "extensions"):  # GET: JSON in the query string
            if name in request.query_params:
                _json_or_400(request.query_params[name])
        return
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    request._body = body = b"".join(chunks)  # what Request.body() caches
    if "json" in request.headers.get("content-type", "") and body:
        doc = _json_or_400(body)
        if doc is not None and not isinstance(doc, (dict, list)):  # Strawberry fails on any other JSON value
            raise HTTPException(
                status_code=400, detail='The body must be a JSON object: {"query": "...", "variables": {...}}.'
            )


async def _context(
    request: Request, principal: Annotated[Principal, Depends(require("read"))], store: Store
) -> Context:
    """REST's authentication (401/403/429 as HTTP answers), then the bounded body."""
    await _bounded_request(request)
    return Context(store, principal)


def graphql_router() -> GraphQLRouter:
    """The GraphQL endpoint (POST, and GET for queries), without GraphiQL (a browser cannot send the key) and
    without subscriptions (no websocket route)."""
    router: GraphQLRouter = GraphQLRouter(
        schema, path=PATH, graphql_ide=None, context_getter=_context, subscription_protocols=(),
    )
    router.routes[:] = [r for r in router.routes if not isinstance(r, APIWebSocketRoute)]
    return router


def install(app: FastAPI, prefix: str = "/v1") -> None:
    """Mount ``/v1/graphql`` on ``app``, outside the OpenAPI schema (GraphQL describes itself)."""
    app.include_router(graphql_router(), prefix=prefix, include_in_schema=False)


__all__ = ["install", "graphql_router", "query_cost", "schema"]
