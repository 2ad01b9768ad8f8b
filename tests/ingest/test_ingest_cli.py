"""`hub ingest --adapter NAME PATH...` and `hub ingest quarantine list|show|replay`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.demo.exports import write_demo_exports
from hub.ingest.cli import app
from tests.ingest.conftest import GOLDEN, SECRET

CAREPLAN = GOLDEN / "rivta_careplans" / "01_sip_region_kommun" / "input.xml"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "HUB_PATIENT_ID_SECRET": SECRET.decode(),
    }


def _totals(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("files="))
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", line)}


def test_ingest_files_and_folders_prints_the_summary(
    tmp_path: Path, env: dict[str, str], ward_registered: None
):
    exports = write_demo_exports(tmp_path / "demo", 10, seed=1)
    runner = CliRunner()
    municipal = runner.invoke(
        app, ["--adapter", "municipal_csv", str(tmp_path / "demo" / "municipal")], env=env
    )
    assert municipal.exit_code == 0, municipal.output
    totals = _totals(municipal.output)
    assert totals["files"] == 2
    assert totals["rejected"] == 0
    assert totals["created"] > 0
    adt = [str(path) for adapter, path in exports if adapter == "hl7v2_adt"]
    first = runner.invoke(app, ["--adapter", "hl7v2_adt", *adt], env=env)
    assert first.exit_code == 0, first.output
    assert _totals(first.output)["files"] == len(adt)
    again = runner.invoke(app, ["--adapter", "hl7v2_adt", *adt], env=env)
    assert _totals(again.output) == {
        "files": len(adt),
        "created": 0,
        "updated": 0,
        "unchanged": _totals(first.output)["created"] + _totals(first.output)["unchanged"],
        "superseded": 0,
        "rejected": 0,
    }


def test_a_municipal_folder_with_a_manifest_is_one_export(env: dict[str, str]):
    folder = GOLDEN / "municipal_csv" / "bad_check_digit" / "export"
    result = CliRunner().invoke(app, ["--adapter", "municipal_csv", str(folder)], env=env)
    assert result.exit_code == 1
    assert _totals(result.output)["files"] == 1
    assert "invalid-identifier" in result.output
    assert "patienter.csv:3" in result.output


def test_rejections_exit_1_and_the_quarantine_can_be_listed_shown_and_replayed(
    tmp_path: Path, env: dict[str, str], register_ward: Callable[[], None]
):
    exports = write_demo_exports(tmp_path / "demo", 4, seed=2)
    adt = next(path for adapter, path in exports if adapter == "hl7v2_adt")
    runner = CliRunner()
    result = runner.invoke(
        app, ["--adapter", "hl7v2_adt", str(adt), "--adapter", "hl7v2_adt"], env=env
    )
    assert result.exit_code == 1
    totals = _totals(result.output)
    assert (totals["files"], totals["rejected"], totals["created"]) == (1, 1, 0)
    assert "unmapped-code" in result.output
    assert "MSH-4" in result.output

    listing = runner.invoke(app, ["quarantine", "list"], env=env)
    assert listing.exit_code == 0
    assert adt.name in listing.output
    assert "unmapped-code" in listing.output

    raw = tmp_path / "raw.hl7"
    shown = runner.invoke(app, ["quarantine", "show", "1", "--raw", str(raw)], env=env)
    assert shown.exit_code == 0
    assert "error.location: MSH-4" in shown.output
    assert "status: quarantined" in shown.output
    assert raw.read_bytes() == adt.read_bytes()
    assert "PID" not in shown.output

    failed = runner.invoke(app, ["quarantine", "replay", "1"], env=env)
    assert failed.exit_code == 1
    register_ward()
    replayed = runner.invoke(app, ["quarantine", "replay", "1"], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "created=3" in replayed.output
    after = runner.invoke(app, ["quarantine", "show", "1"], env=env)
    assert "status: replayed" in after.output
    assert "no quarantined files" in runner.invoke(app, ["quarantine", "list"], env=env).output


def test_unknown_adapter_and_unknown_entry_exit_2(env: dict[str, str]):
    runner = CliRunner()
    result = runner.invoke(app, ["--adapter", "fax", str(CAREPLAN)], env=env)
    assert result.exit_code == 2
    assert "known adapters" in result.output
    missing = runner.invoke(app, ["quarantine", "show", "42"], env=env)
    assert missing.exit_code == 2


def test_a_late_message_is_reported_as_superseded(env: dict[str, str], tmp_path: Path):
    runner = CliRunner()
    discharge = GOLDEN / "hl7v2_adt" / "a03_discharge" / "input.hl7"
    admission = GOLDEN / "hl7v2_adt" / "a01_admission" / "input.hl7"
    assert runner.invoke(app, ["--adapter", "hl7v2_adt", str(discharge)], env=env).exit_code == 0
    late = runner.invoke(app, ["--adapter", "hl7v2_adt", str(admission)], env=env)
    assert late.exit_code == 0, late.output
    assert _totals(late.output)["superseded"] == 2
    assert "superseded input.hl7: 2 record(s) older than the stored state" in late.output
