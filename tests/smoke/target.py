"""What the smoke suite knows about the API it checks: only what a client has.

A base URL (``SMOKE_BASE_URL``: a deployment's ``https://<id>.execute-api.<region>.amazonaws.com/api``,
a custom domain, or ``http://127.0.0.1:8000``) and credentials from the environment: the API
key (``SMOKE_API_KEY``), an editor's bearer token (``SMOKE_TOKEN``) and a viewer's
(``SMOKE_VIEWER_TOKEN``). No emulator, no AWS credentials, no SDK: plain HTTP with ``requests``.

Credentials are asked for by **role**, never by header: a check says it writes (``WRITER``: the
key and the editor's token), reads (``READER``: the key and the viewer's token), sends a token
but no key (``KEYLESS``), the key but no token (``TOKENLESS``) or nothing (``ANONYMOUS``), and
``Target.credentials`` turns the role into headers.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import urljoin

import requests

BASE_URL = "SMOKE_BASE_URL"
API_KEY = "SMOKE_API_KEY"
TOKEN = "SMOKE_TOKEN"
VIEWER_TOKEN = "SMOKE_VIEWER_TOKEN"
TIMEOUT_SECONDS = 30


class Role(Enum):
    """Who a request is sent as."""

    ANONYMOUS = "anonymous"  # no credentials at all
    KEYLESS = "keyless"  # an editor's token, no API key
    TOKENLESS = "tokenless"  # the API key, no token
    READER = "reader"  # a viewer: may read
    WRITER = "writer"  # an editor: may read and write


ANONYMOUS, KEYLESS, TOKENLESS = Role.ANONYMOUS, Role.KEYLESS, Role.TOKENLESS
READER, WRITER = Role.READER, Role.WRITER


@dataclass(frozen=True)
class Target:
    """The API under check and the client's credentials."""

    base_url: str
    api_key: str
    token: str  # an editor's (or a machine client's with items/write)
    viewer_token: str  # a viewer's (items/read only)

    @classmethod
    def from_environment(cls) -> Target | None:
        """The target named by ``SMOKE_BASE_URL``, ``SMOKE_API_KEY``, ``SMOKE_TOKEN`` and
        ``SMOKE_VIEWER_TOKEN``; None without a URL."""
        base_url = os.environ.get(BASE_URL, "").strip()
        if not base_url:
            return None
        values = {}
        for variable, what in (
            (API_KEY, "the client's API key"),
            (TOKEN, "an editor's bearer token"),
            (VIEWER_TOKEN, "a viewer's bearer token"),
        ):
            values[variable] = os.environ.get(variable, "").strip()
            if not values[variable]:
                raise SystemExit(f"{variable} must be set with {BASE_URL} ({what})")
        return cls(
            base_url=base_url.rstrip("/"),
            api_key=values[API_KEY],
            token=values[TOKEN],
            viewer_token=values[VIEWER_TOKEN],
        )

    def credentials(self, role: Role) -> dict[str, str]:
        """The headers a request sent as ``role`` carries."""
        key = {"x-api-key": self.api_key}
        if role is ANONYMOUS:
            return {}
        if role is TOKENLESS:
            return key
        if role is KEYLESS:
            return {"Authorization": f"Bearer {self.token}"}
        token = self.viewer_token if role is READER else self.token
        return {**key, "Authorization": f"Bearer {token}"}


@dataclass
class SmokeClient:
    """Requests to one target, and the items it created (so that they can be cleaned up)."""

    target: Target
    tag: str = field(default_factory=lambda: f"smoke-{secrets.token_hex(6)}")
    created: list[str] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, path: str) -> str:
        return self.target.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        role: Role = WRITER,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        sent = {**self.target.credentials(role), **(headers or {})}
        return self.session.request(
            method,
            self.url(path),
            json=json,
            headers=sent,
            allow_redirects=False,
            timeout=TIMEOUT_SECONDS,
        )

    def create_item(self, name: str, **fields: Any) -> requests.Response:
        """``POST /items`` of an item carrying this run's tag; remembered for the clean-up."""
        tags = [self.tag, *fields.pop("tags", [])]
        headers = fields.pop("headers", None)
        body = {"name": f"{self.tag} {name}", "tags": tags, **fields}
        response = self.request("POST", "/items", json=body, headers=headers)
        if response.status_code == 201:
            self.created.append(response.json()["id"])
        return response

    def clean_up(self) -> list[str]:
        """Delete every item this run created (their attachments go with them); the ids that
        could not be deleted."""
        left = []
        for item_id in self.created:
            status = self.request("DELETE", f"/items/{item_id}").status_code
            if status not in (204, 404):
                left.append(item_id)
        self.created.clear()
        return left


def resolve(response: requests.Response, location: str) -> str:
    """``location`` resolved against the URL that answered it, as a client follows it."""
    return urljoin(response.url, location)


def eventually(check: Callable[[], bool], attempts: int = 30, interval: float = 1.0) -> bool:
    """Whether ``check`` holds within ``attempts`` tries (for what happens asynchronously)."""
    for attempt in range(attempts):
        if check():
            return True
        if attempt + 1 < attempts:
            time.sleep(interval)
    return False


def upload(presigned: dict[str, Any], data: bytes, content_type: str) -> requests.Response:
    """What a browser does with a presigned POST: every field, then the file as ``file``."""
    fields = list(presigned["fields"].items())
    return requests.post(
        presigned["url"],
        files=[*((k, (None, v)) for k, v in fields), ("file", ("smoke.txt", data, content_type))],
        timeout=TIMEOUT_SECONDS,
    )
