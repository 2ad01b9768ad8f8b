"""Fuzzing the RIVTA parsers: random and mutated input may only raise AdapterError."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import rivta_carecontacts, rivta_careplans
from adapters.errors import AdapterError
from adapters.model import TranslationContext
from adapters.xml import parse_xml

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
PLAN = (GOLDEN / "rivta_careplans" / "01_sip_region_kommun" / "input.xml").read_bytes()
CONTACT = (GOLDEN / "rivta_carecontacts" / "03_vardtillfalle" / "input.xml").read_bytes()
CONTEXT = TranslationContext(patient_id_secret=b"fuzz", source_system="SE2321000016-AGG1")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run_both(data: bytes) -> None:
    for adapter in (rivta_careplans, rivta_carecontacts):
        try:
            records = adapter.parse(data, filename="fuzz.xml")
            adapter.translate(records, CONTEXT)
        except AdapterError:
            pass


@st.composite
def _mutated(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if action == "flip":
            data[position] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        elif action == "insert":
            data[position:position] = draw(
                st.sampled_from([b"<", b">", b"&", b"]]>", b"<x/>", b"\x00", b"1"])
            )
        else:
            del data[position:]
        if not data:
            break
    return bytes(data)


@st.composite
def _text_mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """Swap the text of one element for arbitrary text: stays well-formed, hits translate."""
    parts = base.split(b">")
    index = draw(st.integers(1, len(parts) - 1))
    _, _, tail = parts[index].partition(b"<")
    if not tail:
        return base
    replacement = draw(st.text(alphabet="0123456789ABCDEFSEX-+ .:åä", max_size=20)).encode()
    parts[index] = replacement + b"<" + tail
    return b">".join(parts)


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_raise_only_adapter_errors(data: bytes) -> None:
    _run_both(data)
    try:
        parse_xml(data, filename="fuzz.xml")
    except AdapterError as error:
        assert error.code


@FUZZ
@given(st.one_of(_mutated(PLAN), _mutated(CONTACT)))
def test_mutated_valid_responses_raise_only_adapter_errors(data: bytes) -> None:
    _run_both(data)


@FUZZ
@given(st.one_of(_text_mutated(PLAN), _text_mutated(CONTACT)))
def test_responses_with_changed_values_raise_only_adapter_errors(data: bytes) -> None:
    _run_both(data)
