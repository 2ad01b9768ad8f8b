"""The README's five-minute tour, run as written: `hub demo` into a fresh folder, a server
on an ephemeral port, the tour `hub demo tour --port P` prints pasted into bash, then
every command of the README's tour block, each answer checked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hub.app import create_app
from hub.settings import Settings
from tests.live_server import free_port, running_server

ROOT = Path(__file__).resolve().parents[2]
HUB = Path(sys.executable).parent / "hub"


def tour_commands() -> list[str]:
    """The commands of the README's tour block, continuation lines joined."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## A five-minute tour") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands, current = [], ""
    for line in block.group(1).splitlines():
        current += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            commands.append(current.strip())
            current = ""
    return [c for c in commands if c and not c.startswith("./scripts/run")]


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -eo pipefail; PATH=.venv/bin:$PATH; source ./tour.sh; {command}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _check_answer(command: str, output: str) -> None:
    """A curl answer is FHIR JSON with something in it and no error."""
    if "/metadata" in command:
        assert '"resourceType":"CapabilityStatement"' in output.replace(" ", "")
        return
    answer = json.loads(output)
    assert answer["resourceType"] != "OperationOutcome" or all(
        issue["severity"] in ("information", "warning") for issue in answer["issue"]
    ), output[:500]
    if answer["resourceType"] == "Bundle":
        found = [
            e["resource"]["resourceType"]
            for e in answer.get("entry", [])
            if e.get("search", {}).get("mode") != "outcome"
        ]
        assert found, f"{command}: an empty Bundle"
        if "$everything" in command:  # clinical data, not only the Patient
            assert set(found) - {"Patient"}, command


def test_the_readme_tour_works_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    commands = tour_commands()
    assert any("$NURSE_PNR" in c for c in commands)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "hub").symlink_to(HUB)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONPATH"] = str(ROOT)
    loaded = subprocess.run(
        [str(HUB), "demo", "--no-tour"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)
    with running_server(create_app(Settings()), port=port):
        tour = subprocess.run(
            [str(HUB), "demo", "tour", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (tmp_path / "tour.sh").write_text(tour)
        for command in commands:
            result = _run(command, tmp_path, env)
            assert result.returncode == 0, (command, result.stderr[-2000:])
            if command.startswith("curl"):
                _check_answer(command, result.stdout)
            else:
                assert result.stdout.strip(), command
    extract = _run(
        ".venv/bin/hub audit extract --patient $NURSE_PATIENT --format csv", tmp_path, env
    )
    assert "SE2120002122-P001" in extract.stdout  # the nurse's reads are in the log
