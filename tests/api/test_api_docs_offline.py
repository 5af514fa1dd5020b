"""/v1/docs (Swagger UI) and /v1/redoc (ReDoc) are served by the API itself: every file the pages load
comes from the same server, nothing names another host, and the pages need no key (api/docs.py). That they
render in a browser with the network cut is the dashboard's browser test."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

DOCS_PAGES = ("/v1/docs", "/v1/redoc")
# what a page loads: src/href attributes, ReDoc's spec-url and Swagger UI's `url: '...'`
LOADED = re.compile(r"""(?:\b(?:src|href|spec-url)=["']([^"']+)["'])|(?:\burl:\s*['"]([^'"]+)['"])""")
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)['"]?\s*\)""")
ANY_HOST = re.compile(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}""", re.IGNORECASE)
EXPECTED_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}


@pytest.fixture(scope="module")
def anonymous(client) -> TestClient:
    """The shared app, asked without a key."""
    return TestClient(client.app)


def loaded_urls(html: str) -> list[str]:
    return [a or b for a, b in LOADED.findall(html)]


def test_the_old_cdn_page_is_gone_and_the_root_still_leads_to_the_docs(anonymous):
    root = anonymous.get("/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/v1/docs"
    # FastAPI's own /docs and its OAuth2 redirect (a CDN page) are not mounted anywhere
    assert anonymous.get("/docs").status_code == 404
    assert anonymous.get("/docs/oauth2-redirect").status_code == 404


@pytest.mark.parametrize("page", DOCS_PAGES)
def test_a_docs_page_loads_only_files_of_this_server_without_a_key(anonymous, page):
    answer = anonymous.get(page)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert not ANY_HOST.search(html), ANY_HOST.search(html)  # no CDN, no fonts, no validator, no icon elsewhere
    urls = loaded_urls(html)
    scripts = [u for u in urls if u.endswith(".js")]
    assert scripts and "/v1/openapi.json" in urls, urls  # the UI's bundle and the schema it renders
    for url in urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith("/"), url
        loaded = anonymous.get(url)
        assert loaded.status_code == 200, (url, loaded.status_code)
        suffix = next(s for s in EXPECTED_TYPES if parts.path.endswith(s))
        assert EXPECTED_TYPES[suffix] in loaded.headers["content-type"], (url, loaded.headers["content-type"])
        assert len(loaded.content) > 1000 or suffix == ".png", url  # the real file, not an error page
        if suffix == ".css":  # the stylesheet pulls in no font or image from elsewhere either
            assert not [u for u in CSS_URL.findall(loaded.text) if not u.startswith("data:")]


def test_swagger_ui_runs_the_bundle_on_the_schema_without_the_validator_badge(anonymous):
    html = anonymous.get("/v1/docs").text
    assert "SwaggerUIBundle(" in html and '"validatorUrl": null' in html
    bundle = anonymous.get("/v1/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle
    redoc = anonymous.get("/v1/redoc").text
    assert "<redoc spec-url=\"/v1/openapi.json\">" in redoc
    assert "Redoc" in anonymous.get("/v1/docs/assets/redoc.standalone.js").text
    assert "paths" in anonymous.get("/v1/openapi.json").json()


def test_behind_a_proxy_prefix_the_pages_load_under_that_prefix(client):
    html = TestClient(client.app, root_path="/cycle").get("/v1/docs").text
    urls = loaded_urls(html)
    assert urls and all(u.startswith("/cycle/v1/") for u in urls), urls


@pytest.mark.parametrize("path", [
    "/v1/docs/assets/../../../api/main.py",
    "/v1/docs/assets/%2e%2e/%2e%2e/api/main.py",
    "/v1/docs/assets/..%2f..%2fpyproject.toml",
    "/v1/docs/assets/nothing-here.js",
    "/v1/docs/assets/",
])
def test_the_asset_folder_serves_its_files_only(anonymous, path):
    answer = anonymous.get(path)
    assert answer.status_code == 404, (path, answer.status_code)
