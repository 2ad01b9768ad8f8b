"""Read a municipal CSV export (a zip or a folder of fixed-name CSV files) into records.

What spreadsheets produce is accepted: UTF-8 with or without BOM or Windows-1252 (detected
per file), `;`, `,` or tab separators (detected from the header line), quoted fields, blank
trailing rows. Everything else is checked strictly: fixed file names, fixed column names,
required values, dates, HSA-ids and person identifiers. The first bad value rejects the
whole export with its file and line, never with the value itself.

Zip input is bounded (entry count, total uncompressed size, enforced while reading, not
trusted from the header) and entry names may not leave the archive (no `..`, no absolute
paths).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import NoReturn, TypeVar

from adapters.errors import (
    AdapterError,
    InputTooLarge,
    InvalidValue,
    MalformedInput,
    MissingElement,
    SchemaViolation,
    UnsupportedVersion,
)
from adapters.identity import PersonIdentity, parse_person_identity
from adapters.municipal_csv.records import (
    ActivityRow,
    CareUnitRow,
    GoalRow,
    Manifest,
    MunicipalExport,
    PatientRow,
    SipRow,
    StaffRow,
    TeamMemberRow,
    VisitRow,
)
from adapters.swedish_time import local_date_to_fhir, local_timestamp_to_fhir

__all__ = [
    "FILE_COLUMNS",
    "FORMAT_VERSION",
    "MAX_ENTRIES",
    "MAX_TOTAL_BYTES",
    "parse",
    "parse_files",
    "read_folder",
]

FORMAT_VERSION = "1"
MAX_ENTRIES = 32
"""Most entries a zip may hold (the format has nine files)."""
MAX_TOTAL_BYTES = 64 * 1024 * 1024
"""Most bytes all files together may hold, uncompressed."""

_Row = TypeVar("_Row")

# file name -> (required columns, optional columns)
FILE_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "manifest.csv": (("formatversion", "vardgivare_hsaid", "vardgivare_namn", "exportdatum"), ()),
    "enheter.csv": (("enhet_hsaid", "namn"), ()),
    "patienter.csv": (("personnummer",), ("fornamn", "efternamn", "kon")),
    "personal.csv": (("personal_hsaid", "enhet_hsaid"), ("fornamn", "efternamn", "befattning")),
    "sip.csv": (
        (
            "sip_id",
            "personnummer",
            "status",
            "upprattad",
            "uppfoljning",
            "ansvarig_huvudman_hsaid",
            "enhet_hsaid",
        ),
        ("titel", "startdatum", "slutdatum", "ansvarig_huvudman_namn", "vardteam_id"),
    ),
    "sip_mal.csv": (("mal_id", "sip_id", "beskrivning", "status"), ("maldatum",)),
    "sip_insatser.csv": (
        ("insats_id", "sip_id", "beskrivning", "huvudman_hsaid", "utforare_hsaid", "status"),
        ("tidpunkt", "startdatum", "slutdatum", "mal_id"),
    ),
    "vardteam.csv": (
        ("vardteam_id", "personnummer", "enhet_hsaid", "medlem_hsaid", "roll"),
        ("namn", "samordnande"),
    ),
    "besok.csv": (
        ("besok_id", "personnummer", "enhet_hsaid", "besokstyp", "start", "status"),
        ("slut", "utforare_hsaid"),
    ),
}

_HSA_ID = re.compile(r"SE\d{10}-[0-9A-Za-z]{1,31}")
_SOURCE_ID = re.compile(r"[0-9A-Za-z._:-]{1,64}")
_DATE_FORMS = (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), re.compile(r"(\d{4})(\d{2})(\d{2})"))
_TIMESTAMP = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})[T ](\d{2}):?(\d{2})(?::?(\d{2}))?")
_TRUE = frozenset({"ja", "j", "x", "1", "true", "yes"})
_FALSE = frozenset({"nej", "n", "0", "false", "no", ""})
_IGNORED_ENTRY = re.compile(r"(^|/)(__MACOSX/|\.)")


def parse(data: bytes, *, filename: str) -> MunicipalExport:
    """Parse a zip archive holding the export's CSV files (at the root or in one folder)."""
    if not data.startswith(b"PK\x03\x04"):
        raise MalformedInput(
            "a municipal export is a zip archive of CSV files", code="zip-malformed"
        ).at(filename)
    return parse_files(_unzip(data, filename))


def read_folder(folder: Path) -> dict[str, bytes]:
    """The export's files from a folder, by name, ready for `parse_files`."""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if len(files) >= MAX_ENTRIES:
            raise InputTooLarge("the export folder holds too many files").at(folder.name)
        files[path.name] = path.read_bytes()
        total += len(files[path.name])
        if total > MAX_TOTAL_BYTES:
            raise InputTooLarge("the export is larger than the limit").at(path.name)
    return files


def parse_files(files: Mapping[str, bytes]) -> MunicipalExport:
    """Parse the export's files, given by plain file name (manifest.csv is required)."""
    names = {name.lower(): name for name in files}
    for lowered, name in sorted(names.items()):
        if lowered not in FILE_COLUMNS:
            raise SchemaViolation(
                "unknown file in the export; expected only: " + ", ".join(FILE_COLUMNS),
                code="csv-unknown-file",
            ).at(name)
    if "manifest.csv" not in names:
        raise MissingElement("the export has no manifest.csv").at("manifest.csv")

    def rows(file: str) -> list[_CsvRow]:
        name = names.get(file)
        return [] if name is None else list(_read_csv(file, files[name]))

    manifest_rows = rows("manifest.csv")
    if len(manifest_rows) != 1:
        raise SchemaViolation("manifest.csv must hold exactly one data row").at("manifest.csv")
    manifest = _manifest(manifest_rows[0])
    reference = date.fromisoformat(local_date_to_fhir(manifest.exportdatum))

    def each(file: str, build: Callable[[_CsvRow], _Row]) -> tuple[_Row, ...]:
        return tuple(build(row) for row in rows(file))

    export = MunicipalExport(
        manifest=manifest,
        units=each("enheter.csv", _unit),
        patients=each("patienter.csv", lambda row: _patient(row, reference)),
        staff=each("personal.csv", _staff),
        plans=each("sip.csv", lambda row: _sip(row, reference)),
        goals=each("sip_mal.csv", _goal),
        activities=each("sip_insatser.csv", _activity),
        team_members=each("vardteam.csv", lambda row: _team_member(row, reference)),
        visits=each("besok.csv", lambda row: _visit(row, reference)),
    )
    _check_unique(export)
    return export


# --- zip ---------------------------------------------------------------------------------


def _unzip(data: bytes, filename: str) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except Exception:  # zipfile raises assorted errors on hostile archives (struct, versions)
        raise MalformedInput("the zip archive cannot be read", code="zip-malformed").at(
            filename
        ) from None
    if len(entries) > MAX_ENTRIES:
        raise InputTooLarge("the zip archive holds too many entries").at(filename)
    files: dict[str, bytes] = {}
    folders: set[str] = set()
    budget = MAX_TOTAL_BYTES
    for entry in entries:
        name = entry.filename
        path = PurePosixPath(name)
        if (
            not name
            or "\\" in name
            or "\x00" in name
            or name.startswith("/")
            or re.match(r"[A-Za-z]:", name)
            or ".." in path.parts
        ):
            raise SchemaViolation(
                "zip entry name leaves the archive folder", code="zip-path-traversal"
            ).at(filename)
        if entry.is_dir() or _IGNORED_ENTRY.search(name):
            continue
        if len(path.parts) > 2:
            raise SchemaViolation(
                "zip entries must sit at the root or in one folder", code="zip-layout"
            ).at(f"{filename}!{path.name}")
        folders.add(str(path.parent))
        if path.name in files:
            raise SchemaViolation("zip holds a file twice", code="zip-layout").at(
                f"{filename}!{path.name}"
            )
        if entry.file_size > budget:
            raise InputTooLarge("the export is larger than the limit").at(f"{filename}!{path.name}")
        files[path.name] = _read_entry(archive, entry, budget, filename)
        budget -= len(files[path.name])
    if len(folders) > 1:
        raise SchemaViolation(
            "all export files must sit in the same folder of the zip", code="zip-layout"
        ).at(filename)
    return files


def _read_entry(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, budget: int, filename: str
) -> bytes:
    where = f"{filename}!{PurePosixPath(entry.filename).name}"
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(65536):
                size += len(chunk)
                if size > budget:
                    raise InputTooLarge("the export is larger than the limit").at(where)
                chunks.append(chunk)
    except AdapterError:
        raise
    except Exception:  # zlib, bz2, lzma, CRC and header errors: no common base class
        raise MalformedInput("zip entry cannot be read", code="zip-malformed").at(where) from None
    return b"".join(chunks)


# --- CSV ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CsvRow:
    file: str
    line: int
    values: dict[str, str]

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def fail(self, column: str, message: str) -> NoReturn:
        raise InvalidValue(f"column {column}: {message}").at(self.location)

    def text(self, column: str) -> str:
        value = self.values.get(column, "")
        if not value:
            raise MissingElement(f"column {column} must have a value").at(self.location)
        return value

    def optional(self, column: str) -> str | None:
        return self.values.get(column) or None


def _decode(raw: bytes, file: str) -> str:
    """Text of one CSV file: UTF-8 BOM -> utf-8-sig, valid UTF-8 -> utf-8, else cp1252."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MalformedInput(
            "UTF-16 is not supported; save as CSV UTF-8 or CSV (semicolon separated)",
            code="csv-encoding",
        ).at(file)
    if raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "cp1252"
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise MalformedInput(
            f"file is neither UTF-8 nor Windows-1252 text ({encoding} failed)",
            code="csv-encoding",
        ).at(file) from None


def _separator(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ";"


def _read_csv(file: str, raw: bytes) -> Iterator[_CsvRow]:
    text = _decode(raw, file)
    if "\x00" in text:
        raise MalformedInput("file contains NUL characters", code="csv-malformed").at(file)
    header_line = text.split("\n", 1)[0]
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_separator(header_line), strict=True
    )
    required, optional = FILE_COLUMNS[file]
    line = 1
    try:
        header = next(reader, None)
        if header is None:
            raise MissingElement("file is empty; a header row is required").at(f"{file}:1")
        columns = [column.strip().lower() for column in header]
        _check_header(file, columns, required, optional)
        previous_end = reader.line_num
        for fields in reader:
            line = previous_end + 1
            previous_end = reader.line_num
            stripped = [field.strip() for field in fields]
            if not any(stripped):
                continue
            if len(stripped) != len(columns):
                raise SchemaViolation(
                    f"row has {len(stripped)} fields, the header has {len(columns)}",
                    code="csv-malformed",
                ).at(f"{file}:{line}")
            yield _CsvRow(file, line, dict(zip(columns, stripped, strict=True)))
    except csv.Error:
        raise MalformedInput("CSV quoting is broken", code="csv-malformed").at(
            f"{file}:{reader.line_num or line}"
        ) from None


def _check_header(
    file: str, columns: list[str], required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    where = f"{file}:1"
    known = set(required) | set(optional)
    for column in columns:
        if column not in known:
            raise SchemaViolation(
                f"unknown column {column[:40]!r}; expected: " + ", ".join(required + optional),
                code="csv-header",
            ).at(where)
    if len(set(columns)) != len(columns):
        raise SchemaViolation("a column appears twice in the header", code="csv-header").at(where)
    missing = [column for column in required if column not in columns]
    if missing:
        raise SchemaViolation(
            "missing required column(s): " + ", ".join(missing), code="csv-header"
        ).at(where)


# --- values ------------------------------------------------------------------------------


def _hsa_id(row: _CsvRow, column: str) -> str:
    value = row.text(column)
    if not _HSA_ID.fullmatch(value):
        row.fail(column, "is not an HSA-id (SE + 10 digits + '-' + local part)")
    return value


def _optional_hsa_id(row: _CsvRow, column: str) -> str | None:
    return _hsa_id(row, column) if row.optional(column) else None


def _source_id(row: _CsvRow, column: str) -> str:
    value = row.text(column)
    if not _SOURCE_ID.fullmatch(value):
        row.fail(column, "must be 1-64 characters of letters, digits and . _ : -")
    return value


def _optional_source_id(row: _CsvRow, column: str) -> str | None:
    return _source_id(row, column) if row.optional(column) else None


def _date(row: _CsvRow, column: str) -> str:
    value = row.text(column)
    for form in _DATE_FORMS:
        match = form.fullmatch(value)
        if match:
            compact = "".join(match.groups())
            try:
                local_date_to_fhir(compact)
            except AdapterError as error:
                raise error.at(row.location) from None
            return compact
    row.fail(column, "is not a date (YYYY-MM-DD)")


def _optional_date(row: _CsvRow, column: str) -> str | None:
    return _date(row, column) if row.optional(column) else None


def _timestamp(row: _CsvRow, column: str) -> str:
    value = row.text(column)
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        row.fail(column, "is not a date and time (YYYY-MM-DD hh:mm)")
    compact = "".join(part or "00" for part in match.groups())
    try:
        local_timestamp_to_fhir(compact)
    except AdapterError as error:
        raise error.at(row.location) from None
    return compact


def _optional_timestamp(row: _CsvRow, column: str) -> str | None:
    return _timestamp(row, column) if row.optional(column) else None


def _identity(row: _CsvRow, column: str, reference: date) -> PersonIdentity:
    value = row.text(column)
    try:
        return parse_person_identity(value, reference_date=reference)
    except AdapterError as error:
        error.message = f"column {column}: {error.message}"
        raise error.at(row.location) from None


def _flag(row: _CsvRow, column: str) -> bool:
    value = (row.optional(column) or "").lower()
    if value in _TRUE:
        return True
    if value not in _FALSE:
        row.fail(column, "must be ja or nej (or empty for nej)")
    return False


def _code(row: _CsvRow, column: str) -> str:
    return row.text(column).lower()


# --- rows --------------------------------------------------------------------------------


def _manifest(row: _CsvRow) -> Manifest:
    if row.text("formatversion") != FORMAT_VERSION:
        raise UnsupportedVersion(
            f"formatversion must be {FORMAT_VERSION}", code="unsupported-version"
        ).at(row.location)
    return Manifest(
        location=row.location,
        formatversion=FORMAT_VERSION,
        vardgivare_hsaid=_hsa_id(row, "vardgivare_hsaid"),
        vardgivare_namn=row.text("vardgivare_namn"),
        exportdatum=_date(row, "exportdatum"),
    )


def _unit(row: _CsvRow) -> CareUnitRow:
    return CareUnitRow(row.location, _hsa_id(row, "enhet_hsaid"), row.text("namn"))


def _patient(row: _CsvRow, reference: date) -> PatientRow:
    return PatientRow(
        location=row.location,
        identity=_identity(row, "personnummer", reference),
        fornamn=row.optional("fornamn"),
        efternamn=row.optional("efternamn"),
        kon=(row.optional("kon") or "").lower() or None,
    )


def _staff(row: _CsvRow) -> StaffRow:
    return StaffRow(
        location=row.location,
        personal_hsaid=_hsa_id(row, "personal_hsaid"),
        fornamn=row.optional("fornamn"),
        efternamn=row.optional("efternamn"),
        befattning=row.optional("befattning"),
        enhet_hsaid=_hsa_id(row, "enhet_hsaid"),
    )


def _sip(row: _CsvRow, reference: date) -> SipRow:
    return SipRow(
        location=row.location,
        sip_id=_source_id(row, "sip_id"),
        identity=_identity(row, "personnummer", reference),
        status=_code(row, "status"),
        titel=row.optional("titel"),
        upprattad=_date(row, "upprattad"),
        startdatum=_optional_date(row, "startdatum"),
        slutdatum=_optional_date(row, "slutdatum"),
        uppfoljning=_date(row, "uppfoljning"),
        ansvarig_huvudman_hsaid=_hsa_id(row, "ansvarig_huvudman_hsaid"),
        ansvarig_huvudman_namn=row.optional("ansvarig_huvudman_namn"),
        enhet_hsaid=_hsa_id(row, "enhet_hsaid"),
        vardteam_id=_optional_source_id(row, "vardteam_id"),
    )


def _goal(row: _CsvRow) -> GoalRow:
    return GoalRow(
        location=row.location,
        mal_id=_source_id(row, "mal_id"),
        sip_id=_source_id(row, "sip_id"),
        beskrivning=row.text("beskrivning"),
        maldatum=_optional_date(row, "maldatum"),
        status=_code(row, "status"),
    )


def _activity(row: _CsvRow) -> ActivityRow:
    return ActivityRow(
        location=row.location,
        insats_id=_source_id(row, "insats_id"),
        sip_id=_source_id(row, "sip_id"),
        beskrivning=row.text("beskrivning"),
        huvudman_hsaid=_hsa_id(row, "huvudman_hsaid"),
        utforare_hsaid=_hsa_id(row, "utforare_hsaid"),
        tidpunkt=row.optional("tidpunkt"),
        startdatum=_optional_date(row, "startdatum"),
        slutdatum=_optional_date(row, "slutdatum"),
        status=_code(row, "status"),
        mal_id=_optional_source_id(row, "mal_id"),
    )


def _team_member(row: _CsvRow, reference: date) -> TeamMemberRow:
    return TeamMemberRow(
        location=row.location,
        vardteam_id=_source_id(row, "vardteam_id"),
        identity=_identity(row, "personnummer", reference),
        namn=row.optional("namn"),
        enhet_hsaid=_hsa_id(row, "enhet_hsaid"),
        medlem_hsaid=_hsa_id(row, "medlem_hsaid"),
        roll=_code(row, "roll"),
        samordnande=_flag(row, "samordnande"),
    )


def _visit(row: _CsvRow, reference: date) -> VisitRow:
    return VisitRow(
        location=row.location,
        besok_id=_source_id(row, "besok_id"),
        identity=_identity(row, "personnummer", reference),
        enhet_hsaid=_hsa_id(row, "enhet_hsaid"),
        besokstyp=_code(row, "besokstyp"),
        start=_timestamp(row, "start"),
        slut=_optional_timestamp(row, "slut"),
        status=_code(row, "status"),
        utforare_hsaid=_optional_hsa_id(row, "utforare_hsaid"),
    )


def _check_unique(export: MunicipalExport) -> None:
    """Each file's own id column is unique (a second row with the same id is a conflict)."""
    keyed: list[tuple[str, list[tuple[str, str]]]] = [
        ("enhet_hsaid", [(r.enhet_hsaid, r.location) for r in export.units]),
        ("personnummer", [(r.identity.value, r.location) for r in export.patients]),
        ("personal_hsaid", [(r.personal_hsaid, r.location) for r in export.staff]),
        ("sip_id", [(r.sip_id, r.location) for r in export.plans]),
        ("mal_id", [(r.mal_id, r.location) for r in export.goals]),
        ("insats_id", [(r.insats_id, r.location) for r in export.activities]),
        (
            "vardteam_id+medlem_hsaid",
            [(f"{r.vardteam_id}|{r.medlem_hsaid}", r.location) for r in export.team_members],
        ),
        ("besok_id", [(r.besok_id, r.location) for r in export.visits]),
    ]
    for column, keys in keyed:
        seen: dict[str, str] = {}
        for key, location in keys:
            if key in seen:
                raise SchemaViolation(
                    f"{column} repeats the row at {seen[key]}", code="csv-duplicate-id"
                ).at(location)
            seen[key] = location
