"""The closed loop run in the simulator, week by week, through the real graph: recommend -> act -> measure -> retrain.

Each week of simulated time:
1. act: the simulated account reads the open recommendations of the week (the published serving snapshot, or the
   API through a client with a key), applies a share of them and dismisses another (``closed_loop.act``: the
   posts it will publish go to the actions log, each applied decision names its post), and records the decisions
   where the API records them (its inbound store);
2. the decisions are ingested: ``recommendation_feedback_sensor`` is ticked and its job run
   (raw -> ``fct_recommendations`` -> the served status);
3. the week's partitions run through ``full_pipeline_job`` (what ``cycle backfill`` runs): the simulator
   publishes the followed posts, dbt measures the outcomes of the recommendations whose posts are 7 days old,
   ``engagement_model`` retrains through governance (a challenger, promoted only when it beats the champion),
   and the posting policy plans the next week from the champion.

On a fresh home the first week has nothing to act on (no model yet): it is the history the first plan rests on. Everything is
keyed by stable ids (recommendations, decisions, the log's days, partitions), so rerunning a week, or the whole
loop on the same ``CYCLE_HOME``, duplicates nothing. ``simulated_loop_job`` runs it from the UI; ``cycle loop``
from the command line.
"""


import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import dagster as dg
import duckdb
import pandas as pd

from analytics_assets.contracts.inbound import FeedbackRecord, FeedbackStore, new_feedback_id
from analytics_assets.sources.simulator import SimulatorConfig, closed_loop
from analytics_assets.sources.simulator import ground_truth as gt

WEEK_JOB = "full_pipeline_job"
FEEDBACK_SENSOR = "recommendation_feedback_sensor"
LOOP_WORKSPACE = "simulated_account"  # who decides, in the decisions the store keeps when no API key is used


@dataclass(frozen=True)
class LoopSettings:
    """What a loop simulates. Kept beside the actions log: a rerun on the same home must simulate the same world."""

    start: date
    weeks: int
    seed: int = 7
    posts_per_day: int = 240
    adoption: float = 0.5
    dismissal: float = 0.0
    shift_week: int | None = None  # the week (1-based) from whose first day every peak hour moves
    shift_hours: int = 4

    def __post_init__(self) -> None:
        if self.weeks < 1:
            raise ValueError(f"weeks must be at least 1, got {self.weeks}")
        if self.shift_week is not None and not 1 <= self.shift_week <= self.weeks:
            raise ValueError(f"shift_week must be one of the loop's weeks (1..{self.weeks}), got {self.shift_week}")

    def week_days(self, week: int) -> tuple[date, date]:
        first = self.start + timedelta(days=7 * (week - 1))
        return first, first + timedelta(days=6)

    @property
    def peak_shift_start(self) -> date | None:
        return self.week_days(self.shift_week)[0] if self.shift_week else None

    def simulator_config(self, actions_dir: Path) -> SimulatorConfig:
        return SimulatorConfig(
            seed=self.seed,
            posts_per_day=self.posts_per_day,
            adoption=self.adoption,
            dismissal=self.dismissal,
            actions_dir=str(actions_dir),
            peak_shift_hours=self.shift_hours if self.shift_week else 0,
            peak_shift_start=self.peak_shift_start,
        )

    def simulator_resource_config(self, actions_dir: Path) -> dict[str, Any]:
        """The simulator resource's config for the loop's runs (the other simulator settings keep their values)."""
        return {
            "seed": self.seed,
            "posts_per_day": self.posts_per_day,
            "adoption": self.adoption,
            "dismissal": self.dismissal,
            "actions_dir": str(actions_dir),
            "peak_shift_hours": self.shift_hours if self.shift_week else 0,
            "peak_shift_start": self.peak_shift_start.isoformat() if self.peak_shift_start else None,
        }


def state_path(actions_dir: Path) -> Path:
    return actions_dir.parent / "loop.json"


def remember(settings: LoopSettings, actions_dir: Path) -> LoopSettings:
    """Record the loop's world beside its log, or refuse one that differs from the recorded one (but for the
    number of weeks, which a rerun may extend): the log only reproduces the world it was written in."""
    path = state_path(actions_dir)
    mine = {k: v for k, v in asdict(settings).items() if k != "weeks"}
    mine["start"] = settings.start.isoformat()
    if path.exists():
        recorded = json.loads(path.read_text())
        if recorded != mine:
            diff = {k: (recorded.get(k), v) for k, v in mine.items() if recorded.get(k) != v}
            raise ValueError(
                f"this home already holds a simulated loop with other settings ({path}): "
                + ", ".join(f"{k} {a} (recorded) vs {b}" for k, (a, b) in diff.items())
                + ". Use a new CYCLE_HOME, or the recorded settings."
            )
        return settings
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mine, indent=2, sort_keys=True))
    return settings


def recorded_start(actions_dir: Path) -> date | None:
    path = state_path(actions_dir)
    return date.fromisoformat(json.loads(path.read_text())["start"]) if path.exists() else None


# ------------------------------------------------------------------------------------------- the account's side


class Recommendations(Protocol):
    """Where the simulated account reads open recommendations and records its decisions."""

    def open_recommendations(self, now: datetime) -> pd.DataFrame: ...

    def decide(self, recommendation_id: str, decision: str, applied_post_id: str | None, now: datetime) -> str: ...


class ApiRecommendations:
    """Through the API's routes, with a key: ``GET /v1/recommendations?status=open`` and ``POST .../apply`` or
    ``.../dismiss``. ``client`` is an httpx-style client holding the key (``api.local.local_client`` in-process,
    whose clock must be the simulated week's)."""

    def __init__(self, client: Any, page_size: int = 1000):
        self.client = client
        self.page_size = page_size

    def open_recommendations(self, now: datetime) -> pd.DataFrame:  # noqa: ARG002 (the API's clock decides)
        items, cursor = [], None
        while True:
            params = {"status": "open", "limit": self.page_size, **({"cursor": cursor} if cursor else {})}
            answer = self.client.get("/v1/recommendations", params=params)
            if answer.status_code != 200:
                raise RuntimeError(f"GET /v1/recommendations answered {answer.status_code}: {answer.text[:500]}")
            body = answer.json()
            items += body["items"]
            cursor = body.get("next_cursor")
            if not cursor:
                return _recommendation_frame(pd.DataFrame(items))

    def decide(self, recommendation_id: str, decision: str, applied_post_id: str | None, now: datetime) -> str:  # noqa: ARG002
        body = {"reason": "simulated account"}
        if decision == "apply" and applied_post_id:
            body["applied_post_id"] = applied_post_id
        answer = self.client.post(f"/v1/recommendations/{recommendation_id}/{decision}", json=body)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"POST {decision} {recommendation_id} answered {answer.status_code}: {answer.text[:500]}")
        return "recorded" if answer.status_code == 201 else "already recorded"


class StoreRecommendations:
    """The published serving snapshot and the API's inbound store, read and written as the API does: for a
    simulated week in the past, which an API running on the wall clock would call expired."""

    def __init__(self, serving_dir: Path, store_path: Path):
        self.serving_dir = Path(serving_dir)
        self.store = FeedbackStore(store_path)
        self._served: pd.DataFrame | None = None

    def open_recommendations(self, now: datetime) -> pd.DataFrame:
        path = self.serving_dir / "recommendations.parquet"
        if not path.exists():
            return _recommendation_frame(pd.DataFrame())
        served = pd.read_parquet(path)
        decided = self.store.decisions(served["recommendation_id"].tolist())
        # open at the simulated ``now`` as the API decides it (api.routes.feedback.current_status): no decision, not
        # superseded, not expired by then (the snapshot's own status is as of its publication, on the wall clock)
        open_ = served[
            ~served["status"].isin(["applied", "dismissed", "superseded"])
            & served["superseded_at"].isna()
            & (pd.to_datetime(served["expires_at"], utc=True).dt.tz_convert(None) > pd.Timestamp(now))
            & ~served["recommendation_id"].isin(decided)
        ]
        self._served = served.set_index("recommendation_id")
        return _recommendation_frame(open_)

    def decide(self, recommendation_id: str, decision: str, applied_post_id: str | None, now: datetime) -> str:
        row = self._served.loc[recommendation_id] if self._served is not None else None
        _, created = self.store.record(
            FeedbackRecord(
                feedback_id=new_feedback_id(),
                recommendation_id=recommendation_id,
                decision=decision,
                received_at=now,
                platform=None if row is None else row["platform"],
                account_id=None if row is None else row["account_id"],
                workspace_id=LOOP_WORKSPACE,
                reason="simulated account",
                applied_post_id=applied_post_id if decision == "apply" else None,
            )
        )
        return "recorded" if created else "already recorded"


def _recommendation_frame(frame: pd.DataFrame) -> pd.DataFrame:
    # what act reads (a boost's post is its target)
    columns = ["recommendation_id", "kind", "platform", "account_id", "target_id", "action_fields", "slot_start"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    # naive UTC, as the warehouse keeps it (the API answers with an offset)
    return frame[columns].assign(slot_start=pd.to_datetime(frame["slot_start"], utc=True).dt.tz_convert(None))


# ----------------------------------------------------------------------------------------------------- a week


@dataclass
class WeekReport:
    week: int
    start: date
    end: date
    open_recommendations: int = 0
    applied: int = 0
    dismissed: int = 0
    applied_posts: int = 0
    applied_mean_engagement: float | None = None
    other_posts: int = 0
    other_mean_engagement: float | None = None
    measured_outcomes: int = 0
    interval_coverage: float | None = None
    champion_version: str | None = None
    promotion: str | None = None
    best_hours: dict[str, int] | None = None  # the served top hour per platform after the week
    planted_hours: dict[str, int] | None = None  # the planted peak per platform during the week
    not_actionable: dict[str, int] | None = None  # open recommendations of kinds the account cannot follow
    conflicts: int = 0  # applied recommendations whose post another one had taken (or, a boost, was boosted already)
    applied_boosts: int = 0  # of ``applied``, the boosts the simulator delivers (their posts were published before)

    @property
    def applied_share(self) -> float | None:
        return self.applied / self.open_recommendations if self.open_recommendations else None


def act(
    settings: LoopSettings, actions_dir: Path, gateway: Recommendations, week: int, report: WeekReport
) -> None:
    """The account's decisions on the week's open recommendations it can follow (slots, content, boosts), logged
    and recorded."""
    first, last = settings.week_days(week)
    now = datetime.combine(first, time())
    recs = gateway.open_recommendations(now)
    # the day the account acts on each (None: one it cannot follow, e.g. a boost of a post off LinkedIn)
    days = pd.Series([closed_loop.action_day(r) for r in recs.to_dict("records")], index=recs.index, dtype=object)
    actionable = days.notna()
    report.not_actionable = recs.loc[~actionable, "kind"].value_counts().to_dict()
    in_week = recs[actionable & days.map(lambda d: d is not None and first <= d <= last)]
    report.open_recommendations = len(in_week)
    if in_week.empty:
        return
    acted = closed_loop.act(settings.simulator_config(actions_dir), in_week)
    report.conflicts = len(acted.conflicts)
    for d in acted.decisions:
        gateway.decide(d["recommendation_id"], d["decision"], d["applied_post_id"], now)
    report.applied = sum(d["decision"] == "apply" for d in acted.decisions)
    boosts = set(in_week.loc[in_week["kind"] == "boost", "recommendation_id"])
    report.applied_boosts = sum(d["decision"] == "apply" and d["recommendation_id"] in boosts for d in acted.decisions)
    report.dismissed = sum(d["decision"] == "dismiss" for d in acted.decisions)


def ingest_decisions(
    instance: dg.DagsterInstance, resolve_job: Callable[[str], dg.JobDefinition], sensor: dg.SensorDefinition,
    resources: dict[str, Any], run_config: dict[str, Any],
) -> bool:
    """Tick the feedback sensor; run the job it asks for (False when it had nothing to load)."""
    with dg.build_sensor_context(instance=instance, resources={"webhook_store": resources["webhook_store"]}) as context:
        request = sensor(context)
    if not isinstance(request, dg.RunRequest):
        return False
    run = resolve_job(sensor.job_name).execute_in_process(
        instance=instance, tags=request.tags, run_config=run_config, raise_on_error=False
    )
    if not run.success:
        raise dg.Failure(f"{sensor.job_name} failed (run {run.run_id})")
    return True


def run_week(
    instance: dg.DagsterInstance, resolve_job: Callable[[str], dg.JobDefinition], first: date, last: date,
    run_config: dict[str, Any],
) -> dg.ExecuteInProcessResult:
    result = resolve_job(WEEK_JOB).execute_in_process(
        instance=instance,
        run_config=run_config,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
            "cycle/launched_by": "cycle loop",
        },
        raise_on_error=False,
    )
    if not result.success:
        failures = [str(e.event_specific_data.error.message).strip() for e in result.all_events if e.is_step_failure]
        raise dg.Failure(f"{WEEK_JOB} {first}..{last} failed (run {result.run_id}): " + " | ".join(failures)[:2000])
    return result


def measure(warehouse: Path, report: WeekReport, settings: LoopSettings) -> None:
    """The week's figures from the warehouse: engagement of the posts published for an applied recommendation
    against the others of the week (the same age), interval coverage of every outcome measured so far, and the
    served best hours."""
    con = duckdb.connect(str(warehouse), read_only=True, config={"threads": 1})
    try:
        posts = con.execute(
            """
            select p.post_id, p.engagement_score, r.recommendation_id is not null as applied
            from main.dim_post p
            left join main.fct_recommendations r
                on r.status = 'applied' and r.applied_post_id = p.post_id and r.platform = p.platform
                -- a boost's post was published before the advice, as the account chose: not one published for it
                and r.kind <> 'boost'
            where p.published_date between ? and ?
            """,
            [report.start, report.end],
        ).df()
        outcomes = con.execute(
            "select inside_interval from main.fct_recommendation_outcomes where outcome_status = 'measured'"
        ).df()
        hours = con.execute("select platform, publish_hour from ml.posting_hour_recommendations where rank = 1").df()
    finally:
        con.close()
    applied, other = posts[posts["applied"]], posts[~posts["applied"]]
    report.applied_posts, report.other_posts = len(applied), len(other)
    report.applied_mean_engagement = float(applied["engagement_score"].mean()) if len(applied) else None
    report.other_mean_engagement = float(other["engagement_score"].mean()) if len(other) else None
    report.measured_outcomes = len(outcomes)
    report.interval_coverage = float(outcomes["inside_interval"].mean()) if len(outcomes) else None
    report.best_hours = {r.platform: int(r.publish_hour) for r in hours.itertuples()}
    config = settings.simulator_config(Path("."))
    report.planted_hours = {p: closed_loop.planted_best_hour(config, p, report.start) for p in gt.ORGANIC_PLATFORMS}


def has_plan(warehouse: Path) -> bool:
    """Whether the posting policy has planned anything yet (a fresh home's first week has no model to plan with)."""
    if not warehouse.exists():
        return False
    con = duckdb.connect(str(warehouse), read_only=True, config={"threads": 1})
    try:
        return bool(con.execute(
            "select count(*) from information_schema.tables where table_schema = 'ml' and table_name = 'ml_recommendations'"
        ).fetchone()[0])
    finally:
        con.close()


def run_loop(
    settings: LoopSettings,
    *,
    instance: dg.DagsterInstance,
    resolve_job: Callable[[str], dg.JobDefinition],
    feedback_sensor: dg.SensorDefinition,
    resources: dict[str, Any],
    actions_dir: Path,
    warehouse: Path,
    gateway: Callable[[int], Recommendations],
    weeks: list[int] | None = None,
    echo: Callable[[WeekReport], None] = lambda report: None,
) -> list[WeekReport]:
    """Run the loop's ``weeks`` (default all) in order; ``gateway(week)`` gives where that week's account reads
    and decides (an API client's clock is the week's first day)."""
    remember(settings, actions_dir)
    run_config = {"resources": {"simulator": {"config": settings.simulator_resource_config(actions_dir)}}}
    reports = []
    for week in weeks or range(1, settings.weeks + 1):
        first, last = settings.week_days(week)
        report = WeekReport(week=week, start=first, end=last)
        if has_plan(warehouse):
            act(settings, actions_dir, gateway(week), week, report)
            ingest_decisions(instance, resolve_job, feedback_sensor, resources, run_config)
        result = run_week(instance, resolve_job, first, last, run_config)
        model = result.asset_materializations_for_node("engagement_model")
        if model:
            meta = model[-1].metadata
            report.champion_version = str(meta["model_version"].value) if "model_version" in meta else None
            report.promotion = str(meta["promotion"].value) if "promotion" in meta else None
        measure(warehouse, report, settings)
        echo(report)
        reports.append(report)
    return reports


# ------------------------------------------------------------------------------------------- the Dagster job


class SimulatedLoopConfig(dg.Config):
    weeks: int = 8
    adoption: float = 0.5
    dismissal: float = 0.0
    shift_week: int | None = None
    shift_hours: int = 4
    start: str | None = None  # ISO day of the first week; default: the loop ends with the last complete day


@dg.op(required_resource_keys={"webhook_store", "simulator", "warehouse", "serving"})
def simulated_loop(context: dg.OpExecutionContext, config: SimulatedLoopConfig) -> dg.Output:
    """Run the closed loop in the simulator: the graph's own jobs, one week after another (see the module)."""
    simulator = context.resources.simulator
    if simulator.is_live:  # the loop acts as the simulated account: it has nothing to act on in live mode
        raise dg.Failure("the simulated loop runs in simulator source mode only (CYCLE_SOURCE_MODE=live is set)")
    if not simulator.actions_dir:
        raise dg.Failure("the simulator resource has no actions_dir: the simulated account needs its actions log")
    actions_dir = Path(simulator.actions_dir)
    last = datetime.now(timezone.utc).date() - timedelta(days=1)
    start = (
        date.fromisoformat(config.start)
        if config.start
        else recorded_start(actions_dir) or last - timedelta(days=7 * config.weeks - 1)
    )
    settings = LoopSettings(
        start=start, weeks=config.weeks, seed=simulator.seed, posts_per_day=simulator.posts_per_day,
        adoption=config.adoption, dismissal=config.dismissal, shift_week=config.shift_week,
        shift_hours=config.shift_hours,
    )
    repository = context.repository_def
    reports = run_loop(
        settings,
        instance=context.instance,
        resolve_job=repository.get_job,
        feedback_sensor=repository.get_sensor_def(FEEDBACK_SENSOR),
        resources={"webhook_store": context.resources.webhook_store},
        actions_dir=actions_dir,
        warehouse=Path(context.resources.warehouse.path),
        gateway=lambda week: StoreRecommendations(context.resources.serving.path, Path(context.resources.webhook_store.path)),
        echo=lambda report: context.log.info(format_week(report)),
    )
    return dg.Output(
        len(reports),
        metadata={"weeks": len(reports), "table": dg.MetadataValue.md(format_table(reports))},
    )


@dg.job(
    description="The closed loop in the simulator, week by week through the real graph: the simulated account "
    "applies a share of the open recommendations, the week's partitions run (measure, retrain through governance, "
    "recommend), and the figures are logged. Runs other jobs in this instance; `cycle loop` is the same from the CLI.",
)
def simulated_loop_job():
    simulated_loop()


# ------------------------------------------------------------------------------------------------- printing


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_week(r: WeekReport) -> str:
    return (
        f"week {r.week} ({r.start}..{r.end}): applied {r.applied}/{r.open_recommendations}"
        f" ({_num(r.applied_share, '.0%')}; {r.applied_boosts} boosts), engagement applied"
        f" {_num(r.applied_mean_engagement, '.1f')} (n={r.applied_posts}) vs others {_num(r.other_mean_engagement, '.1f')} (n={r.other_posts}),"
        f" coverage {_num(r.interval_coverage, '.1%')} of {r.measured_outcomes} measured,"
        f" champion v{r.champion_version or '-'} ({r.promotion or '-'})"
    )


def format_table(reports: list[WeekReport]) -> str:
    lines = [
        "| week | days | applied | applied posts: mean engagement | other posts: mean engagement | "
        "interval coverage (measured) | champion | promotion | served best hours | planted peaks |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        hours = " ".join(f"{p[:2]}{h:02d}" for p, h in sorted((r.best_hours or {}).items()))
        planted = " ".join(f"{p[:2]}{h:02d}" for p, h in sorted((r.planted_hours or {}).items()))
        lines.append(
            f"| {r.week} | {r.start:%m-%d}..{r.end:%m-%d} | {r.applied}/{r.open_recommendations}"
            f" ({_num(r.applied_share, '.0%')}) | {_num(r.applied_mean_engagement, '.1f')} (n={r.applied_posts})"
            f" | {_num(r.other_mean_engagement, '.1f')} (n={r.other_posts}) | {_num(r.interval_coverage, '.1%')}"
            f" ({r.measured_outcomes}) | v{r.champion_version or '-'} | {r.promotion or '-'} | {hours} | {planted} |"
        )
    return "\n".join(lines)
