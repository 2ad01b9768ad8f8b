"""Where TestScripts come from: a suite name (a folder under conformance/suites/), a folder,
or a TestScript JSON file. Fixture references are resolved relative to the script's file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUITES_DIR = Path(__file__).resolve().parent / "suites"


class SuiteError(Exception):
    """A suite or TestScript that cannot be found or read."""


@dataclass(frozen=True)
class LoadedScript:
    """One TestScript and the folder its fixture files are relative to."""

    script: dict[str, Any]
    folder: Path
    suite: str

    @property
    def name(self) -> str:
        return str(self.script.get("name") or self.script.get("id") or "TestScript")


def available_suites() -> list[str]:
    return sorted(p.name for p in SUITES_DIR.iterdir() if p.is_dir())


def _read(path: Path, suite: str) -> LoadedScript | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("resourceType") != "TestScript":
        return None
    return LoadedScript(data, path.parent, suite)


def load(source: str) -> list[LoadedScript]:
    """The TestScripts of a suite name, a folder (recursively) or one file, by file name."""
    path = Path(source)
    if not path.exists() and (SUITES_DIR / source).is_dir():
        path = SUITES_DIR / source
    if path.is_file():
        found = _read(path, path.parent.name)
        if found is None:
            raise SuiteError(f"{path} is not a TestScript")
        return [found]
    if path.is_dir():
        scripts = [s for p in sorted(path.rglob("*.json")) if (s := _read(p, path.name))]
        if not scripts:
            raise SuiteError(f"{path} holds no TestScript")
        return scripts
    raise SuiteError(f"No suite or file named {source!r}; suites: {', '.join(available_suites())}")
