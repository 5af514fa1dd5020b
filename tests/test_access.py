"""Workspaces, their accounts and API keys (contracts/access.py), and the `cycle workspaces` / `cycle keys`
commands that manage them, including the embedded default's first workspace and key."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics_assets.cli.access import bootstrap_default_workspace
from analytics_assets.cli import main
from analytics_assets.contracts.access import Account, AccessError, AccessRegistry
from analytics_assets.contracts.serving import ACCOUNTS


@pytest.fixture
def registry(tmp_path) -> AccessRegistry:
    reg = AccessRegistry(tmp_path / "access.sqlite3")
    reg.create_workspace("acme")
    reg.create_workspace("globex")
    return reg


def test_a_key_authenticates_only_with_its_exact_secret_until_revoked(registry):
    new = registry.create_key("acme", "dashboard", ["read"])
    snap = registry.snapshot()
    assert snap.authenticate(new.token).key_id == new.key.key_id
    wrong = new.token[:-1] + ("A" if new.token[-1] != "A" else "B")
    for token in (wrong, new.token + "x", new.token.replace("cyk_", "cyk"), "", "Bearer " + new.token):
        assert snap.authenticate(token) is None
    version = registry.version()
    registry.revoke_key(new.key.key_id)
    assert registry.version() != version  # the API reloads on this
    assert registry.snapshot().authenticate(new.token) is None
    assert not registry.keys("acme")[0].active  # still listed, for the audit records
    with pytest.raises(AccessError, match="already revoked"):
        registry.revoke_key(new.key.key_id)


def test_the_secret_is_never_stored(registry):
    new = registry.create_key("acme", "x", ["read", "feedback"])
    secret = new.token[len("cyk_") + 13 :]  # after "cyk_<key id>_"; the secret itself may hold "_"
    assert len(secret) == 43
    data = b"".join(p.read_bytes() for p in registry.path.parent.glob("access.sqlite3*"))
    assert secret.encode() not in data and new.key.key_id.encode() in data


def test_scopes_are_checked_and_admin_implies_every_scope(registry):
    with pytest.raises(AccessError, match="unknown scope"):
        registry.create_key("acme", "x", ["read", "write"])
    with pytest.raises(AccessError, match="at least one scope"):
        registry.create_key("acme", "x", [" "])
    admin = registry.create_key("acme", "ops", ["admin"]).key
    reader = registry.create_key("acme", "bi", ["read"]).key
    assert all(admin.allows(s) for s in ("read", "feedback", "ingest", "admin"))
    assert reader.allows("read") and not reader.allows("feedback") and not reader.allows("admin")


def test_an_account_belongs_to_one_workspace(registry):
    li = Account("linkedin", "urn:li:organization:1")
    assert registry.add_accounts("acme", [li, Account("meta_ads", "act_1")]) == 2
    assert registry.add_accounts("acme", [li]) == 0  # idempotent
    with pytest.raises(AccessError, match="already belongs to workspace 'acme'"):
        registry.add_accounts("globex", [Account("x", "9"), li])
    assert registry.accounts("globex") == frozenset()  # all or nothing
    assert registry.add_accounts("globex", [Account("x", "9"), li], skip_owned=True) == 1
    assert registry.snapshot().accounts("acme") == {li, Account("meta_ads", "act_1")}
    with pytest.raises(AccessError, match="no workspace 'nope'"):
        registry.add_accounts("nope", [Account("x", "1")])
    with pytest.raises(AccessError, match="invalid workspace name"):
        registry.create_workspace("Bad Name")


def test_cli_manages_workspaces_accounts_and_keys(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    assert main(["workspaces", "create", "acme"]) == 0
    assert main(["workspaces", "add-account", "acme", "--platform", "x", "--account-id", "141000"]) == 0
    assert main(["keys", "create", "--workspace", "acme", "--name", "bi", "--scopes", "read,feedback"]) == 0
    out = capsys.readouterr().out
    token = next(line for line in out.splitlines() if line.startswith("cyk_"))
    reg = AccessRegistry(tmp_path / "api" / "access.sqlite3")
    key = reg.snapshot().authenticate(token)
    assert key.workspace_id == "acme" and key.scopes == {"read", "feedback"}
    assert reg.accounts("acme") == {Account("x", "141000")}

    assert main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert key.key_id in listed and token not in listed and "active" in listed
    assert main(["keys", "revoke", key.key_id]) == 0
    assert reg.snapshot().authenticate(token) is None
    with pytest.raises(SystemExit, match="no workspace 'nope'"):
        main(["keys", "create", "--workspace", "nope"])
    with pytest.raises(SystemExit, match="unknown scope"):
        main(["keys", "create", "--workspace", "acme", "--scopes", "root"])


def test_demo_bootstrap_gives_default_every_unowned_served_account_and_one_first_key(tmp_path, monkeypatch):
    monkeypatch.setenv("CYCLE_HOME", str(tmp_path))
    serving = tmp_path / "serving"
    serving.mkdir()
    accounts = [("linkedin", "urn:li:organization:80000"), ("x", "141000"), ("meta_ads", "1000"), ("web", "cycle-demo")]
    pd.DataFrame(accounts, columns=["platform", "account_id"]).to_parquet(serving / ACCOUNTS)
    reg = AccessRegistry(tmp_path / "api" / "access.sqlite3")
    reg.create_workspace("acme")
    reg.add_accounts("acme", [Account("x", "141000")])  # owned elsewhere: the default never takes it

    first = bootstrap_default_workspace()
    token = next(line.strip() for line in first if line.strip().startswith("cyk_"))
    assert reg.snapshot().authenticate(token).workspace_id == "default"
    assert reg.accounts("default") == {Account(p, a) for p, a in accounts if a != "141000"}

    again = bootstrap_default_workspace()  # a second demo: no second key, the first is not shown again
    assert not any("cyk_" in line for line in again)
    assert len(reg.keys("default")) == 1
