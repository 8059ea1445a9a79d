"""Print the figures of a fuzzing run (``make fuzz``) as Markdown tables.

Reads the JSON lines the fuzz tests append to ``FUZZ_REPORT``: per test of our own fuzzers, the
outcomes by route and status; per schemathesis run and operation, the requests sent and how
many were accepted (2xx/3xx) or answered 503 because the emulator was too slow.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path


def main(path: str) -> int:
    ours: dict[str, Counter[str]] = defaultdict(Counter)
    schemathesis: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "test" in record:
            ours[record["test"]].update(record["outcomes"])
        else:
            counts = schemathesis[record["run"]][record["operation"]]
            counts.update({key: record.get(key, 0) for key in ("sent", "accepted", "unavailable")})
    for test, outcomes in sorted(ours.items()):
        print(f"\n### Our fuzzer: {test} ({sum(outcomes.values())} requests)\n")
        print("| route | status | requests |\n|---|---|---|")
        for outcome, count in sorted(outcomes.items()):
            route, _, status = outcome.rpartition(" ")
            print(f"| `{route}` | {status} | {count} |")
    for run, operations in sorted(schemathesis.items()):
        total = sum(c["sent"] for c in operations.values())
        print(f"\n### schemathesis, {run} ({total} requests)\n")
        print("| operation | sent | accepted (2xx/3xx) | 503 (emulator too slow) |")
        print("|---|---|---|---|")
        for operation, counts in sorted(operations.items()):
            sent, accepted, slow = counts["sent"], counts["accepted"], counts["unavailable"]
            print(f"| `{operation}` | {sent} | {accepted} | {slow} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
