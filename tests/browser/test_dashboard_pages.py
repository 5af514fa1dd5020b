"""The dashboard's pages over HTTP, without a browser: no published snapshot gives a "no data yet" panel on every
page (never an error), user content with markup in it is shown as text, and the login, the cookie and the
decision forms refuse what they must (open redirects, oversize forms, forged or keyless decisions)."""

from __future__ import annotations

import io
import json
import re

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from analytics_assets.contracts.access import AccessRegistry, grant_served_accounts
from analytics_assets.contracts.serving import BOOSTS, CAMPAIGNS, HOOK_SUCCESS, MANIFEST, PublishedFile
from api.dashboard.layout import PAGES
from api.dashboard.session import COOKIE, csrf_token
from dashboard_testing import CLOCK

pytestmark = pytest.mark.slow  # two tests read the e2e fixture's snapshot

PATHS = [f"/dashboard{path}" for path, _ in PAGES]
HOSTILE = '</script><script>alert("xss")</script><img src=x onerror=alert(1)>'


def _client(serving, state, scopes=("read", "feedback"), accounts_from=None):
    from api.main import create_app

    registry = AccessRegistry(state / "access.sqlite3")
    registry.create_workspace("default", exist_ok=True)
    if accounts_from is not None:
        grant_served_accounts(registry, accounts_from)
    token = registry.create_key("default", "pages", scopes).token
    app = create_app(serving, state / "inbound.sqlite3", access_store=registry.path, rate_limit="100000/minute",
                     clock=lambda: CLOCK)
    return TestClient(app), token


@pytest.fixture
def empty(tmp_path):
    serving = tmp_path / "serving"
    serving.mkdir()
    return _client(serving, tmp_path)


def test_without_a_cookie_every_page_sends_to_the_login_form(empty):
    client, _ = empty
    for path in [*PATHS, "/dashboard/events"]:
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/dashboard/login?next="), path
    bad = TestClient(client.app, cookies={COOKIE: "cyk_0000000000_wrong"}).get("/dashboard", follow_redirects=False)
    assert bad.status_code == 303 and f'{COOKIE}=""' in bad.headers["set-cookie"]  # a wrong key's cookie is cleared


def test_nothing_published_shows_no_data_yet_on_every_page(empty):
    client, token = empty
    login = client.post("/dashboard/login", data={"api_key": token, "next": "/dashboard"}, follow_redirects=False)
    assert login.status_code == 303
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # http: not Secure
    for path in PATHS:
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert "No data yet" in page.text or "nothing has been published" in page.text, path
        assert token not in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    for odd in ("/dashboard?days=²", "/dashboard?days=99999999999999999999", "/dashboard/recommendations?kind=<x>&status=%00",
                "/dashboard/login?next=" + "/dashboard/" + "a" * 5000):
        assert client.get(odd).status_code == 200, odd


def test_the_login_form_refuses_what_is_not_a_key_and_never_redirects_away(empty):
    client, token = empty
    assert client.post("/dashboard/login", data={"api_key": "x" * 300}).status_code == 400
    assert client.post("/dashboard/login", data={"api_key": "cyk_0000000000_wrong"}).status_code == 401
    assert client.post("/dashboard/login", content=b"api_key=" + b"a" * 10_000,
                       headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413
    for target in ("https://evil.example/", "//evil.example/dashboard", "/dashboard\\..\\x", "/v1/health"):
        answer = client.post("/dashboard/login", data={"api_key": token, "next": target}, follow_redirects=False)
        assert answer.headers["location"] == "/dashboard", target
    logout = client.post("/dashboard/logout", follow_redirects=False)
    assert logout.status_code == 303 and f'{COOKIE}=""' in logout.headers["set-cookie"]


def _republish(serving, name: str, change) -> None:
    """Rewrite one served file with ``change(table) -> table`` and name its new bytes in the manifest."""
    table = change(pq.read_table(serving / name))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    data = sink.getvalue()
    (serving / name).write_bytes(data)
    manifest = json.loads((serving / MANIFEST).read_text())
    manifest["files"][name] = PublishedFile.of(data, table.num_rows).to_json()
    (serving / MANIFEST).write_text(json.dumps(manifest))


def _hostile(column: str):
    import pyarrow as pa

    def change(table):
        values = table.column(column).to_pylist()
        values = [HOSTILE if i % 2 == 0 else v for i, v in enumerate(values)]
        return table.set_column(table.schema.get_field_index(column), column, pa.array(values, pa.string()))

    return change


def test_markup_in_served_text_is_shown_as_text(pipeline, tmp_path):
    import shutil

    home, _ = pipeline
    serving = tmp_path / "serving"
    shutil.copytree(home.serving, serving)
    _republish(serving, HOOK_SUCCESS, _hostile("hook_type"))
    _republish(serving, CAMPAIGNS, _hostile("campaign_name"))
    client, token = _client(serving, tmp_path, accounts_from=serving)
    client.cookies = {COOKIE: token}
    for path in ("/dashboard/content", "/dashboard/campaigns"):
        page = client.get(path)
        assert page.status_code == 200
        assert HOSTILE not in page.text and "<script>alert" not in page.text and "<img src=x" not in page.text
        if path.endswith("campaigns"):  # the campaign table's cell, autoescaped
            assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
        # each figure's JSON: no character that could end its <script> element, and the label escaped for plotly
        for blob in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', page.text, re.S):
            assert "<" not in blob and ">" not in blob
            figure = json.loads(blob)
            labels = json.dumps(figure["data"])
            assert HOSTILE not in labels
        assert "\\u0026lt;img src=x" in page.text, path  # in a figure: escaped for plotly, then for the element
    # one served file gone (the others still there): its panel says so, the rest of the page is drawn
    (serving / BOOSTS).unlink()
    page = client.get("/dashboard/boosts")
    assert page.status_code == 200 and "No data yet" in page.text
    assert client.get("/dashboard").status_code == 200


def test_decisions_need_the_feedback_scope_and_the_page_token(pipeline, tmp_path):
    home, _ = pipeline
    client, token = _client(home.serving, tmp_path, accounts_from=home.serving)
    reader, read_token = _client(home.serving, tmp_path, scopes=("read",))
    client.cookies, reader.cookies = {COOKIE: token}, {COOKIE: read_token}
    page_token = csrf_token(token)
    rec = re.search(r'data-recommendation="(rec_[0-9a-f]{24})" data-status="open"',
                    client.get("/dashboard/recommendations?status=open").text).group(1)
    url = f"/dashboard/recommendations/{rec}/apply"
    no_token = client.post(url, data={}, follow_redirects=False)
    assert no_token.status_code == 403
    no_scope = reader.post(url, data={"csrf_token": csrf_token(read_token)},
                           follow_redirects=False)
    assert no_scope.status_code == 403 and "feedback" in no_scope.text
    no_cookie = TestClient(client.app).post(url, data={"csrf_token": page_token}, follow_redirects=False)
    assert no_cookie.status_code == 303 and "/dashboard/login" in no_cookie.headers["location"]
    too_long = client.post(url, data={"csrf_token": page_token, "reason": "r" * 501},
                           follow_redirects=False)
    assert "outcome=invalid" in too_long.headers["location"]
    assert client.get(f"/v1/recommendations/{rec}", headers={"Authorization": f"Bearer {token}"}).json()["status"] == "open"
    unknown = client.post("/dashboard/recommendations/rec_000000000000000000000000/apply",
                          data={"csrf_token": page_token}, follow_redirects=False)
    assert "outcome=gone" in unknown.headers["location"]
    shown = client.get(unknown.headers["location"])
    assert "No such recommendation in this workspace; nothing was stored." in shown.text
    malformed = client.post("/dashboard/recommendations/<b>x<%2Fb>/apply",
                            data={"csrf_token": page_token}, follow_redirects=False)
    assert malformed.status_code in (303, 404) and "<b>" not in malformed.text
