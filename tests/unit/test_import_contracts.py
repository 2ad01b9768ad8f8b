"""The import-linter contracts in pyproject.toml hold, and a wrong import breaks them.

`lint-imports` runs in scripts/test; here it runs on the repository and on a copy of the
packages with one deliberately wrong import per contract, which must fail naming it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("adapters", "consent", "mappings", "hub", "conformance", "bench")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(where / "pyproject.toml")],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_contracts_hold_on_the_repository() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("lint")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.json", "*.xsd", "*.csv"),
        )
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("mappings/wrong.py", "from adapters.errors import UnmappedCode", "mappings"),
        ("adapters/wrong.py", "import hub.store", "adapters and consent never import hub"),
        ("consent/wrong.py", "from hub.errors import HubError", "adapters and consent never"),
        ("consent/wrong.py", "import sqlalchemy", "consent is pure"),
    ],
)
def test_a_deliberately_wrong_import_breaks_a_contract(
    copy: Path, module: str, line: str, contract: str
) -> None:
    wrong = copy / module
    wrong.write_text(f'"""A wrong import."""\n\n{line}\n', encoding="utf-8")
    try:
        result = _lint(copy)
    finally:
        wrong.unlink()
    assert result.returncode != 0, result.stdout
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(contract in row for row in broken), result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout
