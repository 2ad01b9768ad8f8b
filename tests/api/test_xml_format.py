"""application/fhir+xml on read, write, search and transactions; _format and _pretty;
XML bodies go through the hardened parser (no DOCTYPE, no entities, a size limit)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

NS = {"f": "http://hl7.org/fhir"}
XML = {"Content-Type": "application/fhir+xml", "Accept": "application/fhir+xml"}
PATIENT = (
    b'<Patient xmlns="http://hl7.org/fhir"><id value="x1"/><active value="true"/>'
    b'<name><family value="\xc3\x85berg"/><given value="\xc3\x85sa"/></name>'
    b'<gender value="female"/><birthDate value="1940-05-05"/></Patient>'
)


def _xml(response_content: bytes) -> etree._Element:
    return etree.fromstring(response_content)


def test_an_xml_resource_is_stored_and_read_back_as_xml_and_json(any_client: TestClient) -> None:
    put = any_client.put("/fhir/Patient/x1", content=PATIENT, headers=XML)
    assert put.status_code == 201, put.text
    assert put.headers["content-type"].startswith("application/fhir+xml")
    assert _xml(put.content).find("f:gender", NS).get("value") == "female"
    as_json = any_client.get("/fhir/Patient/x1").json()
    assert as_json["name"] == [{"family": "Åberg", "given": ["Åsa"]}]
    assert as_json["active"] is True
    read = any_client.get("/fhir/Patient/x1", params={"_format": "xml"})
    assert read.headers["content-type"].startswith("application/fhir+xml")
    root = _xml(read.content)
    assert etree.QName(root).localname == "Patient"
    assert root.find("f:name/f:family", NS).get("value") == "Åberg"
    accept = any_client.get("/fhir/Patient/x1", headers={"Accept": "application/fhir+xml"})
    assert _xml(accept.content).find("f:birthDate", NS).get("value") == "1940-05-05"


def test_search_history_and_capabilities_answer_in_xml(client: TestClient) -> None:
    client.put("/fhir/Patient/x1", content=PATIENT, headers=XML)
    bundle = _xml(
        client.get("/fhir/Patient", params={"_format": "xml", "gender": "female"}).content
    )
    assert etree.QName(bundle).localname == "Bundle"
    assert bundle.find("f:entry/f:resource/f:Patient/f:id", NS).get("value") == "x1"
    history = _xml(client.get("/fhir/Patient/x1/_history", params={"_format": "xml"}).content)
    assert history.find("f:type", NS).get("value") == "history"
    metadata = client.get("/fhir/metadata", params={"_format": "xml"})
    formats = [f.get("value") for f in _xml(metadata.content).findall("f:format", NS)]
    assert "application/fhir+xml" in formats and "application/fhir+json" in formats


def test_a_subsetted_resource_is_written_as_xml_too(client: TestClient) -> None:
    client.put("/fhir/Patient/x1", content=PATIENT, headers=XML)
    read = client.get("/fhir/Patient/x1", params={"_format": "xml", "_elements": "gender"})
    root = _xml(read.content)
    assert root.find("f:gender", NS).get("value") == "female"
    assert root.find("f:name", NS) is None


def test_an_xml_transaction_is_processed(any_client: TestClient) -> None:
    bundle = (
        b'<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>'
        b'<entry><fullUrl value="urn:uuid:6f0e1c55-4c52-4b55-9f5c-0e3f8c1b1a11"/>'
        b"<resource>" + PATIENT.replace(b'<id value="x1"/>', b"") + b"</resource>"
        b'<request><method value="POST"/><url value="Patient"/></request></entry></Bundle>'
    )
    response = any_client.post("/fhir", content=bundle, headers=XML)
    assert response.status_code == 200, response.text
    answer = _xml(response.content)
    assert answer.find("f:type", NS).get("value") == "transaction-response"
    assert answer.find("f:entry/f:response/f:status", NS).get("value").startswith("201")


def test_pretty_json_is_indented(client: TestClient) -> None:
    client.put("/fhir/Patient/x1", content=PATIENT, headers=XML)
    plain = client.get("/fhir/Patient/x1").text
    pretty = client.get("/fhir/Patient/x1", params={"_pretty": "true"}).text
    assert "\n" not in plain and "\n  " in pretty


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE Patient [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Patient xmlns="http://hl7.org/fhir"><id value="&x;"/></Patient>',
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b'<Patient xmlns="http://hl7.org/fhir"><id value="&lol2;"/></Patient>',
        b"<Patient><id value='x'/></Patient>",
        b'<Patient xmlns="http://hl7.org/fhir"><id value="x"/>',
        b'<Patient xmlns="http://hl7.org/fhir"><gender value="robot"/></Patient>',
        b'<MedicinalProduct xmlns="http://hl7.org/fhir"><id value="x"/></MedicinalProduct>',
    ],
)
def test_bad_or_hostile_xml_is_400_and_nothing_is_stored(client: TestClient, body: bytes) -> None:
    response = client.post("/fhir/Patient", content=body, headers=XML)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "passwd" not in response.text and "root:" not in response.text
    assert client.get("/fhir/Patient").json()["total"] == 0


def test_an_xml_body_over_the_size_limit_is_413(make_client: Any) -> None:
    small = make_client(max_body_bytes=1024)
    big = PATIENT.replace(b"<active", b"<!--" + b"x" * 2000 + b"--><active")
    response = small.post("/fhir/Patient", content=big, headers=XML)
    assert response.status_code == 413
