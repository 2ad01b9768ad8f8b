"""The decision's scan for directory references finds exactly what a walk of the JSON
finds (a reference string of the `Type/id` or `Type/id/_history/n` shape, to a directory
type), whatever else the resources hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.access.guard import DIRECTORY_LOOKUP_TYPES, _directory_references
from hub.search.indexing import split_reference

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "r4-examples"


def _walked(resources: list[Any]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    stack: list[Any] = list(resources)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            reference = node.get("reference")
            if isinstance(reference, str):
                target = split_reference(reference)
                if target and target[0] in DIRECTORY_LOOKUP_TYPES:
                    found.append(target)
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(node)
    return found


REFERENCE_TEXT = st.one_of(
    st.sampled_from(
        [
            "Organization/abc",
            "Practitioner/p-1",
            "PractitionerRole/r.2",
            "RelatedPerson/x",
            "Patient/p",
            "Organization/a/_history/3",
            "Organization/a/b",
            "Organization/",
            "http://other/fhir/Organization/z",
            "urn:uuid:1234",
            "#contained",
            'Organization/quote"d',
            "Organization/ä-ö",
            'text "reference":"Organization/fake"',
        ]
    ),
    st.text(max_size=12),
)
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), REFERENCE_TEXT)
JSON = st.recursive(
    LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(["reference", "display", "actor", "member", "x"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["reference", "a", "b"]), JSON), max_size=4))
def test_the_scan_finds_what_a_walk_finds(resources: list[dict[str, Any]]) -> None:
    assert set(_directory_references(resources)) == set(_walked(resources))


def test_the_scan_on_the_r4_examples() -> None:
    resources = [orjson.loads(path.read_bytes()) for path in EXAMPLES.glob("*.json")]
    found = _directory_references(resources)
    assert set(found) == set(_walked(resources))
    assert found, "the examples refer to Organizations and Practitioners"
