"""``cycle privacy erase|export|status``: GDPR requests for operators, the same as the API's admin routes.

A request names one pseudonymous user id within a workspace's web properties (its ``web`` accounts, ``cycle
workspaces add-account WS --platform web --account-id PROPERTY``) and lands in the API's store, where
``privacy_requests_sensor`` picks it up (and, for an erasure, ``privacy_rebuild_sensor`` then rebuilds what was
built from the erased rows); ``--run`` carries it out at once in this process instead, rebuild included: the same
two jobs, run one after the other and waited for, recorded in the Dagster instance like any run.
"""

from __future__ import annotations

import argparse
import json

from analytics_assets.contracts.access import DEFAULT_WORKSPACE, AccessRegistry
from analytics_assets.contracts.inbound import PrivacyRequest, PrivacyRequestStore
from analytics_assets.contracts.privacy import WEB_PLATFORM, check_request_id, check_user_id
from analytics_assets.settings import load_settings


def add_arguments(sub: argparse._SubParsersAction) -> None:
    privacy = sub.add_parser("privacy", help="GDPR: export or erase one tracked person's data").add_subparsers(
        dest="action", required=True
    )
    for name, text in (("erase", "erase every row of the person, for good"), ("export", "write every row of the person to a JSON file")):
        p = privacy.add_parser(name, help=text)
        p.add_argument("--user-id", required=True, help="the person's pseudonymous id (the tracker's anonymous_id)")
        p.add_argument("--workspace", default=DEFAULT_WORKSPACE, help="whose web properties (default: %(default)s)")
        p.add_argument("--run", action="store_true", help="carry it out now, in this process (else the sensor does)")
    st = privacy.add_parser("status", help="a request's status (what was removed or exported, where the export lies)")
    st.add_argument("request_id")


def _describe(request: PrivacyRequest) -> str:
    return json.dumps(
        {
            "request_id": request.request_id,
            "kind": request.kind,
            "status": request.status,
            "workspace": request.workspace_id,
            "property_ids": list(request.property_ids),
            "requested_at": request.requested_at.isoformat(),
            "status_at": None if request.status_at is None else request.status_at.isoformat(),
            "detail": request.detail,
            "export_path": request.export_path,
        },
        indent=2,
        default=str,
    )


def _carry_out(store: PrivacyRequestStore, request_id: str) -> bool:
    """``privacy_request_job`` for the request, then (a done erasure with something to rebuild) the run of
    ``privacy_rebuild_job`` that ``privacy_rebuild_sensor`` would request; whether both succeeded."""
    import dagster as dg

    from analytics_assets.cli import ensure_dagster_home
    from analytics_assets.definitions import build_defs
    from analytics_assets.defs.privacy.rebuild import rebuild_run_request
    from analytics_assets.defs.privacy.requests import run_config

    ensure_dagster_home()
    instance = dg.DagsterInstance.get()
    defs = build_defs()  # the resources of the settings as they are now (the warehouse, the served files)
    result = defs.resolve_job_def("privacy_request_job").execute_in_process(
        run_config=run_config(request_id), instance=instance, raise_on_error=False, tags={"cycle/trigger": "cli"},
    )
    if not result.success:
        return False
    done = store.get(request_id)
    rebuild = rebuild_run_request(done) if done is not None else None
    if rebuild is None:
        return True
    print(f"rebuilding {len(rebuild.asset_selection or [])} assets, partitions "
          f"{rebuild.tags['dagster/asset_partition_range_start']}..{rebuild.tags['dagster/asset_partition_range_end']}")
    rebuilt = defs.resolve_job_def("privacy_rebuild_job").execute_in_process(
        instance=instance, asset_selection=rebuild.asset_selection, raise_on_error=False,
        tags={**rebuild.tags, "cycle/trigger": "cli"},
    )
    if not rebuilt.success:
        print(f"the rebuild run {rebuilt.run_id} failed; privacy_rebuild_sensor requests it again")
    return rebuilt.success


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    store = PrivacyRequestStore(settings.inbound_store)
    if args.action == "status":
        try:
            found = store.get(check_request_id(args.request_id))
        except ValueError as exc:
            raise SystemExit(f"cycle privacy: {exc}") from None
        if found is None:
            raise SystemExit(f"cycle privacy: no request {args.request_id} in {store.path}")
        print(_describe(found))
        return 0
    try:
        user_id = check_user_id(args.user_id)
    except ValueError as exc:
        raise SystemExit(f"cycle privacy: {exc}") from None
    accounts = AccessRegistry(settings.access).accounts(args.workspace)
    properties = sorted(a.account_id for a in accounts if a.platform == WEB_PLATFORM)
    if not properties:
        raise SystemExit(
            f"cycle privacy: workspace {args.workspace!r} has no web property, so it tracks nobody "
            f"(give it one: cycle workspaces add-account {args.workspace} --platform web --account-id PROPERTY)"
        )
    kind = "erasure" if args.action == "erase" else "export"
    request = store.submit(kind, user_id, properties, workspace_id=args.workspace, key_id="cli")
    print(f"{kind} {request.request_id} taken for {', '.join(properties)} (workspace {args.workspace})")
    if not args.run:
        print("privacy_requests_sensor carries it out; follow it with: cycle privacy status " + request.request_id)
        return 0
    ok = _carry_out(store, request.request_id)
    print(_describe(store.get(request.request_id)))
    return 0 if ok else 1
