"""What the smoke suite knows about the API it checks: only what a client has.

A base URL (``SMOKE_BASE_URL``: a deployment's ``https://<id>.execute-api.<region>.amazonaws.com/api``,
a custom domain, or ``http://127.0.0.1:8000``) and credentials from the environment: the API
key (``SMOKE_API_KEY``). No emulator, no AWS credentials, no SDK: plain HTTP with ``requests``.

Credentials are asked for by **role**, never by header: a check says it writes (``WRITER``),
reads (``READER``) or sends nothing (``ANONYMOUS``), and ``Target.credentials`` turns the role
into headers. Today both roles send the API key. When the API requires Cognito bearer tokens
(issue 14), ``Target`` gains ``token`` (``SMOKE_TOKEN``, an editor) and ``viewer_token``
(``SMOKE_VIEWER_TOKEN``), ``credentials`` adds ``Authorization: Bearer ...`` per role, and checks
that a reader cannot write join the suite; the existing checks stay as they are.
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
TIMEOUT_SECONDS = 30


class Role(Enum):
    """Who a request is sent as."""

    ANONYMOUS = "anonymous"  # no credentials at all
    READER = "reader"  # may read
    WRITER = "writer"  # may read and write


ANONYMOUS, READER, WRITER = Role.ANONYMOUS, Role.READER, Role.WRITER


@dataclass(frozen=True)
class Target:
    """The API under check and the client's credentials."""

    base_url: str
    api_key: str

    @classmethod
    def from_environment(cls) -> Target | None:
        """The target named by ``SMOKE_BASE_URL`` and ``SMOKE_API_KEY``; None without a URL."""
        base_url = os.environ.get(BASE_URL, "").strip()
        if not base_url:
            return None
        api_key = os.environ.get(API_KEY, "").strip()
        if not api_key:
            raise SystemExit(f"{API_KEY} must be set with {BASE_URL} (the client's API key)")
        return cls(base_url=base_url.rstrip("/"), api_key=api_key)

    def credentials(self, role: Role) -> dict[str, str]:
        """The headers a request sent as ``role`` carries."""
        if role is ANONYMOUS:
            return {}
        return {"x-api-key": self.api_key}


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
