"""Attachments over real HTTP (issue 6): ``chalice local`` + the moto server, real uploads.

Also home of the live-server harness the other reliability integration tests import: one moto
server and one ``chalice local --no-autoreload`` per test session, both real processes on free
ports. ``chalice local`` replaces its environment with the stage's, so it runs on a temporary
project directory (symlinks to the sources) whose `.chalice/config.json` points the ``local``
stage at this session's emulator.
"""

from __future__ import annotations

import atexit
import base64
import functools
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from localdev.emulator import (
    CHALICE_CONFIG,
    FAKE_CREDENTIALS,
    PROJECT_DIR,
    bootstrap,
    free_port,
    local_stage_environment,
    process_environment,
    start_moto_server,
    wait_for_http,
    with_emulator_port,
)

pytestmark = pytest.mark.integration

API_KEY = "integration-test-key"
SOURCES = ("app.py", "chalicelib", "requirements.txt")


@dataclass
class LiveApi:
    """The API served by ``chalice local`` against the moto server, over real HTTP."""

    url: str
    environment: dict[str, str]  # the local stage's environment, on this session's emulator
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workdir: Path | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        raw: bytes | None = None,
        api_key: str | None = API_KEY,
    ) -> requests.Response:
        sent = {"x-api-key": api_key} if api_key else {}
        if body is not None or raw is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        return self.session.request(
            method, self.url + path, data=data, headers=sent, allow_redirects=False, timeout=30
        )

    def create_item(self, name: str = "thing", **fields: Any) -> dict[str, Any]:
        response = self.request("POST", "/items", {"name": name, **fields})
        assert response.status_code == 201, response.text
        item: dict[str, Any] = response.json()
        return item

    def aws(self, service: str) -> Any:
        """A boto3 client of the emulator, for looking behind the API."""
        return boto3.session.Session(
            region_name=self.environment["AWS_DEFAULT_REGION"],
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).client(service, endpoint_url=self.environment["AWS_ENDPOINT_URL_S3"])  # type: ignore[call-overload]

    @property
    def bucket(self) -> str:
        return self.environment["ASSETS_BUCKET_NAME"]

    @property
    def items_table(self) -> str:
        return self.environment["ITEMS_TABLE_NAME"]

    def bucket_keys(self, prefix: str = "") -> set[str]:
        listing = self.aws("s3").list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return {entry["Key"] for entry in listing.get("Contents", [])}

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.processes.clear()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


@functools.cache
def live_api() -> LiveApi:
    """Start the emulator and ``chalice local`` once per test session."""
    workdir = Path(tempfile.mkdtemp(prefix="items-api-integration-"))
    environment = with_emulator_port(local_stage_environment(), free_port())
    live = LiveApi(url="", environment=environment, workdir=workdir)
    atexit.register(live.stop)  # also when the session ends abnormally
    moto_port = int(environment["AWS_ENDPOINT_URL_S3"].rsplit(":", 1)[1])
    live.processes.append(start_moto_server(moto_port, workdir / "moto.log"))
    bootstrap(environment)

    project = workdir / "project"
    (project / ".chalice").mkdir(parents=True)
    for name in SOURCES:
        (project / name).symlink_to(PROJECT_DIR / name)
    config = json.loads(CHALICE_CONFIG.read_text())
    config["stages"]["local"]["environment_variables"] = environment
    (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))

    api_port = free_port()
    with (workdir / "chalice.log").open("ab") as log:
        api = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "chalice"),
                "--project-dir",
                str(project),
                "local",
                "--no-autoreload",
                "--stage",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
            ],
            cwd=workdir,
            env=process_environment({"LOCAL_API_KEY": API_KEY}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    live.processes.append(api)
    live.url = f"http://127.0.0.1:{api_port}"
    wait_for_http(f"{live.url}/health", timeout=60, process=api)
    return live


@pytest.fixture(scope="session")
def live() -> Iterator[LiveApi]:
    api = live_api()
    yield api
    api.stop()


def start_upload(
    live: LiveApi, item_id: str, filename: str, content_type: str, size: int
) -> dict[str, Any]:
    response = live.request(
        "POST",
        f"/items/{item_id}/attachments",
        {"filename": filename, "content_type": content_type, "size": size},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def upload(created: dict[str, Any], data: bytes, content_type: str) -> requests.Response:
    """What a browser does: multipart/form-data with every field, then the file as ``file``."""
    fields = list(created["upload"]["fields"].items())
    return requests.post(
        created["upload"]["url"],
        files=[*((k, (None, v)) for k, v in fields), ("file", ("x", data, content_type))],
        timeout=30,
    )


# -- tests -----------------------------------------------------------------------------------


def test_upload_with_the_presigned_post_then_download_byte_for_byte(live: LiveApi) -> None:
    item = live.create_item()
    data = bytes(range(256)) * 40 + b"\x00\r\n--boundary--\r\n"
    created = start_upload(live, item["id"], "photo.png", "image/png", len(data))
    path = f"/items/{item['id']}/attachments/{created['attachment']['id']}"

    assert live.request("GET", path).status_code == 404  # not uploaded yet

    uploaded = upload(created, data, "image/png")
    assert uploaded.status_code in (200, 201, 204), uploaded.text
    key = created["upload"]["fields"]["key"]
    assert key == f"attachments/{item['id']}/{created['attachment']['id']}"
    assert live.bucket_keys(f"attachments/{item['id']}/") == {key}

    redirect = live.request("GET", path)
    assert redirect.status_code == 302
    assert redirect.headers["Cache-Control"] == "no-store"
    location = redirect.headers["Location"]
    downloaded = requests.get(location, timeout=30)
    assert downloaded.status_code == 200
    assert downloaded.content == data
    query = parse_qs(urlsplit(location).query)
    assert query["response-content-type"] == ["image/png"]
    assert query["response-content-disposition"][0].startswith('attachment; filename="photo.png"')


def test_the_policy_admits_only_the_declared_type_and_size(live: LiveApi) -> None:
    item = live.create_item()
    created = start_upload(live, item["id"], "doc.pdf", "application/pdf", 1000)

    policy = json.loads(base64.b64decode(created["upload"]["fields"]["policy"]))
    assert {"Content-Type": "application/pdf"} in policy["conditions"]
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert {"bucket": live.bucket} in policy["conditions"]
    assert created["upload"]["url"].startswith(live.environment["AWS_ENDPOINT_URL_S3"])


def test_list_paginates_with_a_cursor_and_rejects_a_bad_one(live: LiveApi) -> None:
    item = live.create_item()
    ids = {
        start_upload(live, item["id"], f"f{i}.txt", "text/plain", 1)["attachment"]["id"]
        for i in range(5)
    }
    seen: list[str] = []
    cursor = None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = live.request("GET", f"/items/{item['id']}/attachments?limit=2{suffix}")
        assert page.status_code == 200
        seen += [a["id"] for a in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == seen
    assert set(seen) == ids
    assert len(seen) == 5

    bad = live.request("GET", f"/items/{item['id']}/attachments?cursor=not-a-cursor")
    assert bad.status_code == 400
    assert bad.json()["Message"].startswith("cursor:")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filename": "", "content_type": "text/plain", "size": 1}, "filename"),
        ({"filename": "a", "content_type": "text/html", "size": 1}, "content_type"),
        ({"filename": "a", "content_type": "text/plain", "size": 0}, "size"),
        ({"filename": "a", "content_type": "text/plain", "size": True}, "size"),
        ({"filename": "a", "content_type": "text/plain", "size": 25 * 1024 * 1024 + 1}, "size"),
        ({"filename": "a", "content_type": "text/plain", "size": 1, "acl": "public"}, "acl"),
    ],
)
def test_bad_requests_name_the_field(live: LiveApi, body: dict[str, Any], field: str) -> None:
    item = live.create_item()
    response = live.request("POST", f"/items/{item['id']}/attachments", body)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["Message"].startswith(f"{field}:")
    assert live.bucket_keys(f"attachments/{item['id']}/") == set()


def test_a_missing_item_is_a_404(live: LiveApi) -> None:
    missing = str(uuid.uuid4())
    body = {"filename": "a", "content_type": "text/plain", "size": 1}
    assert live.request("POST", f"/items/{missing}/attachments", body).status_code == 404
    assert live.request("GET", f"/items/{missing}/attachments").status_code == 404


def test_delete_attachment_removes_its_file(live: LiveApi) -> None:
    item = live.create_item()
    created = start_upload(live, item["id"], "a.txt", "text/plain", 3)
    assert upload(created, b"abc", "text/plain").ok
    path = f"/items/{item['id']}/attachments/{created['attachment']['id']}"

    assert live.request("DELETE", path).status_code == 204
    assert live.bucket_keys(f"attachments/{item['id']}/") == set()
    assert live.request("GET", path).status_code == 404
    assert live.request("DELETE", path).status_code == 404


def test_deleting_an_item_removes_its_files_and_no_other_items(live: LiveApi) -> None:
    doomed, neighbour = live.create_item(), live.create_item()
    for index in range(3):
        created = start_upload(live, doomed["id"], f"{index}.txt", "text/plain", 1)
        assert upload(created, b"d", "text/plain").ok
    kept = start_upload(live, neighbour["id"], "n.txt", "text/plain", 1)
    assert upload(kept, b"n", "text/plain").ok

    assert live.request("DELETE", f"/items/{doomed['id']}").status_code == 204

    assert live.bucket_keys(f"attachments/{doomed['id']}/") == set()
    assert live.bucket_keys(f"attachments/{neighbour['id']}/") == {kept["upload"]["fields"]["key"]}
    download = live.request(
        "GET", f"/items/{neighbour['id']}/attachments/{kept['attachment']['id']}"
    )
    assert download.status_code == 302
    assert requests.get(download.headers["Location"], timeout=30).content == b"n"
