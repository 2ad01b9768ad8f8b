"""Error answers: every status is an OperationOutcome, names the element, leaks nothing."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from swedish_data import (
    PNR_SYSTEM,
    TOLVAN,
    assert_outcome,
    create,
    patient,
    personnummer,
    wrong_check_digit,
)


def test_malformed_json_is_400(client: TestClient) -> None:
    assert_outcome(client.post("/fhir/Patient", content=b'{"resourceType": "Patient",'), 400)


@pytest.mark.parametrize("body", [b'{"resourceType": "Bundle",', b"", b"[]"])
def test_a_bundle_body_that_is_not_a_json_object_is_400_and_stores_nothing(
    client: TestClient, body: bytes
) -> None:
    """The base URL parses its body in the request thread, not the event loop; the answers
    are the same as for a resource body."""
    assert_outcome(client.post("/fhir", content=body), 400)
    assert client.get("/fhir/Patient", params={"_summary": "count"}).json()["total"] == 0


def test_an_empty_body_is_400(client: TestClient) -> None:
    assert_outcome(client.post("/fhir/Patient", content=b""), 400)


def test_a_json_array_instead_of_a_resource_is_400(client: TestClient) -> None:
    assert_outcome(client.post("/fhir/Patient", content=b"[]"), 400)


def test_an_unknown_element_is_400_naming_its_path(any_client: TestClient) -> None:
    body = assert_outcome(
        any_client.post("/fhir/Patient", json={**patient(), "foo": "bar"}), 400, "Patient.foo"
    )
    assert body["issue"][0]["code"] in ("structure", "invalid")


def test_an_unknown_nested_element_names_the_nested_path(client: TestClient) -> None:
    resource = patient()
    resource["name"][0]["smeknamn"] = "Tolle"
    assert_outcome(client.post("/fhir/Patient", json=resource), 400, "Patient.name[0].smeknamn")


def test_an_empty_string_element_is_400_naming_it(client: TestClient) -> None:
    resource = {**patient(), "name": [{"family": "", "given": ["Tolvan"]}]}
    assert_outcome(client.post("/fhir/Patient", json=resource), 400, "Patient.name[0].family")


def test_an_empty_object_and_an_empty_array_are_400(client: TestClient) -> None:
    assert_outcome(
        client.post("/fhir/Patient", json={**patient(), "telecom": []}), 400, "Patient.telecom"
    )
    assert_outcome(
        client.post("/fhir/Patient", json={**patient(), "maritalStatus": {}}),
        400,
        "Patient.maritalStatus",
    )


def test_a_wrong_primitive_type_is_400_naming_the_element(client: TestClient) -> None:
    assert_outcome(
        client.post("/fhir/Patient", json={**patient(), "birthDate": "12 december 1912"}),
        400,
        "Patient.birthDate",
    )


def test_a_code_outside_a_required_binding_is_400(client: TestClient) -> None:
    assert_outcome(
        client.post("/fhir/Patient", json={**patient(), "gender": "man"}), 400, "Patient.gender"
    )


def test_a_missing_resource_type_is_400(client: TestClient) -> None:
    resource = patient()
    del resource["resourceType"]
    assert_outcome(client.post("/fhir/Patient", json=resource), 400, "resourceType")


def test_a_resource_of_another_type_than_the_url_is_400(client: TestClient) -> None:
    assert_outcome(client.post("/fhir/Organization", json=patient()), 400, "resourceType")


def test_a_wrong_personnummer_check_digit_is_422_and_the_number_is_never_echoed(
    any_client: TestClient,
) -> None:
    bad = wrong_check_digit(personnummer("19640823", "323"))
    response = any_client.post("/fhir/Patient", json=patient(bad))
    assert_outcome(response, 422, "Patient.identifier[0].value")
    assert bad not in response.text
    assert bad[2:] not in response.text  # not the 10-digit form either
    assert bad[:8] not in response.text  # nor the date of birth part
    assert all(bad not in value for value in response.headers.values())
    assert any_client.get("/fhir/Patient").json()["total"] == 0


def test_a_wrong_check_digit_in_a_second_identifier_names_that_index(client: TestClient) -> None:
    resource = patient()
    resource["identifier"].append({"system": PNR_SYSTEM, "value": wrong_check_digit(TOLVAN)})
    response = client.post("/fhir/Patient", json=resource)
    assert_outcome(response, 422, "Patient.identifier[1].value")
    assert wrong_check_digit(TOLVAN) not in response.text


def test_an_impossible_birth_date_in_a_personnummer_is_422_without_echo(
    client: TestClient,
) -> None:
    bad = "19121312" + "1212"  # month 13
    response = client.post("/fhir/Patient", json=patient(bad))
    assert_outcome(response, 422, "Patient.identifier[0].value")
    assert bad not in response.text


def test_an_unknown_resource_type_is_404(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/Journalanteckning/1"), 404)
    assert_outcome(client.get("/fhir/Journalanteckning"), 404)


def test_an_unknown_id_is_404(any_client: TestClient) -> None:
    assert_outcome(any_client.get("/fhir/Patient/finns-inte"), 404)


def test_an_invalid_id_is_400(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/Patient/" + "x" * 65), 400)


def test_an_unknown_route_is_404_as_an_operation_outcome(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/Patient/1/_history/1/extra"), 404)


def test_patch_is_405(client: TestClient) -> None:
    created = create(client, patient())
    response = client.patch(f"/fhir/Patient/{created['id']}", json=[])
    assert_outcome(response, 405)
    assert client.get(f"/fhir/Patient/{created['id']}").json()["meta"]["versionId"] == "1"


def test_delete_on_metadata_is_405(client: TestClient) -> None:
    assert_outcome(client.delete("/fhir/metadata"), 405)


def test_post_on_metadata_is_405(client: TestClient) -> None:
    assert_outcome(client.post("/fhir/metadata", json=patient()), 405)


def test_delete_on_system_history_is_405(client: TestClient) -> None:
    assert_outcome(client.delete("/fhir/_history"), 405)


def test_an_unsupported_operation_is_404(client: TestClient) -> None:
    created = create(client, patient())
    assert_outcome(client.get(f"/fhir/Patient/{created['id']}/$sammanfatta"), 404)


def test_a_body_over_the_configured_limit_is_413(make_client) -> None:
    client = make_client(max_body_bytes=2048)
    resource = patient(text={"status": "generated", "div": "<div>" + "x" * 4000 + "</div>"})
    response = client.post("/fhir/Patient", content=json.dumps(resource).encode())
    assert_outcome(response, 413)
    assert client.get("/fhir/Patient").json()["total"] == 0


def test_a_streamed_body_over_the_limit_is_413_without_content_length(make_client) -> None:
    client = make_client(max_body_bytes=2048)
    payload = json.dumps(patient(extra_note="y" * 5000)).encode()

    def chunks():
        for start in range(0, len(payload), 512):
            yield payload[start : start + 512]

    response = client.post("/fhir/Patient", content=chunks())
    assert_outcome(response, 413)


def test_a_body_within_the_limit_is_accepted(make_client) -> None:
    client = make_client(max_body_bytes=2048)
    assert client.post("/fhir/Patient", json=patient()).status_code == 201


def test_a_transaction_over_the_limit_is_413(make_client) -> None:
    client = make_client(max_body_bytes=1024)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": patient(), "request": {"method": "POST", "url": "Patient"}}
            for _ in range(10)
        ],
    }
    assert_outcome(client.post("/fhir", json=bundle), 413)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/fhir/Patient", b"nej", 400),
        ("GET", "/fhir/Patient?birthdate=igar", None, 400),
        ("GET", "/fhir/Patient?_count=-1", None, 400),
        ("GET", "/fhir/Patient/finns-inte", None, 404),
        ("GET", "/fhir/Patient/finns-inte/_history", None, 404),
        ("GET", "/fhir/Patient/finns-inte/$everything", None, 404),
        ("POST", "/fhir", b'{"resourceType": "Bundle", "type": "document"}', 400),
        ("POST", "/fhir", b'{"resourceType": "Patient"}', 400),
    ],
)
def test_every_error_is_an_operation_outcome_without_internals(
    client: TestClient, method: str, path: str, body: bytes | None, status: int
) -> None:
    response = client.request(method, path, content=body)
    outcome = assert_outcome(response, status)
    for issue in outcome["issue"]:
        text = issue.get("diagnostics", "")
        assert "sqlalchemy" not in text.lower()
        assert "pydantic" not in text.lower()
        assert "errors.pydantic.dev" not in text


def test_a_bad_search_parameter_value_names_the_parameter(client: TestClient) -> None:
    assert_outcome(client.get("/fhir/Patient?birthdate=igar"), 400, "birthdate")


SENTINEL = wrong_check_digit(TOLVAN)


@pytest.mark.parametrize(
    "extra",
    [
        {"birthDate": SENTINEL},
        {"birthDate": int(SENTINEL)},
        {"active": SENTINEL},
        {"gender": SENTINEL},
        {"identifier": SENTINEL},
        {"identifier": [{"system": PNR_SYSTEM, "value": int(SENTINEL)}]},
        {"identifier": [{"system": PNR_SYSTEM, "value": SENTINEL, "period": {"start": SENTINEL}}]},
        {"identifier": [{"system": "urn:oid:1.2.752.129.2.1.3.1", "value": SENTINEL}]},
        {"telecom": [{"system": "phone", "value": "070-1234567", "rank": SENTINEL}]},
        {"name": [{"family": "Tolvansson", "given": SENTINEL}]},
        {"address": [{"line": ["Storgatan 1"], "period": SENTINEL}]},
    ],
    ids=lambda extra: next(iter(extra)),
)
def test_rejected_resources_never_echo_the_submitted_number(
    client: TestClient, extra: dict
) -> None:
    response = client.post("/fhir/Patient", json={**patient(), **extra})
    assert response.status_code in (400, 422)
    assert_outcome(response, response.status_code)
    assert SENTINEL not in response.text
    assert SENTINEL[2:] not in response.text
