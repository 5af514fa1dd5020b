"""An in-process client of the API with a key that reads every served account: for benchmarks, end-to-end
tests and scripts that check what the API answers over a real serving snapshot. Never used by the service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from analytics_assets.contracts.access import AccessRegistry, grant_served_accounts


def local_client(serving_dir: Path, state_dir: Path, *, scopes: tuple[str, ...] = ("admin",), **app_kwargs: Any) -> TestClient:
    """A client of ``create_app(serving_dir, ...)`` whose registry (in ``state_dir``) gives workspace
    ``default`` every served account, holding a key with ``scopes``."""
    from api.main import create_app

    state_dir.mkdir(parents=True, exist_ok=True)
    registry = AccessRegistry(state_dir / "access.sqlite3")
    grant_served_accounts(registry, Path(serving_dir))
    token = registry.create_key("default", "local", scopes).token
    app_kwargs.setdefault("webhook_store", state_dir / "inbound.sqlite3")
    app_kwargs.setdefault("rate_limit", "1000000/minute")
    app = create_app(serving_dir, access_store=registry.path, **app_kwargs)
    return TestClient(app, headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False)
