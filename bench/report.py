"""Ratios against the baselines, the printed table, and the JSON written to bench/results/."""

from __future__ import annotations

from typing import Any

from bench.measure import Rate

TARGETS = {
    "creates: transaction bundles": ("A", 0.5),
    "read by id": ("B", 0.7),
}
BUNDLE = "creates: transaction bundles"
SINGLE = "creates: single POST"
READ = "read by id"
BARE = "B: bare FastAPI (def)"
A_DURING_LOAD = "A: model_validate, in turns with the load"


def ratios(baseline_a: Rate, rates: dict[str, Rate]) -> dict[str, dict[str, Any]]:
    """name -> {baseline, ratio, target, met} for every figure that has a baseline. The
    creates are set against A as measured in turns with this database's bulk load when
    there is such a figure, else against A from the start of the run."""
    out: dict[str, dict[str, Any]] = {}
    a = rates[A_DURING_LOAD].per_second if A_DURING_LOAD in rates else baseline_a.per_second
    b = rates[BARE].per_second if BARE in rates else 0.0
    for name, rate in rates.items():
        if name in (BUNDLE, SINGLE):
            base, value = "A", a
        elif name == READ or name.startswith("search:"):
            base, value = "B", b
        elif name.startswith("read by id x") and f"{BARE} x{rate.concurrency}" in rates:
            base, value = f"B x{rate.concurrency}", rates[f"{BARE} x{rate.concurrency}"].per_second
        else:
            continue
        entry: dict[str, Any] = {
            "baseline": base,
            "ratio": round(rate.per_second / value, 3) if value else None,
        }
        if name in TARGETS:
            target = TARGETS[name][1]
            entry["target"] = target
            entry["met"] = entry["ratio"] is not None and entry["ratio"] >= target
        out[name] = entry
    return out


def table(result: dict[str, Any]) -> str:
    """A plain-text table: one row per figure, one column per database."""
    dbs = list(result["databases"])
    names: list[str] = []
    for db in dbs:
        for name in result["databases"][db]["rates"]:
            if name not in names:
                names.append(name)
    a = result["baseline_a"]
    lines = [
        f"Resources: {result['meta']['resources']}   machine: {result['meta']['machine']}",
        f"{a['name']}: {a['per_second']:.0f} resources/s over {a['count']} resources",
    ]
    if result.get("hub_validate"):
        h = result["hub_validate"]
        lines.append(f"{h['name']}: {h['per_second']:.0f} resources/s over {h['count']}")
    width = max(len(n) for n in names) + 2 if names else 20
    header = f"{'figure':<{width}}{'unit':<11}" + "".join(f"{db:>46}" for db in dbs)
    lines += ["", header, "-" * len(header)]
    for name in names:
        unit = ""
        cells = []
        for db in dbs:
            rate = result["databases"][db]["rates"].get(name)
            if rate is None:
                cells.append(f"{'-':>46}")
                continue
            unit = f"{rate['unit']}/s"
            ratio = result["databases"][db]["ratios"].get(name)
            text = f"{rate['per_second']:.1f}"
            if ratio and ratio["ratio"] is not None:
                text += f"  {ratio['ratio']:.2f}x {ratio['baseline']}"
                if "target" in ratio:
                    text += f" ({'met' if ratio['met'] else 'NOT met'} >={ratio['target']})"
            p50 = rate["latency_ms"].get("p50")
            if p50 is not None:
                text += f"  p50 {p50:.1f}ms"
            cells.append(f"{text:>46}")
        lines.append(f"{name:<{width}}{unit:<11}" + "".join(cells))
    for db in dbs:
        bulk = result["databases"][db]["rates"].get(BUNDLE)
        if bulk:
            lines.append(
                f"{db}: bulk load {bulk['extra']['bundles']} bundles of "
                f"~{bulk['extra']['entries_per_bundle']:.0f} entries = "
                f"{bulk['requests'] / bulk['seconds']:.2f} bundles/s"
            )
    return "\n".join(lines)
