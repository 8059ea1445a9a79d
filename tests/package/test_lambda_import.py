"""Proof that the deployed function imports (issue 4.7), without an AWS account.

``chalice package`` builds the deployment zip (in a temporary copy of the project, so nothing is
written into the working tree). The zip is unpacked into a directory that plays ``/var/task``,
next to a clean virtualenv holding only what Lambda provides at run time: the boto3/botocore of
the stack's runtime (``LAMBDA_RUNTIME``, python3.13) and the pinned contents of the Powertools
layer the stack attaches (``requirements-layer.txt``); ``localdev/lambda_layout.py`` builds both
(for the benchmarks too). A child process on that virtualenv imports ``app`` with the
environment the function gets in Lambda (``AWS_LAMBDA_FUNCTION_NAME`` included, so the
Lambda-only code paths such as the X-Ray tracer run) and serves requests that the Chalice test
client builds, against the moto server.

The clean virtualenv is cached in ``.lambda-runtime/<hash>`` (git-ignored), keyed by the
interpreter and the pins, so reruns skip the install.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from infrastructure.config import LAMBDA_RUNTIME
from localdev.emulator import (
    FAKE_CREDENTIALS,
    PROJECT_DIR,
    bootstrap,
    free_port,
    start_moto_server,
)
from localdev.lambda_layout import (
    LAYER_REQUIREMENTS,
    RUNTIMES,
    XRaySink,
    lambda_environment,
    package,
    runtime_python,
)
from tests.s3_events import object_created
from tests.tokens import ISSUER

DRIVER = PROJECT_DIR / "localdev" / "lambda_driver.py"
# The runtime the stack pins; what it ships and which interpreter plays it: lambda_layout.
RUNTIME = RUNTIMES[LAMBDA_RUNTIME]
# The function's environment: what the stack sets (settings.py); Lambda's own is lambda_layout's.
FUNCTION_NAME = "items-api-proof"
STACK_ENVIRONMENT = {
    "ITEMS_TABLE_NAME": "items-proof",
    "ITEMS_TABLE_STREAM_ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/items-proof/stream/x",
    "IDEMPOTENCY_TABLE_NAME": "items-idempotency-proof",
    "ASSETS_BUCKET_NAME": "items-assets-proof",
    "CORS_ALLOW_ORIGIN": "https://items.example.com",
    "POWERTOOLS_SERVICE_NAME": "items-api",
    "POWERTOOLS_METRICS_NAMESPACE": "ItemsApi",
    # Tracing stays on in the stack; here it is disabled only so nothing tries to reach the
    # X-Ray daemon. The tracer is still created, so its imports are proven.
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@pytest.fixture(scope="session")
def lambda_python() -> Path:
    """A cached virtualenv with only the runtime's SDK and the layer's pinned contents."""
    return runtime_python(RUNTIME)


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``chalice package`` of a copy of the project: the zip, unpacked, and the SAM template."""
    built = package(tmp_path_factory.mktemp("package"), RUNTIME, environment=STACK_ENVIRONMENT)
    return {
        "task_root": built.task_root,
        "names": built.names,
        "template": json.loads(built.template_file.read_text()),
    }


class LambdaFunction:
    """The packaged app in its own process, callable like a Chalice app by the test client.

    Chalice's test client routes a request with ``routes`` (the same route table, imported
    here from the same source) and then calls the app with the Lambda event it built; this
    object forwards that event to the child process, which plays Lambda.
    """

    def __init__(
        self, process: subprocess.Popen[str], routes: Any, ready: dict[str, Any], output: Path
    ) -> None:
        self.process = process
        self.output = output  # what the function printed: logs and EMF metrics
        self.routes = routes
        self.api = type("Api", (), {"binary_types": []})()
        self.ready = ready
        self.invocations = 0

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        if isinstance(event.get("body"), bytes):
            # API Gateway hands Lambda a text body (this API declares no binary types).
            event = {**event, "body": event["body"].decode("utf-8")}
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the function process died"
        self.invocations += 1
        response: dict[str, Any] = json.loads(line)["response"]
        return response


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A moto server with the stack's tables and bucket."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server = start_moto_server(port, log)
    endpoint = f"http://127.0.0.1:{port}"
    environment = {
        **STACK_ENVIRONMENT,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_S3": endpoint,
    }
    try:
        bootstrap(environment)
        yield environment
    finally:
        server.terminate()
        server.wait(10)


@contextlib.contextmanager
def _packaged(
    handler: str,
    lambda_python: Path,
    deployment: dict[str, Any],
    emulator: dict[str, str],
    logs: Path,
    *,
    routes: Any = None,
    xray: XRaySink | None = None,
) -> Iterator[LambdaFunction]:
    """The packaged ``handler`` in its own process on the clean runtime, once it has imported.

    ``routes``: the route table the test client routes with (the API handler's only). With
    ``xray``, tracing is on as in the stack and the X-Ray SDK sends its segments there."""
    task_root = deployment["task_root"]
    environment = {
        **lambda_environment(
            RUNTIME,
            function_name=FUNCTION_NAME,
            handler=handler,
            task_root=task_root,
            xray_daemon=xray.address if xray else None,
        ),
        **FAKE_CREDENTIALS,
        **emulator,
    }
    if xray:
        environment.pop("POWERTOOLS_TRACE_DISABLED")
    stderr = (logs / "stderr.log").open("w")
    process = subprocess.Popen(
        [str(lambda_python), "-I", "-B", str(DRIVER)],
        cwd=task_root,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first, f"the packaged app did not import: see {stderr.name}"
        yield LambdaFunction(process, routes or {}, json.loads(first)["ready"], Path(stderr.name))
    finally:
        if process.stdin:
            process.stdin.close()
        process.wait(10)
        stderr.close()


def signed_in(headers: dict[str, str] | None = None) -> dict[str, str]:
    """``headers`` with an editor's bearer token."""
    return {**(headers or {}), "Authorization": f"Bearer {ISSUER.tokens().editor}"}


def _local_app() -> Any:
    """The same app in this process, for the test client's routing: the settings its import
    reads (the CORS origin, the stream the cleanup handler names) come from the stack's."""
    # The function's answers (and their CORS origin) come from the child, on the stack's
    # environment; this process only routes and runs the authorizer. Its import settles the
    # route table's CORS configuration for the whole test session, so it takes the origin the
    # in-process tests run with ("*"), not the stack's.
    os.environ.setdefault("CORS_ALLOW_ORIGIN", "*")
    os.environ.setdefault("ITEMS_TABLE_STREAM_ARN", STACK_ENVIRONMENT["ITEMS_TABLE_STREAM_ARN"])
    # The token authorizer runs here, as API Gateway runs it before the function: it trusts the
    # tests' issuer, and the function receives its verified context in the event.
    os.environ.setdefault("AUTH_TRUSTED_ISSUERS", ISSUER.trusted_issuers())
    import app

    return app.app


@pytest.fixture(scope="session")
def function(
    lambda_python: Path,
    deployment: dict[str, Any],
    emulator: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LambdaFunction]:
    """The API handler (``app.app``)."""
    logs = tmp_path_factory.mktemp("lambda")
    with _packaged(
        "app.app", lambda_python, deployment, emulator, logs, routes=_local_app().routes
    ) as packaged:
        yield packaged


@pytest.fixture(scope="session")
def sweeper(
    lambda_python: Path,
    deployment: dict[str, Any],
    emulator: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LambdaFunction]:
    """The upload confirmation (``app.confirm_upload``), invoked with EventBridge events."""
    logs = tmp_path_factory.mktemp("sweeper")
    with _packaged("app.confirm_upload", lambda_python, deployment, emulator, logs) as packaged:
        yield packaged


@pytest.fixture(scope="session")
def cleaner(
    lambda_python: Path,
    deployment: dict[str, Any],
    emulator: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LambdaFunction]:
    """The stream's cleanup (``app.clean_up_removed_records``), invoked with stream records."""
    logs = tmp_path_factory.mktemp("cleaner")
    handler = "app.clean_up_removed_records"
    with _packaged(handler, lambda_python, deployment, emulator, logs) as packaged:
        yield packaged


@pytest.fixture(scope="session")
def traced(
    lambda_python: Path,
    deployment: dict[str, Any],
    emulator: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LambdaFunction, XRaySink]]:
    """The API handler with tracing on, as deployed, and what it sent to the X-Ray daemon."""
    logs = tmp_path_factory.mktemp("traced")
    xray = XRaySink()
    try:
        routes = _local_app().routes
        with _packaged(
            "app.app", lambda_python, deployment, emulator, logs, routes=routes, xray=xray
        ) as packaged:
            yield packaged, xray
    finally:
        xray.close()


@pytest.fixture(scope="session")
def token_authorizer(
    lambda_python: Path,
    deployment: dict[str, Any],
    emulator: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LambdaFunction]:
    """The token authorizer (``chalicelib.routes.authorizer.authorize``), trusting the tests'
    issuer as the stack makes it trust the user pool (``AUTH_TRUSTED_ISSUERS``)."""
    logs = tmp_path_factory.mktemp("authorizer")
    handler = "chalicelib.routes.authorizer.authorize"
    trusting = {**emulator, "AUTH_TRUSTED_ISSUERS": ISSUER.trusted_issuers()}
    with _packaged(handler, lambda_python, deployment, trusting, logs) as packaged:
        yield packaged


@pytest.fixture
def client(function: LambdaFunction, tmp_path: Path) -> Client:
    return Client(function, project_dir=str(tmp_path))  # type: ignore[arg-type]


# -- the package -----------------------------------------------------------------------------


def test_the_zip_holds_the_app_and_its_bytecode_and_no_third_party_code(
    deployment: dict[str, Any],
) -> None:
    names = set(deployment["names"])
    sources = {
        str(p.relative_to(PROJECT_DIR))
        for p in (PROJECT_DIR / "chalicelib").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert "app.py" in names
    assert sources <= names
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"app.py", "__pycache__", "chalicelib", "chalice"}
    # Pure Python only: the same zip runs on arm64 and x86_64.
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib"))]
    tag = f"cpython-{RUNTIME.version[0]}{RUNTIME.version[1]}"
    assert {n for n in names if n.startswith("chalice/")} == {
        "chalice/__init__.py",
        "chalice/app.py",
        f"chalice/__pycache__/__init__.{tag}.pyc",
        f"chalice/__pycache__/app.{tag}.pyc",
    }
    # Every module ships its bytecode for the runtime (/var/task is read-only: Python could not
    # cache what it compiles), and nothing else is compiled in.
    python_files = {n for n in names if n.endswith(".py")}
    compiled = {n for n in names if n.endswith(".pyc")}
    assert compiled == {
        str(Path(n).parent / "__pycache__" / f"{Path(n).stem}.{tag}.pyc") for n in python_files
    }


def test_the_packaged_modules_run_from_their_bytecode(function: LambdaFunction) -> None:
    # The shipped .pyc files match this interpreter's magic number and their sources' hashes,
    # so Python uses them instead of compiling (checked by the driver, module by module).
    assert function.ready["stale_or_missing_bytecode"] == []


def test_the_proof_runs_the_runtime_the_stack_deploys(
    deployment: dict[str, Any], function: LambdaFunction
) -> None:
    """The proof's interpreter is the Python of the runtime the stack pins.

    ``chalice package`` writes the packaging Python's runtime into its template; the stack
    overrides it with ``LAMBDA_RUNTIME`` (tests/infrastructure/test_function.py checks the
    synthesized functions), so the template is read here for its handlers only."""
    functions = [
        resource["Properties"]
        for resource in deployment["template"]["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    assert functions
    assert RUNTIME.name == LAMBDA_RUNTIME
    assert {f["Handler"] for f in functions} == {
        "app.app",
        "app.confirm_upload",
        "app.clean_up_removed_records",
        "chalicelib.routes.authorizer.authorize",
    }
    assert RUNTIME.name == "python3.13"
    assert function.ready["python"] == list(RUNTIME.version)


# -- the clean runtime -----------------------------------------------------------------------


def test_the_runtime_holds_only_the_sdk_and_the_layer(function: LambdaFunction) -> None:
    ready = function.ready
    assert ready["python"] == list(RUNTIME.version)
    sdk = dict(pin.split("==") for pin in RUNTIME.sdk)
    assert (ready["boto3"], ready["botocore"]) == (sdk["boto3"], sdk["botocore"])
    layer = {
        line.split("==")[0].split("[")[0].lower()
        for line in LAYER_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert layer <= set(ready["distributions"])
    for absent in ("chalice", "moto", "pytest", "requests", "click", "hypothesis", "pip"):
        assert absent not in ready["distributions"]
    assert ready["modules_not_in_task"] == []


def test_the_app_is_imported_from_the_package_on_the_lambda_code_path(
    function: LambdaFunction, deployment: dict[str, Any]
) -> None:
    task_root = str(deployment["task_root"])
    for key in ("app_file", "chalice_file", "chalicelib_file"):
        assert function.ready[key].startswith(task_root + "/"), key
    assert function.ready["in_lambda"] is True
    assert function.ready["tracer"] == "Tracer"
    assert function.ready["xray_sdk"] == "aws_xray_sdk.core"
    import app

    local_routes = sorted(
        [path, method] for path, methods in app.app.routes.items() for method in methods
    )
    assert function.ready["routes"] == local_routes


def test_the_packaged_app_serves_requests(function: LambdaFunction, client: Client) -> None:
    before = function.invocations
    document = client.http.get("/openapi.json")
    assert document.status_code == 200
    assert json.loads(document.body)["openapi"] == "3.1.0"

    health = client.http.get("/health")
    assert health.status_code == 200, health.body
    assert json.loads(health.body)["checks"] == {"dynamodb": "ok", "s3": "ok"}

    headers = signed_in({"Content-Type": "application/json", "Idempotency-Key": "proof-1"})
    body = json.dumps({"name": "packaged", "attributes": {"price": 0.1}}).encode()
    created = client.http.post("/items", headers=headers, body=body)
    assert created.status_code == 201, created.body
    replay = client.http.post("/items", headers=headers, body=body)
    assert replay.body == created.body

    item = json.loads(created.body)
    fetched = client.http.get(f"/items/{item['id']}", headers=signed_in())
    assert fetched.status_code == 200
    assert json.loads(fetched.body) == item
    assert fetched.headers["ETag"] == '"1"'
    assert b'"price":0.1' in fetched.body

    attachment = client.http.post(
        f"/items/{item['id']}/attachments",
        headers=signed_in({"Content-Type": "application/json"}),
        body=json.dumps({"filename": "a.txt", "content_type": "text/plain", "size": 3}).encode(),
    )
    assert attachment.status_code == 201, attachment.body
    assert function.invocations - before == 6

    output = function.output.read_text()
    assert "Traceback" not in output
    # (That every line is JSON is test_telemetry's business; here: Powertools works.)
    printed = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    requests = [line for line in printed if line.get("message") == "request"]
    assert [(r["method"], r["status"]) for r in requests][-2:] == [("GET", 200), ("POST", 201)]
    metrics = [line for line in printed if "_aws" in line]
    assert any("ItemsCreated" in line for line in metrics)


def test_the_packaged_sweep_removes_a_file_no_attachment_claims(
    sweeper: LambdaFunction, emulator: dict[str, str]
) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        region_name=emulator["AWS_DEFAULT_REGION"],
        endpoint_url=emulator["AWS_ENDPOINT_URL_S3"],
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = emulator["ASSETS_BUCKET_NAME"]
    key = f"attachments/{uuid.uuid4()}/{'0' * 12}{'ab' * 8}"  # an item that no longer exists
    s3.put_object(Bucket=bucket, Key=key, Body=b"late")

    assert sweeper(object_created(bucket, key), None) == {"key": key, "outcome": "removed"}

    assert s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0
    assert sweeper.ready["in_lambda"] is True


def test_the_packaged_cleanup_removes_what_a_deleted_item_left(
    cleaner: LambdaFunction, emulator: dict[str, str]
) -> None:
    """A removed item record, as the stream's event source mapping delivers it."""
    import boto3

    session = boto3.session.Session(
        region_name=emulator["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    dynamodb = session.client("dynamodb", endpoint_url=emulator["AWS_ENDPOINT_URL_DYNAMODB"])
    s3 = session.client("s3", endpoint_url=emulator["AWS_ENDPOINT_URL_S3"])
    table, bucket = emulator["ITEMS_TABLE_NAME"], emulator["ASSETS_BUCKET_NAME"]
    item_id, attachment_id = str(uuid.uuid4()), f"{'0' * 12}{'cd' * 8}"
    dynamodb.put_item(
        TableName=table,
        Item={"id": {"S": item_id}, "sk": {"S": f"item#attachment#{attachment_id}"}},
    )
    key = f"attachments/{item_id}/{attachment_id}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"left behind")
    record = {
        "eventID": "1",
        "eventName": "REMOVE",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1796140800.0,
            "Keys": {"id": {"S": item_id}, "sk": {"S": "item"}},
            "SequenceNumber": "111",
            "SizeBytes": 60,
            "StreamViewType": "KEYS_ONLY",
        },
        "eventSourceARN": STACK_ENVIRONMENT["ITEMS_TABLE_STREAM_ARN"],
    }

    assert cleaner({"Records": [record]}, None) == {"batchItemFailures": []}

    left = dynamodb.query(
        TableName=table,
        KeyConditionExpression="id = :id",
        ExpressionAttributeValues={":id": {"S": item_id}},
    )
    assert left["Count"] == 0
    assert s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0


def test_traces_keep_a_subsegment_per_dynamodb_and_s3_call(
    traced: tuple[LambdaFunction, XRaySink], tmp_path: Path
) -> None:
    function, xray = traced
    client = Client(function, project_dir=str(tmp_path))  # type: ignore[arg-type]
    headers = signed_in({"Content-Type": "application/json"})
    created = client.http.post("/items", headers=headers, body=b'{"name": "traced"}')
    assert created.status_code == 201, created.body
    item_id = json.loads(created.body)["id"]
    assert client.http.get(f"/items/{item_id}", headers=signed_in()).status_code == 200
    # The health check reads the table and asks S3 for an object's head.
    assert client.http.get("/health").status_code == 200

    deadline = time.monotonic() + 5
    # A create writes the item and its listing entries in one transaction.
    expected = [("dynamodb", "TransactWriteItems"), ("dynamodb", "GetItem")]
    expected += [("dynamodb", "GetItem"), ("s3", "HeadObject")]
    while time.monotonic() < deadline:
        calls = [
            (d["name"], d["aws"]["operation"])
            for d in xray.documents
            if d.get("type") == "subsegment" and d.get("namespace") == "aws"
        ]
        if calls[: len(expected)] == expected:
            break
        time.sleep(0.05)
    assert calls == expected
    # Each subsegment belongs to the trace Lambda handed its invocation (one per request).
    assert len({d["trace_id"] for d in xray.documents}) == 3
    # A transaction names no single table (the X-Ray SDK records table_name for single-table
    # operations only); the reads name the items table.
    assert {d["aws"].get("table_name") for d in xray.documents[1:3]} == {
        STACK_ENVIRONMENT["ITEMS_TABLE_NAME"]
    }
    assert function.ready["tracer"] == "Tracer"


def test_the_packaged_authorizer_verifies_a_token_on_the_layers_pyjwt(
    token_authorizer: LambdaFunction, deployment: dict[str, Any]
) -> None:
    """The authorizer's PyJWT and cryptography come from the Powertools layer (its "jwt"
    extra's pins in requirements-layer.txt), not from the zip: in the clean runtime it verifies
    a signed token against the issuer's JWKS and allows every route for its principal."""
    arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/api/GET/items"
    event = {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {ISSUER.tokens().editor}",
        "methodArn": arn,
    }
    answer = token_authorizer(event, None)
    assert answer["principalId"] == "editor"
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert answer["context"]
    # From the runtime's layer pins, not the zip (which bundles no third-party code).
    assert {"pyjwt", "cryptography"} <= set(token_authorizer.ready["distributions"])
    assert not any(n.startswith(("jwt/", "cryptography/")) for n in deployment["names"])
