"""Discharge notices (DOMAIN scenario 5) and declined insatser (scenario 8) in the overview,
against the demo: k = 5 was discharged yesterday after the ward's inskrivningsmeddelande,
k = 1 is admitted now with one, k = 0 declined one insats of the municipal SIP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.demo.clinical import DEMO_RELATIVE
from hub.overview import definitions as d
from mappings import load_table
from tests.overview.conftest import DemoHub, ext, parts, pid, today
from tests.overview.test_web_pages import _sign_in

WARD = "USÖ geriatrisk avdelning 73"
NOTICE_TEXT = "Patienten bedöms behöva insatser från kommunen och vårdcentralen efter utskrivningen"
INSATS_STATUS = load_table("municipal-activity-status").source_system


def _section(bundle: dict[str, Any], code: str) -> dict[str, Any]:
    composition = bundle["entry"][0]["resource"]
    return next(s for s in composition["section"] if s["code"]["coding"][0]["code"] == code)


def _lines(section: dict[str, Any]) -> list[str]:
    div = section["text"]["div"]
    return [item.split("</li>")[0] for item in div.split("<li>")[1:]]


def _of_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def test_the_discharge_notice_shows_with_the_coordinator_and_the_sip_due_date(
    demo: DemoHub,
) -> None:
    bundle = demo.overview(demo.nurse, 5)
    [entry] = _of_type(bundle, "Communication")
    notice = entry["resource"]
    reference = f"Communication/{notice['id']}"
    origin = parts(ext(entry, d.ENTRY_ORIGIN)[0])
    assert origin["careProvider"][0]["value"] == "SE2321000164-0000"
    assert origin["sourceSystem"] and origin["lastUpdated"]
    assert notice["category"][0]["coding"][0] == {
        "system": d.DISCHARGE_MESSAGE,
        "code": "inskrivningsmeddelande",
        "display": "Inskrivningsmeddelande",
    }
    plans = _section(bundle, "18776-5")
    assert {"reference": reference} in plans["entry"]
    notices = [parts(x) for x in ext(plans, d.FOLLOW_UP) if "notice" in parts(x)]
    assert notices == [
        {
            "notice": [{"reference": reference}],
            "state": [{"system": d.FOLLOW_UP_STATE, "code": "due"}],
            "date": [str(today() + timedelta(days=2))],
        }
    ]
    sent = today() - timedelta(days=5)
    expected = (
        f"Inskrivningsmeddelande {sent} 10:00 från {WARD}; {NOTICE_TEXT}; "
        f"utskriven {today() - timedelta(days=1)}; samordnad individuell planering (SIP) "
        f"ska hållas senast {today() + timedelta(days=2)}; samordnande vårdkontakt: Jonas Wik "
        f"[Region Örebro län, uppdaterad {today()}]"
    )
    assert [line for line in _lines(plans) if line.startswith("Inskriv")] == [expected]
    timeline = _section(bundle, "timeline")
    assert {"reference": reference} in timeline["entry"]
    assert [line for line in _lines(timeline) if "Inskrivningsmeddelande" in line] == [
        f"Senaste: {sent} 10:00 Inskrivningsmeddelande (skickat), {WARD} "
        f"[Region Örebro län, uppdaterad {today()}]"
    ]


def test_a_notice_while_admitted_waits_for_the_discharge(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 1)
    plans = _section(bundle, "18776-5")
    assert [parts(x) for x in ext(plans, d.FOLLOW_UP) if "notice" in parts(x)] == []
    [line] = [line for line in _lines(plans) if line.startswith("Inskriv")]
    assert line.startswith(
        f"Inskrivningsmeddelande {today() - timedelta(days=1)} 10:00 från {WARD}; "
        f"{NOTICE_TEXT}; inlagd sedan {today() - timedelta(days=2)}; samordnad individuell "
        f"planering (SIP) inom {d.DISCHARGE_SIP_DAYS} dagar efter utskrivningen; "
        "samordnande vårdkontakt: "
    )
    assert all(
        "Inskrivningsmeddelande" not in x
        for x in _lines(_section(demo.overview(demo.nurse, 0), "18776-5"))
    )


def test_the_notice_is_region_data_under_the_access_rules(demo: DemoHub) -> None:
    gp = demo.overview(demo.gp, 5)
    assert len(_of_type(gp, "Communication")) == 1
    no_consent = demo.overview(demo.nurse, 2)  # has not consented: no region data
    assert _of_type(no_consent, "Communication") == []


def _declined(bundle: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for entry in _of_type(bundle, "CarePlan"):
        for activity in entry["resource"].get("activity") or []:
            detail = activity.get("detail") or {}
            if detail.get("status") == "stopped":
                found.append((entry["resource"]["title"], detail))
    return found


def test_a_declined_insats_is_coded_and_shown_in_the_plans(demo: DemoHub) -> None:
    bundle = demo.overview(demo.nurse, 0)
    [(title, detail)] = _declined(bundle)
    assert title == "SIP hemsjukvård och hemtjänst"
    assert detail["statusReason"] == {
        "coding": [{"system": INSATS_STATUS, "code": "avbojd", "display": "Avböjd av personen"}]
    }
    plans = _lines(_section(bundle, "18776-5"))
    assert [x for x in plans if x.startswith("Avböjd insats")] == [
        f"Avböjd insats: {detail['description']} (avböjd av personen), {title} "
        f"[Örebro kommun, uppdaterad {today()}]"
    ]
    assert any(
        x.startswith(f"Insats: {detail['description']}, ") and "(avböjd av personen)" in x
        for x in plans
    )
    for k in (1, 3, 5):  # nobody else declined anything
        assert _declined(demo.overview(demo.nurse, k)) == []


def test_the_relative_sees_the_declined_insats(demo: DemoHub) -> None:
    headers = demo.headers(DEMO_RELATIVE, "patient/*.read", None, None)
    bundle = demo.overview(headers, 0)
    [(_title, detail)] = _declined(bundle)
    assert detail["statusReason"]["coding"][0]["code"] == "avbojd"
    assert _of_type(bundle, "Communication") == []


def test_the_page_shows_the_notice_and_the_declined_insats(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    page = demo.client.get(f"/patient/{pid(5)}").text
    assert (
        f'<h3 id="utskrivning-1">Inskrivningsmeddelande {today() - timedelta(days=5)} 10:00' in page
    )
    assert (
        f"samordnad individuell planering (SIP) ska hållas senast "
        f"{today() + timedelta(days=2)}; samordnande vårdkontakt: Jonas Wik"
    ) in page
    declined = demo.client.get(f"/patient/{pid(0)}").text
    assert '<strong class="flag">avböjd av personen</strong>' in declined
