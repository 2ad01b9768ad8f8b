"""The clinician page over the demo data: sign-in cookie, CSRF, search, overview, consent,
emergency access, work list, print view and the page's size."""

from __future__ import annotations

import gzip
import re
import shutil
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from hub.app import create_app
from hub.auth import generate_signing_key
from hub.demo.clinical import DEMO_RELATIVE
from hub.settings import Settings
from tests.overview.conftest import SECRET, DemoHub, pid, residents, today


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def _sign_in(demo: DemoHub, headers: dict[str, str]) -> None:
    response = demo.client.post(
        "/logga-in", data={"token": _token(headers)}, follow_redirects=False
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def _page(demo: DemoHub, k: int) -> str:
    response = demo.client.get(f"/patient/{pid(k)}")
    assert response.status_code == 200
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    return response.text


def test_sign_in_page_without_a_session_and_a_refused_token(demo: DemoHub) -> None:
    page = demo.client.get("/")
    assert page.status_code == 200
    assert '<label for="token">' in page.text
    assert "demoanvändare" not in page.text  # HUB_WEB_DEMO_USERS is off
    refused = demo.client.post("/logga-in", data={"token": "not-a-token"})
    assert refused.status_code == 401
    assert "Inloggningen misslyckades" in refused.text
    assert demo.client.get(f"/patient/{pid(0)}").status_code == 401


def test_search_by_personnummer_and_name(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    number = residents()[0].number
    found = demo.client.get(
        "/sok", params={"q": f"{number[:8]}-{number[8:]}"}, follow_redirects=False
    )
    assert found.status_code == 303
    assert found.headers["location"] == f"/patient/{pid(0)}"
    for written in (f"{number[2:8]}-{number[8:]}", f"{number[:8]} {number[8:]}", number):
        again = demo.client.get("/sok", params={"q": written}, follow_redirects=False)
        assert again.headers["location"] == f"/patient/{pid(0)}", written
    open_century = demo.client.get("/sok", params={"q": number[2:]})
    assert "med århundrade" in open_century.text
    assert number[2:] not in open_century.text.replace(f'value="{number[2:]}"', "")
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    bad = demo.client.get("/sok", params={"q": wrong})
    assert "Personnumret är inte giltigt" in bad.text
    assert wrong not in bad.text.replace(f'value="{wrong}"', "")
    by_name = demo.client.get("/sok", params={"q": residents()[0].family})
    assert f'href="/patient/{pid(0)}"' in by_name.text


def test_the_overview_page_puts_medication_limitations_and_on_call_first(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    html = _page(demo, 0)
    first = html.index('<div class="first">')
    for text in (
        "Apixaban 2,5 mg tablett",
        "Ej hjärt-lungräddning (HLR) vid hjärtstopp",
        "019-21 49 99",
    ):
        assert first - 2000 < html.index(text) < html.index('id="planer"'), text
    assert html.index("<strong>Jour:</strong>") < first
    assert "Fallrisk" in html and "Penicillin" in html
    assert "Uppföljning försenad" in html
    assert "Felregistrerat besök" not in html


def test_hidden_data_banner_consent_flow_and_its_log(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    html = _page(demo, 2)
    assert "1 vårdgivare (Region Örebro län) har uppgifter som inte visas" in html
    assert "Apixaban" not in html
    form = {"dagar": "30", "bekraftat": "ja"}
    assert demo.client.post(f"/patient/{pid(2)}/samtycke", data=form).status_code == 403
    response = demo.client.post(
        f"/patient/{pid(2)}/samtycke", data={**form, "csrf": _csrf(html)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/patient/{pid(2)}?klart=samtycke"
    html = demo.client.get(response.headers["location"]).text
    assert "Samtycket är registrerat" in html
    assert "Apixaban 2,5 mg tablett" in html
    assert "har uppgifter som inte visas" not in html
    bundle = demo.client.get("/fhir/Consent", params={"patient": pid(2)}, headers=demo.nurse).json()
    recorded = [e["resource"] for e in bundle.get("entry", []) if e["resource"].get("organization")]
    assert len(recorded) == 1
    period = recorded[0]["provision"]["period"]
    assert period["end"][:10] == str(today() + timedelta(days=30))
    records = list(demo.app.state.audit.records(patient_id=pid(2)))
    assert "consent-recorded" in {r.action for r in records}


def test_consent_needs_confirmation_and_a_valid_period(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    csrf = _csrf(_page(demo, 2))
    for form in (
        {"dagar": "30"},
        {"dagar": "0", "bekraftat": "ja"},
        {"dagar": "x", "bekraftat": "ja"},
    ):
        response = demo.client.post(f"/patient/{pid(2)}/samtycke", data={**form, "csrf": csrf})
        assert response.status_code == 400
    assert "Apixaban" not in _page(demo, 2)


def test_emergency_access_from_the_page_is_shown_while_open(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    csrf = _csrf(_page(demo, 2))
    missing = demo.client.post(f"/patient/{pid(2)}/nodatkomst", data={"csrf": csrf, "skal": " "})
    assert missing.status_code == 400
    response = demo.client.post(
        f"/patient/{pid(2)}/nodatkomst",
        data={"csrf": csrf, "skal": "Medvetslös, kan inte tillfrågas"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    html = _page(demo, 2)
    assert "Nödåtkomst är öppen</strong> till" in html
    assert "Apixaban 2,5 mg tablett" in html
    records = list(demo.app.state.audit.records(patient_id=pid(2)))
    assert any(r.emergency for r in records)


def test_work_list_page(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    html = demo.client.get("/arbetslista", params={"inom": "7"}).text
    assert f'href="/patient/{pid(1)}"' in html
    assert "Medicinsk vårdplan saknas" in html
    assert str(today() + timedelta(days=5)) in html
    assert demo.client.get("/arbetslista", params={"inom": "x"}).status_code == 400


def test_print_view_has_no_forms_and_says_when_printed(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    html = demo.client.get(f"/patient/{pid(0)}/utskrift").text
    assert '<form method="post" action="/patient' not in html
    assert "Utskriven" in html
    assert "Apixaban 2,5 mg tablett" in html


def test_the_page_is_small_and_self_contained(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    html = _page(demo, 0)
    css = demo.client.get("/static/hub.css").content
    assert len(gzip.compress(html.encode())) + len(gzip.compress(css)) < 60 * 1024
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html


def test_a_relative_sees_municipal_data_and_no_forms(demo: DemoHub) -> None:
    _sign_in(demo, demo.headers(DEMO_RELATIVE, "patient/*.read", None, None))
    html = _page(demo, 0)
    assert "Apixaban" not in html
    assert "Registrera samtycke" not in html
    assert "SIP hemsjukvård och hemtjänst" in html


def test_sign_out_needs_the_csrf_token(demo: DemoHub) -> None:
    _sign_in(demo, demo.nurse)
    csrf = _csrf(_page(demo, 0))
    assert demo.client.post("/logga-ut", data={"csrf": "0" * 40}).status_code == 403
    response = demo.client.post("/logga-ut", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    demo.client.cookies.clear()
    assert demo.client.get(f"/patient/{pid(0)}").status_code == 401


def test_a_demo_user_signs_in_on_a_server_that_is_not_on_port_8000(
    demo_db: Path, tmp_path: Path
) -> None:
    """The demo user's token is minted for the base URL this server serves (here
    http://127.0.0.1:8765/fhir, no HUB_TOKEN_AUDIENCE or HUB_BASE_URL set), so the
    sign-in works on any host and port, not only the default 127.0.0.1:8000."""
    shutil.copy(demo_db, tmp_path / "hub.db")
    generate_signing_key(tmp_path / "signing.pem", tmp_path / "jwks.json")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        auth="on",
        jwks_path=str(tmp_path / "jwks.json"),
        token_signing_key_path=str(tmp_path / "signing.pem"),
        token_revocation_path=str(tmp_path / "revoked.json"),
        audit_key_path=str(tmp_path / "audit.pem"),
        patient_id_secret=SECRET,
        web_demo_users=True,
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8765") as client:
        signed_in = client.post("/logga-in", data={"demo": "sjukskoterska"}, follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        assert client.get("/").status_code == 200
        assert "Logga ut" in client.get("/").text
