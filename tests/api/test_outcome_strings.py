"""An OperationOutcome is valid FHIR whatever the client sent: an element name or parameter
quoted in it keeps only characters a FHIR string may hold (found by schemathesis)."""

from __future__ import annotations

import re

import orjson
from fastapi.testclient import TestClient

from hub.fhir_api.outcome import fhir_string

FHIR_STRING = re.compile(r"^[ \r\n\t\S]+$")


def test_fhir_string_replaces_what_a_fhir_string_may_not_hold():
    assert fhir_string("given\x0bname\u00a0x\x01") == "given\ufffdname\ufffdx\ufffd"
    assert fhir_string("Patient.name[0]") == "Patient.name[0]"
    assert fhir_string("\u2003") == "\ufffd"


def test_an_element_name_with_control_characters_is_not_echoed_raw(client: TestClient):
    body = orjson.dumps({"resourceType": "Patient", "na\x0bme\u3000": [{"family": "x"}]})
    response = client.post("/fhir/Patient", content=body)
    assert response.status_code == 400
    for issue in response.json()["issue"]:
        assert FHIR_STRING.match(issue["diagnostics"])
        for expression in issue.get("expression", []):
            assert FHIR_STRING.match(expression)
            assert "\x0b" not in expression
