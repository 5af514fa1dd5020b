"""``GET /v1/accounts``: the accounts the key's workspace owns, with what the served data holds of each."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, Field

from analytics_assets.contracts.serving import ACCOUNTS
from api.auth import Reader
from api.routes.common import DATA_ERRORS, Store

router = APIRouter(tags=["workspace"])


class WorkspaceAccount(BaseModel):
    platform: str = Field(examples=["linkedin"])
    account_id: str
    account_name: str | None = Field(
        default=None,
        description="The name the platform shows for an organic account (X or TikTok username, Reddit author: Reddit's "
        "account_id is the author's fullname, t2_...), from its newest post that carried one; null for ad accounts, "
        "web properties and before data.",
        examples=["cycle_brand_0"],
    )
    channel_type: str | None = Field(description="'organic', 'paid' or 'web' (a tracked property); null before data.")
    first_seen_date: date | None = Field(description="First day of data; null when nothing is served for it yet.")
    last_seen_date: date | None


class AccountsResponse(BaseModel):
    workspace_id: str
    accounts: list[WorkspaceAccount] = Field(description="Ordered by platform, account_id.")


_SQL = """
SELECT CAST(platform AS VARCHAR) AS platform, CAST(account_id AS VARCHAR) AS account_id,
       CAST(account_name AS VARCHAR) AS account_name, CAST(channel_type AS VARCHAR) AS channel_type, CAST(first_seen_date AS DATE) AS first_seen_date,
       CAST(last_seen_date AS DATE) AS last_seen_date
FROM src
"""


@router.get("/accounts", response_model=AccountsResponse, responses=DATA_ERRORS, summary="The workspace's accounts")
def accounts(store: Store, principal: Reader) -> AccountsResponse:
    """Every account the workspace owns (`cycle workspaces add-account`), with its first and last day of data."""
    seen = {(r["platform"], r["account_id"]): r for r in store.scoped_query(ACCOUNTS, principal.accounts, _SQL)}
    items = [
        WorkspaceAccount(**seen.get((a.platform, a.account_id), {"platform": a.platform, "account_id": a.account_id,
                                                                  "channel_type": None, "first_seen_date": None,
                                                                  "last_seen_date": None}))
        for a in sorted(principal.accounts, key=lambda a: (a.platform, a.account_id))
    ]
    return AccountsResponse(workspace_id=principal.workspace_id, accounts=items)
