"""Parsing of the municipal CSV export: encodings, separators, zip safety, row errors."""

from __future__ import annotations

import importlib
import io
import zipfile
from pathlib import Path

import pytest

from adapters.errors import AdapterError, InputTooLarge
from adapters.municipal_csv import parse, parse_files, read_folder
from adapters.municipal_csv.parse import MAX_ENTRIES

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "municipal_csv"
MANIFEST = (
    "formatversion;vardgivare_hsaid;vardgivare_namn;exportdatum\n"
    "1;SE2120000001-1000;Exempelby kommun;2025-04-01\n"
)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _export(**files: str) -> dict[str, bytes]:
    result = {"manifest.csv": MANIFEST.encode()}
    result.update({f"{name}.csv": text.encode() for name, text in files.items()})
    return result


def _error(files: dict[str, bytes]) -> AdapterError:
    with pytest.raises(AdapterError) as caught:
        parse_files(files)
    return caught.value


def test_each_golden_zip_holds_exactly_the_csv_files_of_its_export_folder() -> None:
    for case in sorted(GOLDEN.iterdir()):
        with zipfile.ZipFile(case / "input.zip") as archive:
            zipped = {
                Path(name).name: archive.read(name)
                for name in archive.namelist()
                if not name.startswith("..")
            }
        assert zipped == read_folder(case / "export"), case.name


def test_windows_1252_with_semicolons_and_ten_digit_numbers_is_read() -> None:
    patients = "personnummer;fornamn;efternamn\r\n380721-2349;Åsa;Öberg\r\n".encode("cp1252")
    export = parse_files({**_export(), "patienter.csv": patients})
    (patient,) = export.patients
    assert (patient.identity.value, patient.fornamn, patient.efternamn) == (
        "193807212349",
        "Åsa",
        "Öberg",
    )


def test_utf8_with_bom_and_commas_is_read() -> None:
    patients = "\ufeffpersonnummer,fornamn\r\n19380721-2349,Åsa\r\n".encode()
    export = parse_files({**_export(), "patienter.csv": patients})
    assert export.patients[0].fornamn == "Åsa"


def test_a_plus_sign_makes_a_ten_digit_number_a_century_older() -> None:
    export = parse_files(_export(patienter="personnummer\n121212+1212\n"))
    assert export.patients[0].identity.value == "191212121212"


def test_a_samordningsnummer_keeps_its_kind() -> None:
    export = parse_files(_export(patienter="personnummer\n19121272-1219\n"))
    assert export.patients[0].identity.kind == "samordningsnummer"


def test_a_wrong_check_digit_names_file_and_line_but_not_the_number() -> None:
    error = _error(_export(patienter="personnummer\n19380721-2349\n\n19121212-1213\n"))
    assert (error.code, error.location) == ("invalid-identifier", "patienter.csv:4")
    assert "1212" not in str(error)


def test_a_quoted_field_with_a_newline_keeps_the_line_of_the_row_start() -> None:
    text = 'personnummer;fornamn\n19380721-2349;"Anna\nMaria"\n19121212-1213;X\n'
    error = _error(_export(patienter=text))
    assert error.location == "patienter.csv:4"


def test_empty_spreadsheet_rows_are_skipped() -> None:
    export = parse_files(_export(patienter="personnummer;fornamn\n;\n19380721-2349;A\n;;\n"))
    assert len(export.patients) == 1


def test_an_unknown_column_is_refused_by_name_on_line_one() -> None:
    error = _error(_export(patienter="personummer\n19380721-2349\n"))
    assert (error.code, error.location) == ("csv-header", "patienter.csv:1")
    assert "personummer" in error.message


def test_a_missing_required_value_names_the_column() -> None:
    text = (
        "besok_id;personnummer;enhet_hsaid;besokstyp;start;status\n"
        "1;19380721-2349;SE2120000001-1001;hembesok;;genomford\n"
    )
    error = _error(_export(besok=text))
    assert (error.code, error.location) == ("missing-element", "besok.csv:2")
    assert "start" in error.message


def test_a_date_that_does_not_exist_is_refused() -> None:
    text = "mal_id;sip_id;beskrivning;status;maldatum\nM1;S1;Gå;pagaende;2025-02-30\n"
    error = _error(_export(sip_mal=text))
    assert (error.code, error.location) == ("invalid-timestamp", "sip_mal.csv:2")


def test_a_row_with_too_many_fields_is_refused() -> None:
    error = _error(_export(enheter="enhet_hsaid;namn\nSE2120000001-1001;A;B\n"))
    assert (error.code, error.location) == ("csv-malformed", "enheter.csv:2")


def test_a_repeated_id_names_the_second_row() -> None:
    text = "enhet_hsaid;namn\nSE2120000001-1001;A\nSE2120000001-1001;B\n"
    error = _error(_export(enheter=text))
    assert (error.code, error.location) == ("csv-duplicate-id", "enheter.csv:3")


def test_an_unknown_file_is_refused() -> None:
    error = _error({**_export(), "patient.csv": b"personnummer\n"})
    assert (error.code, error.location) == ("csv-unknown-file", "patient.csv")


def test_an_export_without_manifest_is_refused() -> None:
    error = _error({"patienter.csv": b"personnummer\n"})
    assert error.location == "manifest.csv"


def test_another_format_version_is_refused() -> None:
    error = _error({"manifest.csv": MANIFEST.replace("\n1;", "\n2;").encode()})
    assert (error.code, error.location) == ("unsupported-version", "manifest.csv:2")


def test_utf16_is_refused_with_a_hint() -> None:
    error = _error({**_export(), "enheter.csv": "enhet_hsaid\tnamn\n".encode("utf-16")})
    assert error.code == "csv-encoding"


def test_a_zip_with_files_in_one_folder_is_read() -> None:
    data = _zip({f"export/{name}": body for name, body in _export().items()})
    assert parse(data, filename="x.zip").manifest.vardgivare_hsaid == "SE2120000001-1000"


def test_macos_metadata_entries_in_a_zip_are_ignored() -> None:
    data = _zip({**_export(), "__MACOSX/._manifest.csv": b"\x00\x05"})
    assert parse(data, filename="x.zip").units == ()


@pytest.mark.parametrize(
    "name", ["../manifest.csv", "/etc/manifest.csv", "a\\..\\b.csv", "C:x.csv"]
)
def test_zip_entries_that_leave_the_folder_are_refused(name: str) -> None:
    data = _zip({**_export(), name: b"x"})
    with pytest.raises(AdapterError) as caught:
        parse(data, filename="x.zip")
    assert caught.value.code == "zip-path-traversal"


def test_a_zip_with_too_many_entries_is_refused() -> None:
    data = _zip({f"f{i}.csv": b"" for i in range(MAX_ENTRIES + 1)})
    with pytest.raises(InputTooLarge):
        parse(data, filename="x.zip")


def test_a_zip_bomb_is_stopped_while_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("adapters.municipal_csv.parse")
    monkeypatch.setattr(module, "MAX_TOTAL_BYTES", 1_000_000)
    bomb = _zip({**_export(), "patienter.csv": b"personnummer\n" + b" " * 5_000_000})
    assert len(bomb) < 50_000
    with pytest.raises(InputTooLarge) as caught:
        parse(bomb, filename="x.zip")
    assert caught.value.location == "x.zip!patienter.csv"


def test_bytes_that_are_not_a_zip_are_refused() -> None:
    with pytest.raises(AdapterError) as caught:
        parse(MANIFEST.encode(), filename="manifest.csv")
    assert (caught.value.code, caught.value.location) == ("zip-malformed", "manifest.csv")


def test_records_keep_names_out_of_repr() -> None:
    export = parse_files(_export(patienter="personnummer;fornamn\n19380721-2349;Astrid\n"))
    assert "Astrid" not in repr(export)
    assert "2349" not in repr(export)
