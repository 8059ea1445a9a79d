"""The health of the API's dependencies, checked at most once per interval in each process.

``GET /health`` needs no API key, so anyone can call it as often as the stage admits. Each
check costs a DynamoDB read and an S3 request; checked on every call, a flood of health checks
would spend the table's provisioned reads that items need. Cached here, a flood costs at most
one check of each dependency per process (a Lambda container, or ``chalice local``) per
interval, whatever the request rate. A failed check is cached too: during an outage the flood
would otherwise add its retries to a dependency that is already struggling.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from chalicelib.errors import ItemsApiError

CHECK_INTERVAL_SECONDS = 5.0  # as long as the Retry-After of a 503: a retry sees a new check
OK = "ok"
UNAVAILABLE = "unavailable"


class DependencyHealth:
    """Runs named checks (each raises ``ItemsApiError`` when its dependency is down) and
    remembers their outcome for ``interval_seconds``."""

    def __init__(
        self,
        checks: dict[str, Callable[[], None]],
        *,
        interval_seconds: float = CHECK_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._checks = checks
        self._interval = interval_seconds
        self.clock = clock  # injectable: tests move time instead of waiting for it
        # chalice local is threaded: without the lock, every request arriving while a check is
        # in flight would start one more.
        self._lock = threading.Lock()
        self._states: dict[str, str] | None = None
        self._checked_at = 0.0

    def states(self) -> dict[str, str]:
        """Each dependency's state, ``"ok"`` or ``"unavailable"``, at most an interval old."""
        with self._lock:
            if self._states is None or self.clock() - self._checked_at >= self._interval:
                self._states = {name: _state(check) for name, check in self._checks.items()}
                # From the end of the checks: slow (failing) checks still get a full interval.
                self._checked_at = self.clock()
            return dict(self._states)


def _state(check: Callable[[], None]) -> str:
    try:
        check()
    except ItemsApiError:
        return UNAVAILABLE
    return OK
