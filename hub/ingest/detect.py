"""Which adapter a file fits, read from its first bytes: a file sent to the wrong one is refused.

The signs, each checked on the start of the file only (no XML or CSV parser runs here):

- `hl7v2_adt`: the text starts with an MSH segment (`MSH` and a field separator);
- `rivta_careplans` / `rivta_carecontacts`: a `GetCarePlansResponse` /
  `GetCareContactsResponse` element (the root, or inside a SOAP Body) and its RIVTA
  responder namespace (the adapters' own `NAMESPACE`: GetCarePlansResponder:2,
  GetCareContactsResponder:3);
- `municipal_csv`: a zip that holds `manifest.csv`, or one CSV file whose header row is the
  header of a file of the municipal export (then it still has to be sent as the zip).

A file that shows no sign is left to the adapter's own reader, which names what is wrong.
`wrong_adapter_message` names the adapter that fits and never quotes the file's content;
intake refuses such a file (`hub.ingest.intake.other_format`) without keeping it.
"""

from __future__ import annotations

import io
import re
import zipfile

from adapters.municipal_csv.parse import FILE_COLUMNS
from adapters.rivta_carecontacts.parse import NAMESPACE as CARECONTACTS_NAMESPACE
from adapters.rivta_careplans.parse import NAMESPACE as CAREPLANS_NAMESPACE

__all__ = ["fitting_adapter", "wrong_adapter_message"]

_HEAD = 64 * 1024
"""How much of the file is looked at: a SOAP header before the Body fits in it."""

_RIVTA_ROOTS = {
    "rivta_careplans": (
        re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?GetCarePlansResponse[\s>/]"),
        CAREPLANS_NAMESPACE.encode(),
    ),
    "rivta_carecontacts": (
        re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?GetCareContactsResponse[\s>/]"),
        CARECONTACTS_NAMESPACE.encode(),
    ),
}
_MSH = re.compile(rb"MSH[|^~\\&#]")


def fitting_adapter(data: bytes) -> str | None:
    """The adapter whose format the file shows, or None when it shows none."""
    head = data[:_HEAD].lstrip(b"\xef\xbb\xbf \t\r\n")
    if _MSH.match(head):
        return "hl7v2_adt"
    if head.startswith(b"PK\x03\x04"):
        return "municipal_csv" if _zip_has_manifest(data) else None
    if head.startswith(b"<"):
        for name, (root, namespace) in _RIVTA_ROOTS.items():
            if root.search(head) and namespace in head:
                return name
        return None
    return "municipal_csv" if _is_municipal_header(head) else None


def wrong_adapter_message(adapter: str, data: bytes) -> str | None:
    """Why the file does not fit `adapter`, naming the adapter that fits; None when the
    file shows no other adapter's format. Never quotes the file."""
    fits = fitting_adapter(data)
    if fits is None or fits == adapter:
        return None
    hint = (
        " (a single CSV file of the export: send the whole export as one zip)"
        if fits == "municipal_csv" and not data.startswith(b"PK")
        else ""
    )
    return (
        f"the file is not for adapter {adapter}: it is in the format of adapter {fits}{hint}; "
        f"send it to POST /ingest/{fits} (hub ingest --adapter {fits}); nothing was stored "
        "or kept"
    )


def _is_municipal_header(head: bytes) -> bool:
    """Whether the first line is the header of a file of the municipal export: every
    required column of one file there, and no column that file does not have."""
    line = head.split(b"\n", 1)[0].strip().decode("utf-8", "replace").lower()
    separator = max((";", ",", "\t"), key=line.count)
    columns = {column.strip().strip('"') for column in line.split(separator)}
    return any(
        set(required) <= columns <= set(required) | set(optional)
        for required, optional in FILE_COLUMNS.values()
    )


def _zip_has_manifest(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(
                name.rsplit("/", 1)[-1].lower() == "manifest.csv" for name in archive.namelist()
            )
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
