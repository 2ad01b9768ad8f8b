"""Validation throughput: the hub's profile validator against fhir.resources, and the cost of
validation on write.

    python -m bench.validation [--rounds 5] [--sips 200] [--creates 200]

In one run over the same resources it measures, per second: fhir.resources (R4B) parse +
model validation; the hub's validator (hub.validation.profiles: base R4 structure, bindings,
slicing, FHIRPath invariants and the profiles a resource claims); and the validator without
invariants. Two sets: the corpus (tests/validation/corpus, valid and invalid) and typical SIP
CarePlans (claiming the hub's SIP profile, 3-8 activities each). Then it creates resources
through the REST API (in process, SQLite in a temporary folder, HUB_AUTH=off) with
HUB_VALIDATE_INVARIANTS on and off, and with the SIP profile claimed, and reports the time
per create. Rounds take turns so that machine noise falls on each side alike; the median
round is reported. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from hub.validation.profiles import Options, validate

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "validation" / "corpus"


def corpus() -> list[dict[str, Any]]:
    files = sorted((CORPUS / "valid").glob("*.json")) + sorted((CORPUS / "invalid").glob("*.json"))
    return [json.loads(p.read_text("utf-8")) for p in files]


def sip_plans(count: int) -> list[dict[str, Any]]:
    template = json.loads((CORPUS / "valid" / "sip-careplan.json").read_text("utf-8"))
    plans = []
    for index in range(count):
        plan = copy.deepcopy(template)
        plan["id"] = f"sip-{index}"
        activity = plan["activity"][0]
        plan["activity"] = []
        for step in range(3 + index % 6):
            item = copy.deepcopy(activity)
            item["detail"]["description"] = f"Insats {step}"
            plan["activity"].append(item)
        plans.append(plan)
    return plans


def _fhir_resources(resource: dict[str, Any]) -> None:
    with contextlib.suppress(ValidationError, KeyError, ValueError, TypeError):
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def _hub(resource: dict[str, Any]) -> None:
    validate(resource)


def _hub_structure(resource: dict[str, Any]) -> None:
    validate(resource, options=Options(invariants=False))


def _rate(fn: Callable[[dict[str, Any]], None], resources: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for resource in resources:
        fn(resource)
    return len(resources) / (time.perf_counter() - started)


def throughput(name: str, resources: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    kinds = {
        "fhir.resources parse+validate": _fhir_resources,
        "hub validator (all rules)": _hub,
        "hub validator without invariants": _hub_structure,
    }
    for fn in kinds.values():  # warm: definitions compiled, expansions cached
        _rate(fn, resources[:20])
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(rounds):
        for label, fn in kinds.items():
            samples[label].append(_rate(fn, resources))
    rates = {label: statistics.median(values) for label, values in samples.items()}
    base = rates["fhir.resources parse+validate"]
    return {
        "set": name,
        "resources": len(resources),
        "per_second": {k: round(v, 1) for k, v in rates.items()},
        "time_ratio_vs_fhir_resources": {
            k: round(base / v, 2) for k, v in rates.items() if k != "fhir.resources parse+validate"
        },
    }


def create_cost(count: int, rounds: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from hub.app import create_app
    from hub.settings import Settings
    from hub.store import open_store
    from hub.validation import on_write

    plans = sip_plans(count)
    unclaimed = [{k: v for k, v in p.items() if k != "meta"} for p in plans]
    results: dict[str, list[float]] = {
        "invariants on": [],
        "invariants off": [],
        "invariants on, SIP profile claimed": [],
    }
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/bench.db")
        try:
            for _ in range(rounds):
                runs: list[tuple[str, Literal["on", "off"], list[dict[str, Any]]]] = [
                    ("invariants on", "on", unclaimed),
                    ("invariants off", "off", unclaimed),
                    ("invariants on, SIP profile claimed", "on", plans),
                ]
                for label, flag, bodies in runs:
                    settings = Settings(
                        database_url="sqlite://unused", auth="off", validate_invariants=flag
                    )
                    app = create_app(settings, store=store)
                    with TestClient(app) as client:
                        headers = {"Content-Type": "application/fhir+json"}
                        started = time.perf_counter()
                        for body in bodies:
                            answer = client.post("/fhir/CarePlan", json=body, headers=headers)
                            assert answer.status_code == 201, answer.text
                        elapsed = time.perf_counter() - started
                    results[label].append(elapsed / len(bodies) * 1000)
        finally:
            store.close()
            on_write.configure(Settings())
    medians = {label: round(statistics.median(v), 3) for label, v in results.items()}
    return {
        "creates_per_round": count,
        "ms_per_create": medians,
        "invariants_cost_ms": round(medians["invariants on"] - medians["invariants off"], 3),
        "profile_cost_ms": round(
            medians["invariants on, SIP profile claimed"] - medians["invariants on"], 3
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sips", type=int, default=200)
    parser.add_argument("--creates", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    report = {
        "throughput": [
            throughput("corpus", corpus(), args.rounds),
            throughput("SIP CarePlans", sip_plans(args.sips), args.rounds),
        ],
        "create": create_cost(args.creates, args.rounds),
    }
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
