"""The hardened parser: XXE, billion laughs, size limit, SOAP unwrapping, locations."""

from pathlib import Path

import pytest

from adapters import rivta_careplans
from adapters.errors import AdapterError, ForbiddenEntity, InputTooLarge, MalformedInput
from adapters.xml import parse_xml, xml_path

EXAMPLES = Path("/work/shared/data/rivta/examples")
GOLDEN = Path(__file__).resolve().parents[2] / "golden"
PLAN = (GOLDEN / "rivta_careplans" / "01_sip_region_kommun" / "input.xml").read_bytes()


def test_an_external_entity_is_refused_and_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'
    ).encode()
    with pytest.raises(ForbiddenEntity) as caught:
        parse_xml(data, filename="xxe.xml")
    assert caught.value.code == "xml-forbidden-entity"
    assert "TOP-SECRET" not in str(caught.value)


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{entities}]><r>&l9;</r>'.encode()
    with pytest.raises(ForbiddenEntity):
        parse_xml(data, filename="lol.xml")


def test_a_doctype_in_utf16_is_refused_too() -> None:
    data = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>'.encode(
        "utf-16"
    )
    with pytest.raises(ForbiddenEntity):
        parse_xml(data, filename="u16.xml")


def test_an_undeclared_entity_reference_is_malformed_not_expanded() -> None:
    with pytest.raises(MalformedInput) as caught:
        parse_xml(b"<r>&x;</r>", filename="e.xml")
    assert caught.value.location == "e.xml:1"


def test_input_over_the_byte_limit_is_refused_before_parsing() -> None:
    with pytest.raises(InputTooLarge) as caught:
        parse_xml(b"<r/>" * 100, filename="big.xml", max_bytes=50)
    assert caught.value.code == "too-large"


def test_the_size_limit_reaches_the_adapter() -> None:
    with pytest.raises(InputTooLarge):
        rivta_careplans.parse(PLAN, filename="p.xml", max_bytes=1000)


def test_a_soap_fault_is_a_clear_error() -> None:
    data = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b"<s:Fault><faultcode>s:Server</faultcode></s:Fault></s:Body></s:Envelope>"
    )
    with pytest.raises(AdapterError) as caught:
        parse_xml(data, filename="f.xml")
    assert caught.value.code == "soap-fault"


def test_xml_paths_use_local_names_and_index_repeated_siblings() -> None:
    root = parse_xml(b'<a xmlns="urn:x"><b/><b><c/></b></a>', filename="p.xml")
    c = root[1][0]
    assert xml_path(c) == "/a/b[2]/c"


def test_another_contract_version_is_refused_by_namespace() -> None:
    data = PLAN.replace(b"GetCarePlansResponder:2", b"GetCarePlansResponder:1")
    with pytest.raises(AdapterError) as caught:
        rivta_careplans.parse(data, filename="v1.xml")
    assert caught.value.code == "unsupported-version"


def test_foreign_namespace_extension_elements_are_ignored() -> None:
    data = PLAN.replace(
        b"</core:carePlanBody>",
        b'<x:extra xmlns:x="urn:example:extension">ignored</x:extra></core:carePlanBody>',
    )
    records = rivta_careplans.parse(data, filename="ext.xml")
    assert records.care_plan[0].care_plan_body.type_of_care_plan_enum == "SIP"


def test_a_producer_error_result_rejects_the_response() -> None:
    data = (
        (EXAMPLES / "GetCarePlans_03_empty.xml")
        .read_bytes()
        .replace(
            b"<core:resultCode>OK</core:resultCode>",
            b"<core:resultCode>ERROR</core:resultCode><core:errorCode>INVALID_REQUEST</core:errorCode>",
        )
    )
    with pytest.raises(AdapterError) as caught:
        rivta_careplans.parse(data, filename="err.xml")
    assert caught.value.code == "source-error"
