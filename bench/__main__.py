"""``python -m bench [--skip-suite]``: measure, print the table, write bench/results.json.

``--skip-suite`` does not run ``make test`` and keeps the previous ``test_suite_seconds``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench import cold, footprint, listing, requests, scale, suite, warm
from bench.figures import Figure

RESULTS = Path(__file__).resolve().parent / "results.json"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--skip-suite", action="store_true", help="keep the last make test time")
    arguments = parser.parse_args(argv)

    figures: dict[str, Figure | dict[str, Any]] = {}
    for name, figure in requests.measure().items():
        figures[f"ddb_requests_per_op.{name}"] = figure
    measured = footprint.measure()
    figures["cold_import_ratio"] = measured["cold_import_ratio"]
    figures["package_bytes"] = measured["package_bytes"]
    figures.update(cold.measure())
    figures["warm_overhead_ratio"] = warm.measure()
    figures.update(listing.measure())
    figures.update(scale.measure())
    if arguments.skip_suite:
        previous = _previous().get("test_suite_seconds")
        if previous is not None:
            figures["test_suite_seconds"] = previous
    else:
        figures["test_suite_seconds"] = suite.measure()

    results = {
        "figures": {
            name: figure.to_json() if isinstance(figure, Figure) else figure
            for name, figure in figures.items()
        }
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results["figures"]))
    print(f"\nwritten to {RESULTS}")
    return 0 if all(entry["met"] for entry in results["figures"].values()) else 1


def _previous() -> dict[str, Any]:
    if not RESULTS.exists():
        return {}
    figures: dict[str, Any] = json.loads(RESULTS.read_text()).get("figures", {})
    return figures


def table(figures: dict[str, dict[str, Any]]) -> str:
    """The figures as a Markdown table (the README's)."""
    rows = [
        "| figure | ours | baseline | ratio | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name, entry in figures.items():
        ratio = "" if entry["ratio"] is None else f"{entry['ratio']:.3f}"
        met = "yes" if entry["met"] else "**no**"
        ours, baseline = (
            _value(entry["ours"], entry["unit"]),
            _value(entry["baseline"], entry["unit"]),
        )
        rows.append(f"| `{name}` | {ours} | {baseline} | {ratio} | {entry['target']} | {met} |")
    return "\n".join(rows)


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "s":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.1f} s"
    if unit == "bytes":
        return f"{value / 1024:,.1f} KiB" if value < 1024 * 1024 else f"{value / 2**20:,.1f} MiB"
    if unit == "share":
        return f"{value:.4f}"
    if unit == "per_s":
        return f"{value:,.0f}/s"
    return f"{value:g} {unit}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
