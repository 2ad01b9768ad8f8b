"""The clinician page in headless chromium over the demo data: what a user sees.

Sign in (demo user), search by personnummer, read the overview (medication, treatment
limitations and on-call contact on the first screen), record consent, open emergency
access, the work list, the print view, the keyboard, and axe-core (no serious or critical
violation). Screenshots go to test-artifacts/browser/ (HUB_TEST_ARTIFACTS), which git
ignores.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.app import create_app
from hub.auth import generate_signing_key
from hub.settings import Settings
from tests.live_server import free_port, running_server
from tests.overview.conftest import SECRET, build_demo_db, residents

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS", "test-artifacts")) / "browser"
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser_demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_db(tmp_path_factory.mktemp("browser-demo"))


@pytest.fixture
def origin(browser_demo_db: Path, tmp_path: Path) -> Iterator[str]:
    shutil.copy(browser_demo_db, tmp_path / "hub.db")
    generate_signing_key(tmp_path / "signing.pem", tmp_path / "jwks.json")
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        auth="on",
        jwks_path=str(tmp_path / "jwks.json"),
        token_signing_key_path=str(tmp_path / "signing.pem"),
        token_revocation_path=str(tmp_path / "revoked.json"),
        token_audience=f"http://127.0.0.1:{port}/fhir",
        audit_key_path=str(tmp_path / "audit.pem"),
        patient_id_secret=SECRET,
        web_demo_users=True,
    )
    with running_server(create_app(settings), port) as served:
        yield served


def _shot(page: Any, name: str, **options: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), **options)


def _axe(page: Any, name: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations", "passes"]})
    assert results.response["testEngine"]["name"] == "axe-core"
    assert results.response["passes"]  # axe ran its rules on this page
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{name}: {serious}"


def _sign_in(page: Any, origin: str, user: str = "sjukskoterska") -> None:
    page.set_viewport_size(VIEWPORT)
    page.goto(origin + "/")
    page.click(f"form:has(input[value='{user}']) button")
    page.wait_for_url(origin + "/")


def _open(page: Any, k: int) -> None:
    number = residents()[k].number
    page.fill("#q", f"{number[:8]}-{number[8:]}")
    page.press("#q", "Enter")
    page.wait_for_selector("h1")


def _on_first_screen(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] + min(box["height"], 40) <= VIEWPORT["height"]


def test_sign_in_search_and_the_night_nurses_first_screen(offline_page: Any, origin: str) -> None:
    page = offline_page
    page.set_viewport_size(VIEWPORT)
    page.goto(origin + "/")
    assert page.locator("h1").text_content() == "Logga in"
    _shot(page, "01-sign-in")
    _axe(page, "sign-in")
    _sign_in(page, origin)
    assert page.locator("h1").text_content() == "Sök patient"
    _axe(page, "search")
    _open(page, 0)
    person = residents()[0]
    assert page.locator("h1").text_content() == f"{person.given} {person.family}"
    medications = page.locator("section[aria-labelledby=lakemedel] li strong")
    assert medications.all_text_contents() == [
        "Apixaban 2,5 mg tablett",
        "Furosemid 40 mg tablett",
        "Morfin 5 mg/ml injektion vid behov",
    ]
    assert _on_first_screen(page, "section[aria-labelledby=lakemedel] li")
    assert _on_first_screen(page, "text=Ej hjärt-lungräddning (HLR) vid hjärtstopp")
    assert _on_first_screen(page, "p.oncall")
    assert "019-21 49 99" in (page.locator("p.oncall").text_content() or "")
    _shot(page, "02-overview-first-screen")
    _shot(page, "03-overview-full", full_page=True)
    _axe(page, "overview")
    assert page.foreign_requests == []


def test_record_consent_from_the_page(offline_page: Any, origin: str) -> None:
    page = offline_page
    _sign_in(page, origin)
    _open(page, 2)
    banner = page.locator("p.banner.warn", has_text="Dold information")
    assert "Region Örebro län" in (banner.text_content() or "")
    assert page.locator("section[aria-labelledby=lakemedel] li").count() == 0
    _shot(page, "04-hidden-data-banner")
    page.fill("#dagar", "14")
    page.check("#bekraftat")
    page.click("text=Registrera samtycke >> xpath=ancestor-or-self::button")
    page.wait_for_selector("text=Samtycket är registrerat och loggat.")
    assert page.locator("section[aria-labelledby=lakemedel] li").count() == 3
    assert page.locator("p.banner.warn", has_text="Dold information").count() == 0
    _shot(page, "05-after-consent")


def test_open_emergency_access_from_the_page(offline_page: Any, origin: str) -> None:
    page = offline_page
    _sign_in(page, origin)
    _open(page, 2)
    page.fill("#skal", "Medvetslös, kan inte tillfrågas")
    page.click("button.danger")
    page.wait_for_selector("p.banner.emergency")
    text = page.locator("p.banner.emergency").text_content() or ""
    assert text.startswith("Nödåtkomst är öppen till")
    assert page.locator("section[aria-labelledby=lakemedel] li").count() == 3
    _shot(page, "06-emergency-access-open")
    _axe(page, "overview under emergency access")


def test_the_work_list(offline_page: Any, origin: str) -> None:
    page = offline_page
    _sign_in(page, origin)
    page.click("nav >> text=Arbetslista")
    page.wait_for_selector("table")
    rows = page.locator("tbody tr")
    assert rows.count() >= len(residents())
    missing = page.locator("tr.state-medical-care-plan-missing")
    assert missing.count() == 2  # the second person, and the third (plan hidden without consent)
    _shot(page, "07-work-list", full_page=True)
    _axe(page, "work list")


def test_the_print_view(offline_page: Any, origin: str) -> None:
    page = offline_page
    _sign_in(page, origin)
    _open(page, 0)
    page.click("text=Utskriftsvy")
    page.wait_for_selector("text=Utskriven")
    assert page.locator("form[action$='/samtycke']").count() == 0
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert page.locator("text=Ej hjärt-lungräddning (HLR) vid hjärtstopp").is_visible()
    _shot(page, "08-print-view", full_page=True)
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    (ARTIFACTS / "08-print-view.pdf").write_bytes(pdf)
    page.emulate_media(media="screen")
    _axe(page, "print view")


def test_the_keyboard_reaches_the_content_first(offline_page: Any, origin: str) -> None:
    page = offline_page
    _sign_in(page, origin)
    _open(page, 0)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Hoppa till innehållet"
    page.keyboard.press("Enter")
    assert page.url.endswith("#innehall")


def test_a_relative_sees_no_region_data(offline_page: Any, origin: str) -> None:
    page = offline_page
    _sign_in(page, origin, "anhorig")
    _open(page, 0)
    assert page.locator("section[aria-labelledby=lakemedel] li").count() == 0
    assert page.locator("text=SIP hemsjukvård och hemtjänst").count() >= 1
    assert page.locator("#atkomst").count() == 0
    _shot(page, "09-relative")
