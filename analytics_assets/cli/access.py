"""``cycle workspaces ...`` and ``cycle keys ...``: manage who may read what through the API
(``contracts/access.py``), and the embedded default's first workspace and key (``cycle demo``)."""

from __future__ import annotations

import argparse

from analytics_assets.contracts.access import (
    DEFAULT_WORKSPACE,
    SCOPES,
    Account,
    AccessError,
    AccessRegistry,
    grant_served_accounts,
)
from analytics_assets.settings import load_settings


def add_arguments(sub: argparse._SubParsersAction) -> None:
    ws = sub.add_parser("workspaces", help="create workspaces and give them accounts").add_subparsers(
        dest="action", required=True
    )
    create = ws.add_parser("create", help="create a workspace")
    create.add_argument("workspace")
    ws.add_parser("list", help="list the workspaces, their accounts and keys")
    for name, text in (("add-account", "give an account to a workspace"), ("remove-account", "take an account away")):
        p = ws.add_parser(name, help=text)
        p.add_argument("workspace")
        p.add_argument("--platform", required=True, help="linkedin, x, reddit, tiktok, google_ads, meta_ads, linkedin_ads or web")
        p.add_argument("--account-id", required=True, help="the platform's account id (a web property's id for 'web')")

    keys = sub.add_parser("keys", help="create, list and revoke API keys").add_subparsers(dest="action", required=True)
    kc = keys.add_parser("create", help="create a key; the key is printed once and never stored")
    kc.add_argument("--workspace", default=DEFAULT_WORKSPACE)
    kc.add_argument("--name", default="", help="what the key is for")
    kc.add_argument("--scopes", default="read", help=f"comma-separated, from: {', '.join(SCOPES)} (default read)")
    kl = keys.add_parser("list", help="list keys (ids, scopes, state; never the secret)")
    kl.add_argument("--workspace")
    kr = keys.add_parser("revoke", help="revoke a key by its id")
    kr.add_argument("key_id")


def registry() -> AccessRegistry:
    return AccessRegistry(load_settings().access)


def run(args: argparse.Namespace) -> int:
    reg = registry()
    try:
        if args.command == "workspaces":
            return _workspaces(reg, args)
        return _keys(reg, args)
    except AccessError as exc:
        raise SystemExit(f"cycle {args.command} {args.action}: {exc}") from None


def _workspaces(reg: AccessRegistry, args: argparse.Namespace) -> int:
    if args.action == "create":
        print(f"workspace {reg.create_workspace(args.workspace)} created")
    elif args.action == "list":
        for workspace in reg.workspaces():
            accounts = sorted(reg.accounts(workspace), key=lambda a: (a.platform, a.account_id))
            keys = reg.keys(workspace)
            print(f"{workspace}: {len(accounts)} accounts, {sum(k.active for k in keys)} active keys")
            for a in accounts:
                print(f"  {a.platform:<13} {a.account_id}")
    elif args.action == "add-account":
        added = reg.add_accounts(args.workspace, [Account(args.platform, args.account_id)])
        print(f"{args.platform}:{args.account_id} {'added to' if added else 'already in'} {args.workspace}")
    else:
        removed = reg.remove_account(args.workspace, Account(args.platform, args.account_id))
        print(f"{args.platform}:{args.account_id} {'removed from' if removed else 'was not in'} {args.workspace}")
    return 0


def _keys(reg: AccessRegistry, args: argparse.Namespace) -> int:
    if args.action == "create":
        new = reg.create_key(args.workspace, args.name, args.scopes.split(","))
        print(f"key {new.key.key_id} for workspace {new.key.workspace_id} ({', '.join(sorted(new.key.scopes))}):")
        print(new.token)
        print("Store it now: it is shown once and only its hash is kept.")
    elif args.action == "list":
        for key in reg.keys(args.workspace):
            state = "active" if key.active else f"revoked {key.revoked_at}"
            print(f"{key.key_id}  {key.workspace_id:<16} {','.join(sorted(key.scopes)):<24} {key.name:<20} "
                  f"created {key.created_at}  {state}")
    else:
        key = reg.revoke_key(args.key_id)
        print(f"key {key.key_id} of workspace {key.workspace_id} revoked at {key.revoked_at}")
    return 0


def bootstrap_default_workspace() -> list[str]:
    """The embedded default: workspace ``default`` owns every served account no other workspace owns, and
    gets a first read key, printed once. Lines for ``cycle demo``'s summary."""
    settings = load_settings()
    reg = AccessRegistry(settings.access)
    added = grant_served_accounts(reg, settings.serving)
    lines = [f"Workspace '{DEFAULT_WORKSPACE}': {len(reg.accounts(DEFAULT_WORKSPACE))} accounts ({added} new), "
             f"registry {settings.access}"]
    if any(k.active for k in reg.keys(DEFAULT_WORKSPACE)):
        lines.append(f"API keys of '{DEFAULT_WORKSPACE}': `cycle keys list`; another with `cycle keys create`.")
    else:
        new = reg.create_key(DEFAULT_WORKSPACE, "demo", ["read", "feedback"])
        lines += [
            f"First API key of '{DEFAULT_WORKSPACE}' (read, feedback), shown once:",
            f"  {new.token}",
            f"  curl -H 'Authorization: Bearer {new.token}' 'http://127.0.0.1:8000/v1/optimal-hours?platform=linkedin'",
        ]
    return lines
