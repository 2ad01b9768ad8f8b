"""Validate a folder of example resources and summarise: `python -m hub.validation.examples DIR`.

Used with the official R4 examples (scripts/fetch-r4-examples): how many validate without
errors, and for the others which rules they break (counted per rule, with one file each).
Writes a JSON summary with --out; prints progress every 250 files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hub.validation.profiles import validate


def summarise(
    folder: Path, limit: int | None = None, max_bytes: int | None = None
) -> dict[str, Any]:
    files = sorted(p for p in folder.glob("*.json") if not p.name.startswith(("package", ".")))
    skipped = sorted(p.name for p in files if max_bytes and p.stat().st_size > max_bytes)
    files = [p for p in files if p.name not in skipped]
    checked = valid = 0
    by_rule: Counter[str] = Counter()
    example: dict[str, str] = {}
    failing: dict[str, list[str]] = {}
    started = time.perf_counter()
    for path in files[:limit]:
        try:
            resource = json.loads(path.read_text("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(resource, dict) or "resourceType" not in resource:
            continue
        checked += 1
        one = time.perf_counter()
        errors = [i for i in validate(resource) if i.severity in ("error", "fatal")]
        took = time.perf_counter() - one
        if took > 2:
            print(f"slow: {path.name} {took:.1f} s", file=sys.stderr, flush=True)
        if not errors:
            valid += 1
        else:
            rules = sorted({i.rule for i in errors})
            failing[path.name] = [f"[{i.rule}] {i.expression}: {i.message}" for i in errors[:3]]
            for rule in rules:
                by_rule[rule] += 1
                example.setdefault(rule, path.name)
        if checked % 100 == 0:
            print(f"{checked} checked, {valid} without errors", file=sys.stderr, flush=True)
    return {
        "folder": str(folder),
        "checked": checked,
        "without_errors": valid,
        "with_errors": checked - valid,
        "seconds": round(time.perf_counter() - started, 1),
        "skipped_larger_than_bytes": max_bytes,
        "skipped": skipped,
        "files_per_rule": {rule: [count, example[rule]] for rule, count in by_rule.most_common()},
        "failing": failing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--max-bytes", type=int, help="skip (and list) larger files")
    args = parser.parse_args()
    summary = summarise(args.folder, args.limit, args.max_bytes)
    text = json.dumps(summary, indent=1, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n", "utf-8")
    print(
        f"{summary['without_errors']} of {summary['checked']} validate without errors "
        f"({summary['seconds']} s); {len(summary['skipped'])} larger files skipped"
    )
    for rule, (count, name) in list(summary["files_per_rule"].items())[:40]:
        print(f"  {count:5d}  {rule}  (e.g. {name})")


if __name__ == "__main__":
    main()
