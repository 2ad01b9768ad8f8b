"""UCUM unit conversion for quantity search, from the cited table fhir/ucum-conversions.json.

A stored Quantity whose system is UCUM and whose code is in the table gets a second index
row under `<param>:ucum` in the dimension's canonical unit (1000 mg is also stored as
1 g); a searched quantity with the UCUM system and such a code is compared
against those rows, so `1|http://unitsofmeasure.org|g` finds 1000 mg. Anything else (no
system, another system, a unit outside the table) is compared as written.
"""

from __future__ import annotations

import json
from functools import cache

from hub.search.parameters import FHIR_DATA_DIR

UCUM = "http://unitsofmeasure.org"
CANONICAL_SUFFIX = ":ucum"
"""Index rows in canonical units are kept under the parameter's code plus this suffix."""


@cache
def _table() -> dict[str, tuple[str, float]]:
    data = json.loads((FHIR_DATA_DIR / "ucum-conversions.json").read_text("utf-8"))
    return {row["code"]: (row["canonical"], float(row["factor"])) for row in data["units"]}


def canonical_unit(system: str | None, code: str | None) -> tuple[str, float] | None:
    """(canonical UCUM code, factor) for a UCUM unit the table converts, else None."""
    if system != UCUM or code is None:
        return None
    return _table().get(code)
