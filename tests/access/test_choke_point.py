"""The choke point is structural (issue 12): no module that serves a request calls a
store's read methods itself; `hub.access.guard.Access` does, for every read and every
read inside a write. The import-linter contract in pyproject.toml keeps those modules
off the store's implementation; this scan catches a call through any object.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUEST_MODULES = sorted(
    [
        *(ROOT / "hub" / "fhir_api").glob("*.py"),
        *(ROOT / "hub" / "web").glob("*.py"),
        *(ROOT / "hub" / "overview").glob("*.py"),
        ROOT / "hub" / "ingest" / "routes.py",
    ]
)
STORE_READS = frozenset(
    {
        # Store (hub/store/protocol.py)
        "read",
        "vread",
        "history",
        "search",
        "everything",
        "security_and_version",
        "patient_version",
        "patient_access_inputs",
        "patient_decision_inputs",
        "patients_decision_inputs",
        "patients_versions",
        "versioned_everything",
        "patients_with_unit_data",
        "patients_current",
        # UnitOfWork reads
        "current",
        "matching_ids",
        "single_match",
    }
)
READ_ARGUMENTS = frozenset({"read", "vread", "history", "search", "everything"})
"""Store read methods that are also names of ordinary functions (the interactions'
`search`, `re.search`): those of the modules named in `store_reads` are not counted."""


OTHER_MODULES = ("re", "interactions", "bundle_builder")


def _receiver(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return ast.unparse(call.func.value)
    return None


def store_reads(source: str) -> list[str]:
    """Calls of store read methods on anything but an Access (`...access`)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        receiver = _receiver(node) or ""
        if name not in STORE_READS or receiver.split(".")[-1] == "access":
            continue
        if name in READ_ARGUMENTS and (receiver in OTHER_MODULES or receiver.isupper()):
            continue
        if receiver.startswith("_") and receiver.lstrip("_").isupper():  # compiled patterns
            continue
        found.append(f"{receiver}.{name}() line {node.lineno}")
    return found


def test_the_scan_finds_a_direct_store_read() -> None:
    sample = (
        "def f(ctx, work):\n"
        "    ctx.store.read('CarePlan', 'x')\n"
        "    work.current('CarePlan', 'x')\n"
        "    ctx.access.read('CarePlan', 'x')\n"
        "    re.search('a', 'b')\n"
    )
    assert store_reads(sample) == ["ctx.store.read() line 2", "work.current() line 3"]


@pytest.mark.parametrize("path", REQUEST_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_request_module_reads_the_store_itself(path: Path) -> None:
    assert store_reads(path.read_text("utf-8")) == []
