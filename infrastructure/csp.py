"""The web console's Content-Security-Policy: one definition for the stack and for `make run`.

Plain Python without CDK imports, so the local console server (``localdev/console.py``) can use
it and the local page runs under the same policy as the deployed one.
"""

from __future__ import annotations

from collections.abc import Sequence


def content_security_policy(
    connect_sources: Sequence[str], *, upgrade_insecure_requests: bool = True
) -> str:
    """Scripts, styles and images from the console itself; requests only to ``connect_sources``.

    ``upgrade_insecure_requests`` is off only locally, where it would turn the http:// calls to
    the local API and emulator into https://.
    """
    connect = " ".join(["'self'", *connect_sources])
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "manifest-src 'self'",
        f"connect-src {connect}",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
    if upgrade_insecure_requests:
        directives.append("upgrade-insecure-requests")
    return "; ".join(directives)
