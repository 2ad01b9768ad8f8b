"""Fuzzing the municipal CSV parser: whatever the bytes, the only failure is AdapterError."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.errors import AdapterError
from adapters.model import TranslationContext
from adapters.municipal_csv import parse, parse_files, read_folder, translate

FULL = Path(__file__).resolve().parents[2] / "golden" / "municipal_csv" / "full_export"
FILES = read_folder(FULL / "export")
ZIP = (FULL / "input.zip").read_bytes()
CONTEXT = TranslationContext(patient_id_secret=b"fuzz", source_system="SE2120000001-SYS1")
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_and_translate_files(files: dict[str, bytes]) -> None:
    try:
        translate(parse_files(files), CONTEXT)
    except AdapterError as error:
        assert error.code


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_raise_nothing_but_adapter_errors(data: bytes) -> None:
    try:
        parse(data, filename="x.zip")
    except AdapterError as error:
        assert error.code


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_behind_a_zip_signature_raise_nothing_but_adapter_errors(tail: bytes) -> None:
    try:
        parse(b"PK\x03\x04" + tail, filename="x.zip")
    except AdapterError as error:
        assert error.code


@FUZZ
@given(st.integers(min_value=0, max_value=len(ZIP) - 1), st.binary(min_size=1, max_size=8))
def test_a_mutated_zip_raises_nothing_but_adapter_errors(position: int, patch: bytes) -> None:
    mutated = ZIP[:position] + patch + ZIP[position + len(patch) :]
    try:
        translate(parse(mutated, filename="x.zip"), CONTEXT)
    except AdapterError as error:
        assert error.code


@FUZZ
@given(
    st.sampled_from(sorted(FILES)),
    st.integers(min_value=0, max_value=400),
    st.binary(min_size=0, max_size=12),
    st.integers(min_value=0, max_value=12),
)
def test_a_mutated_csv_file_raises_nothing_but_adapter_errors(
    name: str, position: int, insert: bytes, delete: int
) -> None:
    original = FILES[name]
    position = min(position, len(original))
    mutated = original[:position] + insert + original[position + delete :]
    _parse_and_translate_files({**FILES, name: mutated})


@FUZZ
@given(
    st.sampled_from(sorted(FILES)),
    st.text(alphabet=st.sampled_from(list(';,"\n\r\tjaXx0123456789-+SEÅö ')), max_size=60),
)
def test_csv_lines_of_separators_quotes_and_digits_raise_nothing_but_adapter_errors(
    name: str, line: str
) -> None:
    _parse_and_translate_files({**FILES, name: FILES[name] + line.encode("utf-8")})


def test_the_fuzzed_zip_is_valid_before_mutation() -> None:
    buffer = io.BytesIO(ZIP)
    assert zipfile.ZipFile(buffer).testzip() is None
    assert len(translate(parse(ZIP, filename="x.zip"), CONTEXT)) > 10
