"""/docs and /redoc render with no network (every asset from the hub itself) and Swagger UI
shows the Authorize button for the bearer token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.app import create_app
from hub.settings import Settings
from hub.store.sql_store import SqlStore
from tests.live_server import running_server

pytestmark = pytest.mark.browser


@pytest.fixture
def hub_origin(sqlite_store: SqlStore, tmp_path: Path):
    settings = Settings(
        database_url="sqlite://unused",
        jwks_path=str(tmp_path / "jwks.json"),
        audit_key_path=str(tmp_path / "audit.pem"),
    )
    with running_server(create_app(settings, store=sqlite_store)) as origin:
        yield origin


def test_swagger_ui_renders_offline_with_the_authorize_button(offline_page: Any, hub_origin: str):
    offline_page.goto(f"{hub_origin}/docs")
    offline_page.wait_for_selector("button.authorize", timeout=20_000)
    assert offline_page.locator("button.authorize").first.is_visible()
    assert offline_page.locator(".opblock").count() > 10  # the operations are listed
    offline_page.locator("button.authorize").first.click()
    offline_page.wait_for_selector("text=bearer (http, Bearer)", timeout=10_000)
    assert offline_page.foreign_requests == []


def test_redoc_renders_offline(offline_page: Any, hub_origin: str):
    offline_page.goto(f"{hub_origin}/redoc")
    offline_page.wait_for_selector("text=Care-record hub", timeout=20_000)
    offline_page.wait_for_selector("[data-section-id]", timeout=20_000)
    assert offline_page.foreign_requests == []
