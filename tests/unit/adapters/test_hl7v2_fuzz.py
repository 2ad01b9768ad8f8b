"""Fuzzing the HL7 v2 ADT parser: whatever the bytes, the only failure is AdapterError."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.errors import AdapterError
from adapters.hl7v2_adt import parse, translate
from adapters.model import TranslationContext

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "hl7v2_adt"
VALID = [
    (case / "input.hl7").read_bytes()
    for case in sorted(GOLDEN.iterdir())
    if (case / "expected.json").exists()
]
CONTEXT = TranslationContext(patient_id_secret=b"fuzz", source_system="SE2321000001-EHR1")
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_and_translate(data: bytes) -> None:
    try:
        translate(parse(data, filename="m.hl7"), CONTEXT)
    except AdapterError as error:
        assert error.code


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_raise_nothing_but_adapter_errors(data: bytes) -> None:
    _parse_and_translate(data)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("MSHPIDV1|^~\\&\r\n0123456789AEIO.+-")), max_size=300))
def test_random_segment_like_text_raises_nothing_but_adapter_errors(text: str) -> None:
    _parse_and_translate(b"MSH|^~\\&|" + text.encode())


@FUZZ
@given(
    st.sampled_from(VALID),
    st.integers(min_value=0, max_value=400),
    st.binary(min_size=0, max_size=10),
    st.integers(min_value=0, max_value=10),
)
def test_a_mutated_valid_message_raises_nothing_but_adapter_errors(
    message: bytes, position: int, insert: bytes, delete: int
) -> None:
    position = min(position, len(message))
    _parse_and_translate(message[:position] + insert + message[position + delete :])


@FUZZ
@given(
    st.sampled_from(VALID),
    st.sampled_from([b"|", b"^", b"~", b"\\", b"&", b"\r", b"\n", b"\x00", b"\xff"]),
    st.integers(min_value=0, max_value=400),
)
def test_a_valid_message_with_a_stray_delimiter_raises_nothing_but_adapter_errors(
    message: bytes, delimiter: bytes, position: int
) -> None:
    position = min(position, len(message))
    _parse_and_translate(message[:position] + delimiter + message[position:])


def test_the_fuzzed_messages_are_valid_before_mutation() -> None:
    assert len(VALID) >= 6
    for message in VALID:
        assert translate(parse(message, filename="m.hl7"), CONTEXT)
