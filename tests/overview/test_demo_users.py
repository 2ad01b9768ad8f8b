"""Today's demo shows each section of the overview to each demo user (hub.demo.users), and
each user only what the access rules allow: the relative nothing from the region."""

from __future__ import annotations

from typing import Any

import pytest

from hub.demo.exports import demo_people
from hub.demo.load import demo_patient_id
from hub.demo.users import DEMO_CLIENTS
from tests.overview.conftest import PATIENTS, SECRET, DemoHub, entries, section

CLINICAL = ("18776-5", "care-team-contacts", "timeline")
REGION = ("10160-0", "48765-2", "11450-4")
USERS = {c.variable: c for c in DEMO_CLIENTS if c.sees is not None}
EXPECTED = {
    "NURSE": (*CLINICAL, *REGION, "104605-1"),
    "PHYSICIAN": (*CLINICAL, *REGION, "104605-1"),
    "HOSPITAL": (*CLINICAL, *REGION),
    "RELATIVE": ("18776-5", "timeline", "104605-1"),
}


def _first_seen(variable: str) -> str:
    client = USERS[variable]
    assert client.sees is not None
    index = next(i for i in range(PATIENTS) if client.sees(i, PATIENTS))
    return demo_patient_id(demo_people(PATIENTS, 0)[index], SECRET)


def _headers(demo: DemoHub, variable: str) -> dict[str, str]:
    client = USERS[variable]
    return demo.headers(
        client.subject, " ".join(client.scopes), client.care_provider, client.care_unit
    )


def _bundle(demo: DemoHub, variable: str) -> dict[str, Any]:
    response = demo.client.get(
        f"/fhir/Patient/{_first_seen(variable)}/$overview", headers=_headers(demo, variable)
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("variable", sorted(EXPECTED))
def test_each_demo_user_sees_the_sections_of_their_patient(demo: DemoHub, variable: str) -> None:
    bundle = _bundle(demo, variable)
    for code in EXPECTED[variable]:
        assert section(bundle, code).get("entry"), (variable, code)
    indicators = section(bundle, "indicators")
    assert indicators["extension"], variable


def test_the_relative_sees_nothing_from_the_region(demo: DemoHub) -> None:
    bundle = _bundle(demo, "RELATIVE")
    for code in REGION:
        assert entries(bundle, code) == []
