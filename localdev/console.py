"""Serve the web console (``web/``) on loopback, as the deployed site would serve it.

``config.json`` is generated in memory (never written into the tree, where it would trip
``chalice local``'s autoreload and could be committed with a key in it), and every response
carries a strict Content-Security-Policy like the deployed one, so a page that relies on an
inline script or style breaks here first.
"""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infrastructure.csp import content_security_policy
from localdev.emulator import PROJECT_DIR

WEB_DIR = PROJECT_DIR / "web"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (what a CSP source list names)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class ConsoleHandler(SimpleHTTPRequestHandler):
    """Static files of ``web/`` plus the generated ``/config.json``."""

    def __init__(self, *args: Any, config: bytes, csp: str, **kwargs: Any) -> None:
        # Explicit types: the platform's mimetypes table may lack or misname some of them.
        self.extensions_map = {**self.extensions_map, **TYPES}
        self.config = config
        self.csp = csp
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        # Local edits to web/ show up on the next reload.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `make run` prints the API's log; a static file server's is noise."""


def start_console(
    port: int,
    *,
    api_url: str,
    api_key: str | None,
    bucket_url: str,
    auth: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    web_dir: Path = WEB_DIR,
) -> ThreadingHTTPServer:
    """Serve ``web_dir`` on ``host:port`` in a daemon thread; ``shutdown()`` stops it.

    ``auth`` is the sign-in configuration (``domain``: where the user pool's managed login and
    token endpoint are, ``clientId``: the console's app client), as the stack publishes it.
    """
    config: dict[str, Any] = {"apiUrl": api_url}
    if api_key:
        config["apiKey"] = api_key
    if auth:
        config["auth"] = auth
    handler = partial(
        ConsoleHandler,
        directory=str(web_dir),
        config=json.dumps(config).encode(),
        # As deployed but for upgrade-insecure-requests, which would turn the local http://
        # calls into https://.
        csp=content_security_policy(
            [origin(api_url), origin(bucket_url), *([origin(auth["domain"])] if auth else [])],
            upgrade_insecure_requests=False,
        ),
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="console", daemon=True).start()
    return server
