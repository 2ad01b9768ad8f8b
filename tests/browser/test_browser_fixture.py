"""The shared browser fixture works offline: loopback pages load, other hosts are cut."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from tests.live_server import running_server

pytestmark = pytest.mark.browser


def test_offline_page_loads_loopback_and_blocks_other_hosts(offline_page: Any):
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return (
            "<html><body><h1 id='t'>loopback</h1>"
            "<img src='https://cdn.example.org/x.png'></body></html>"
        )

    with running_server(app) as origin:
        offline_page.goto(origin + "/")
        assert offline_page.text_content("#t") == "loopback"
        offline_page.wait_for_load_state("load")
    assert offline_page.foreign_requests == ["https://cdn.example.org/x.png"]
