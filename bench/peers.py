"""``python -m bench.peers``: ours beside the Powertools and FastAPI peers and the floor.

Every app is generated at bench time in a temporary directory (``bench/lambda_apps.py``) with its
own clean virtualenv; the table compares cold first requests, peak RSS and the warm overhead
over the bare ``GetItem``, all in the Lambda layout (see ``bench/cold.py``).
"""

from __future__ import annotations

import sys

from bench import cold


def main() -> int:
    rows = cold.measure_peers()
    print(cold.peers_table(rows))
    ours = next(row for row in rows if row.name == "ours")
    others = [row for row in rows if row.name in ("powertools", "fastapi")]
    faster = all(
        ours.first_get_s < row.first_get_s
        and ours.first_post_s < row.first_post_s
        and ours.untraced_extra_s < row.warm_extra_s
        for row in others
    )
    # Warm, ours is compared with tracing off: the peers trace nothing (each traced call also
    # pays its X-Ray subsegment, shown in the row above it).
    print(f"\nfaster than both peers cold and warm: {'yes' if faster else 'no'}")
    return 0 if faster else 1


if __name__ == "__main__":
    sys.exit(main())
