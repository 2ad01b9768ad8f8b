"""Every hub suite in conformance/suites/ passes against the hub, over HTTP with real tokens."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.cli import run_suites
from conformance.engine import ScriptResult
from conformance.suites import available_suites


def failures(results: list[ScriptResult]) -> list[str]:
    found = []
    for result in results:
        for action in result.setup:
            if action.result in ("fail", "error"):
                found.append(f"{result.loaded.name} setup: {action.message} {action.detail}")
        for test in result.tests:
            for action in test.actions:
                if action.result in ("fail", "error"):
                    found.append(
                        f"{result.loaded.name}::{test.name}: {action.message} {action.detail}"
                    )
    return found


HUB_SUITES = [s for s in available_suites() if s != "r4-official"]  # see test_official_testscripts


@pytest.mark.parametrize("suite", HUB_SUITES)
def test_the_suite_passes_against_the_hub(suite: str, live_hub: Any) -> None:
    results = run_suites([suite], live_hub.base_url, live_hub.token_source(), echo=False)
    assert results and all(r.tests for r in results)
    assert failures(results) == []
    assert all(r.result == "pass" for r in results)
