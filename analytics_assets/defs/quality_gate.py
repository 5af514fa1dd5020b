"""The quality gate: nothing reaches users from data whose blocking checks failed.

What users see (the champion model, its recommendations, the served snapshot) is computed only when every
ERROR-severity check on the asset's ancestors passed at its latest evaluation. Within one run, blocking
checks already stop downstream steps; the gate also covers what runs later on its own (a retrain, the
automation sensor following a partly built dbt step, the next daily run over history that still fails).

A closed gate fails the asset's step with the failing checks in its metadata, so the champion, the
recommendations and the served files stay as they were; the serving asset also publishes the gate's state
(``contracts.serving.QUALITY_GATE``), which the API's ``/health`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus


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
        """ERROR-severity checks upstream of ``asset`` whose latest evaluation failed."""
        keys = [
            dg.AssetCheckKey(dg.AssetKey.from_user_string(a), c)
            for a, c in self.checks_by_asset.get(asset.to_user_string(), [])
        ]
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys) if keys else {}
        failed = []
        for check_key, record in sorted(latest.items(), key=lambda kv: (kv[0].asset_key.to_user_string(), kv[0].name)):
            if record.status != AssetCheckExecutionRecordStatus.FAILED or record.event is None:
                continue
            evaluation = record.event.dagster_event.event_specific_data if record.event.dagster_event else None
            if evaluation is not None and evaluation.severity != dg.AssetCheckSeverity.ERROR:
                continue  # a warning informs, it does not block
            partition = getattr(evaluation, "partition", None) if evaluation is not None else None
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
