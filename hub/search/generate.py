"""Generate fhir/search-index.json from the official R4 definitions in fhir/r4/.

`python -m hub.search.generate` (or `hub search-definitions generate`) reads

    fhir/r4/search-parameters.json.gz            the specification's SearchParameters
    fhir/r4/compartmentdefinition-patient.json.gz the Patient CompartmentDefinition
    fhir/r4/profiles-resources.json.gz           the resource StructureDefinitions
    fhir/r4/profiles-types.json.gz               the data type StructureDefinitions
    fhir/search-parameters-hub.json              the hub's own additions (small)
    fhir/search-parameter-corrections.json       cited corrections of published components

and writes one JSON file that the hub loads at start: the resource types it serves (every
R4 type that the fhir.resources R4B models can validate), the search parameters of each
type with the union parts of its expression that belong to that type, the choice elements
(`value[x]`) those expressions reach, and the patient compartment. A date, number or
quantity parameter whose expression reaches at most one element in any resource (every
element on its path has a maximum cardinality of 1 in the StructureDefinitions) is marked
`"singleValued": true`: the query compiler tests ANDed ranges of such a parameter on one
index row (hub.search.sql). Source files, their
sha256 and the FHIR version are recorded in it; a test regenerates it and compares, so the
generated file never drifts from its sources.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

FHIR_DATA_DIR = Path(__file__).resolve().parents[2] / "fhir"
R4_DIR = FHIR_DATA_DIR / "r4"
OUTPUT = FHIR_DATA_DIR / "search-index.json"
HUB_ADDITIONS = FHIR_DATA_DIR / "search-parameters-hub.json"
CORRECTIONS = FHIR_DATA_DIR / "search-parameter-corrections.json"

NOT_STORED = frozenset({"Parameters"})
"""R4 resource types without a RESTful endpoint of their own (operation payloads)."""

COMMON_BASES = ("Resource", "DomainResource")
"""Parameters defined on every resource: copied to each type."""

_NAME = re.compile(r"\b([A-Z][A-Za-z]+)\.")
_OF_TYPE = re.compile(r"\.ofType\([A-Za-z]+\)")
_PATH = re.compile(r"^[A-Z][A-Za-z]*(\.[a-z][A-Za-z]*)+$")

RANGE_TYPES = frozenset({"date", "number", "quantity"})
"""Parameter types whose cardinality the generator records (`singleValued`)."""


def _read_gz(name: str) -> tuple[Any, str]:
    raw = (R4_DIR / name).read_bytes()
    return json.loads(gzip.decompress(raw)), hashlib.sha256(raw).hexdigest()


def _fhir_version() -> str:
    for line in (R4_DIR / "version.info").read_text("utf-8").splitlines():
        if line.startswith("version="):
            return line.split("=", 1)[1].strip()
    raise ValueError("fhir/r4/version.info names no version")


def _r4_resource_types(profiles: dict[str, Any]) -> list[str]:
    return sorted(
        e["resource"]["id"]
        for e in profiles["entry"]
        if e["resource"]["resourceType"] == "StructureDefinition"
        and e["resource"].get("kind") == "resource"
        and e["resource"].get("derivation") != "constraint"
        and not e["resource"].get("abstract")
    )


def r4b_models_validate(resource_type: str) -> bool:
    """Whether fhir.resources has an R4B model of this name."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        get_fhir_model_class(resource_type)
    except (KeyError, ValueError, AttributeError, ImportError):
        return False
    return True


def _choice_elements(profiles: dict[str, Any], types: set[str]) -> dict[str, list[str]]:
    """`Type.path.element` -> JSON suffixes of the choice element `element[x]`."""
    choices: dict[str, list[str]] = {}
    for entry in profiles["entry"]:
        sd = entry["resource"]
        if sd["resourceType"] != "StructureDefinition" or sd.get("id") not in types:
            continue
        for element in sd["snapshot"]["element"]:
            path = element["path"]
            if path.endswith("[x]"):
                codes = [t["code"] for t in element.get("type", [])]
                choices[path[:-3]] = [c[:1].upper() + c[1:] for c in codes]
    return choices


ElementMaxima = dict[str, tuple[str, tuple[str, ...]]]
"""`Type.path.element` (a choice element without its `[x]`) -> (max cardinality, type codes),
for every element of the resource and data type StructureDefinitions."""


def _element_maxima(*bundles: dict[str, Any]) -> ElementMaxima:
    found: ElementMaxima = {}
    for bundle in bundles:
        for entry in bundle["entry"]:
            sd = entry["resource"]
            if sd["resourceType"] != "StructureDefinition" or sd.get("derivation") == "constraint":
                continue
            for element in sd.get("snapshot", {}).get("element", []):
                path = element["path"].removesuffix("[x]")
                codes = tuple(t["code"] for t in element.get("type", []))
                found.setdefault(path, (str(element.get("max", "*")), codes))
    return found


def _element_of(base: str, part: str, maxima: ElementMaxima) -> str | None:
    """The element a union part reaches (`Encounter.period`) when it reaches at most one
    in any resource: every element on the path has max 1 (a data type's elements are
    looked up in that type). None when it may reach several, or the part is beyond this
    simple reading (where(), indexes, functions other than ofType)."""
    path = _OF_TYPE.sub("", part).strip().strip("()").strip()
    if not _PATH.match(path):
        return None
    head, *names = path.split(".")
    if head not in (base, *COMMON_BASES):
        return None
    context, reached = base, base
    for position, name in enumerate(names):
        context, reached = f"{context}.{name}", f"{reached}.{name}"
        found = maxima.get(context)
        if found is None or found[0] not in ("0", "1"):
            return None
        codes = found[1]
        if position < len(names) - 1 and codes not in (("BackboneElement",), ("Element",)):
            if len(codes) != 1:
                return None
            context = codes[0]  # continue in the data type's own definition
    return reached


def _single_valued(base: str, parts: list[str], maxima: ElementMaxima) -> bool:
    """Whether every union part reaches at most one element and all reach the same one
    (`Condition.onset.ofType(dateTime) | Condition.onset.ofType(Period)`)."""
    reached = {_element_of(base, part, maxima) for part in parts}
    return len(reached) == 1 and None not in reached


def _parts_for(base: str, expression: str) -> list[str]:
    """The union parts of a multi-base expression that start at `base`."""
    parts = []
    for part in (p.strip() for p in expression.split("|")):
        names = _NAME.findall(part)
        if part == base or (names and names[0] in (base, *COMMON_BASES)):
            parts.append(part)
    return parts


def _description(text: str, base: str) -> str:
    """The description of one base (multi-base definitions list one line per type)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(f"* [{base}]("):
            return line.split("): ", 1)[-1][:300]
    return lines[0][:300] if lines else ""


def _entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", [])]


def generate() -> dict[str, Any]:
    """The content of fhir/search-index.json."""
    searches, searches_sha = _read_gz("search-parameters.json.gz")
    compartment, compartment_sha = _read_gz("compartmentdefinition-patient.json.gz")
    profiles, profiles_sha = _read_gz("profiles-resources.json.gz")
    data_types, data_types_sha = _read_gz("profiles-types.json.gz")
    maxima = _element_maxima(profiles, data_types)
    hub_raw = HUB_ADDITIONS.read_bytes()
    hub_bundle = json.loads(hub_raw)
    corrections_raw = CORRECTIONS.read_bytes()
    corrected = {c["url"]: c for c in json.loads(corrections_raw)["corrections"]}

    r4_types = _r4_resource_types(profiles)
    served = [t for t in r4_types if t not in NOT_STORED and r4b_models_validate(t)]
    refused = [t for t in r4_types if t not in served]
    served_set = set(served)

    parameters: list[dict[str, Any]] = []
    by_url: dict[str, dict[str, Any]] = {}
    official = _entries(searches)
    hub_own = _entries(hub_bundle)
    official_keys = {(b, d["code"]) for d in official for b in d["base"]}
    for definition in hub_own:
        for base in definition["base"]:
            if (base, definition["code"]) in official_keys:
                raise ValueError(f"hub addition redefines {base}.{definition['code']}")
    for source, definitions in (("r4", official), ("hub", hub_own)):
        for definition in definitions:
            by_url[definition["url"]] = definition
            bases = definition["base"]
            if any(b in COMMON_BASES for b in bases):
                bases = served
            for base in bases:
                if base not in served_set:
                    continue
                expression = definition.get("expression") or ""
                parts = (
                    [expression]
                    if any(b in COMMON_BASES for b in definition["base"])
                    else _parts_for(base, expression)
                )
                item: dict[str, Any] = {
                    "base": base,
                    "code": definition["code"],
                    "type": definition["type"],
                    "expression": " | ".join(parts),
                    "url": definition["url"],
                    "source": source,
                }
                if definition["type"] in RANGE_TYPES and _single_valued(base, parts, maxima):
                    item["singleValued"] = True
                if definition.get("target"):
                    item["target"] = sorted(definition["target"])
                if definition.get("component"):
                    components = definition["component"]
                    correction = corrected.get(definition["url"])
                    if correction is not None and correction["published"] == components:
                        components = correction["corrected"]
                    item["component"] = [[c["definition"], c["expression"]] for c in components]
                if definition.get("description"):
                    item["description"] = _description(definition["description"], base)
                parameters.append(item)
    # Composite components name their parameters by canonical URL; keep the code.
    for item in parameters:
        for component in item.get("component", []):
            target = by_url.get(component[0])
            if target is not None:
                component[0] = target["code"]
            else:  # R4 names e.g. SearchParameter/Observation-code for clinical-code
                component[0] = component[0].rsplit("/", 1)[-1].split("-", 1)[-1]

    compartment_params = {
        r["code"]: r.get("param", []) for r in compartment["resource"] if r["code"] in served_set
    }
    return {
        "generatedBy": "python -m hub.search.generate",
        "fhirVersion": _fhir_version(),
        "sources": {
            "searchParameters": {"file": "r4/search-parameters.json.gz", "sha256": searches_sha},
            "compartment": {
                "file": "r4/compartmentdefinition-patient.json.gz",
                "url": compartment.get("url"),
                "sha256": compartment_sha,
            },
            "profiles": {"file": "r4/profiles-resources.json.gz", "sha256": profiles_sha},
            "dataTypes": {"file": "r4/profiles-types.json.gz", "sha256": data_types_sha},
            "hubAdditions": {
                "file": "search-parameters-hub.json",
                "sha256": hashlib.sha256(hub_raw).hexdigest(),
            },
            "corrections": {
                "file": "search-parameter-corrections.json",
                "sha256": hashlib.sha256(corrections_raw).hexdigest(),
            },
        },
        "resourceTypes": served,
        "refusedResourceTypes": refused,
        "choiceElements": _choice_elements(profiles, served_set),
        "compartment": {"Patient": compartment_params},
        "parameters": parameters,
    }


def render() -> str:
    return json.dumps(generate(), indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args == ["--check"]:
        if OUTPUT.read_text("utf-8") != text:
            print(f"{OUTPUT} is stale: run python -m hub.search.generate", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, "utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
