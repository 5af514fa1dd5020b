"""The quality gate: nothing reaches users from data whose blocking checks failed.

What users see (the champion model, its recommendations, the served snapshot) is computed only when every
ERROR-severity check on the asset's ancestors passed at its latest evaluation (of a check scoped to partitions,
the raw data checks, each partition's latest evaluation). Within one run, blocking
checks already stop downstream steps; the gate also covers what runs later on its own (a retrain, the
automation sensor following a partly built dbt step, the next daily run over history that still fails).

A closed gate fails the asset's step with the failing checks in its metadata, so the champion, the
recommendations and the served files stay as they were; the serving asset also publishes the gate's state
(``contracts.serving.QUALITY_GATE``), which the API's ``/health`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecord,
    AssetCheckExecutionRecordStatus,
)


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    check: str
    run_id: str
    partition: str | None

    def __str__(self) -> str:
        where = f" ({self.partition})" if self.partition else ""
        return f"{self.asset}.{self.check}{where}, run {self.run_id[:8]}"


GATED = ("engagement_model", "ml_posting_slots", "serving_snapshot")


class QualityGateResource(dg.ConfigurableResource):
    """Which checks stand before each gated asset: the checks of all its ancestors, taken from the whole
    asset graph when the definitions are built (a run of one job only knows that job's assets)."""

    checks_by_asset: dict[str, list[list[str]]] = {}  # asset -> [[checked asset, check name], ...]

    @classmethod
    def for_graph(cls, graph, gated: tuple[str, ...] = GATED) -> QualityGateResource:
        checks = {}
        for name in gated:
            ancestors = graph.get_ancestor_asset_keys(dg.AssetKey(name))
            keys = graph.get_check_keys_for_assets(ancestors)
            checks[name] = sorted([k.asset_key.to_user_string(), k.name] for k in keys)
        return cls(checks_by_asset=checks)

    def failed_checks(self, instance: dg.DagsterInstance, asset: dg.AssetKey) -> list[FailedCheck]:
        """ERROR-severity checks upstream of ``asset`` whose latest evaluation failed: of a partitioned check
        (the raw tables' data checks), the latest evaluation of each partition."""
        keys = [
            dg.AssetCheckKey(dg.AssetKey.from_user_string(a), c)
            for a, c in self.checks_by_asset.get(asset.to_user_string(), [])
        ]
        failed = []
        for check_key, record in latest_failures(instance, keys) if keys else []:
            if record.event is None:
                continue
            evaluation = record.event.dagster_event.event_specific_data if record.event.dagster_event else None
            if evaluation is not None and evaluation.severity != dg.AssetCheckSeverity.ERROR:
                continue  # a warning informs, it does not block
            partition = record.partition or (getattr(evaluation, "partition", None) if evaluation is not None else None)
            failed.append(FailedCheck(check_key.asset_key.to_user_string(), check_key.name, record.run_id, partition))
        return failed

    def require_open(self, context: dg.AssetExecutionContext, what: str, key: dg.AssetKey | None = None) -> None:
        """Fail the step, leaving what users see unchanged, when a blocking check upstream failed (``key``: the
        gated asset of a multi-asset step)."""
        failed = self.failed_checks(context.instance, key or context.asset_key)
        if failed:
            raise gate_failure(failed, what)


def gate_failure(failed: list[FailedCheck], what: str) -> dg.Failure:
    return dg.Failure(
        description=f"Quality gate closed: {len(failed)} blocking check(s) upstream failed at their latest "
        f"evaluation, so {what}. Fix the data and re-run the failing partitions; the gate opens when they pass.",
        metadata={
            "quality_gate": "failed",
            "failed_checks": dg.MetadataValue.json([str(f) for f in failed[:50]]),
            "failed_check_count": len(failed),
        },
    )


_EVALUATED = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}


def _latest_evaluated(
    storage, key: dg.AssetCheckKey, record: AssetCheckExecutionRecord, partition: str | None
) -> AssetCheckExecutionRecord | None:
    """``record`` if it is an evaluation; else (a run planned the check and has not evaluated it: still running,
    or it stopped before the check) the evaluation before it, which stays the latest until a run evaluates."""
    if record.status in _EVALUATED:
        return record
    earlier = storage.get_asset_check_execution_history(
        key, limit=1, status=_EVALUATED, partition_filter=PartitionKeyFilter(key=partition)
    )
    return earlier[0] if earlier else None


def latest_failures(
    instance: dg.DagsterInstance, keys: list[dg.AssetCheckKey]
) -> list[tuple[dg.AssetCheckKey, AssetCheckExecutionRecord]]:
    """The checks of ``keys`` whose latest evaluation failed, any severity, each with that evaluation; a
    partitioned check once per partition whose latest evaluation failed. Sorted by check and partition. One
    query finds each check's latest record; only the checks whose latest record is a partition's (the raw data
    checks) are read per partition. A result recorded before a check was partitioned (one per run, without a
    partition) is superseded by its first per-partition results."""
    storage = instance.event_log_storage
    latest = storage.get_latest_asset_check_execution_by_key(keys)
    out = []
    for key in sorted(latest, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        record = latest[key]
        if record.partition is None:
            evaluated = _latest_evaluated(storage, key, record, None)
            if evaluated is not None and evaluated.status == AssetCheckExecutionRecordStatus.FAILED:
                out.append((key, evaluated))
            continue
        infos = sorted(
            (i for i in storage.get_asset_check_partition_info([key]) if i.partition_key is not None),
            key=lambda i: i.partition_key,
        )
        for info in infos:
            if info.latest_execution_status == AssetCheckExecutionRecordStatus.SUCCEEDED:
                continue  # passed: nothing more to read
            (current,) = storage.get_asset_check_execution_history(
                key, limit=1, partition_filter=PartitionKeyFilter(key=info.partition_key)
            )
            evaluated = _latest_evaluated(storage, key, current, info.partition_key)
            if evaluated is not None and evaluated.status == AssetCheckExecutionRecordStatus.FAILED:
                out.append((key, evaluated))
    return out
