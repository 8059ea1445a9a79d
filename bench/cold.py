"""Cold starts as Lambda pays them: import and the first request, in a fresh process each.

The Lambda layout is ``localdev/lambda_layout.py``'s, the import proof's: the ``chalice package``
zip unpacked as ``/var/task`` and a clean virtualenv on the runtime's Python with only the
runtime's SDK and the Powertools layer's pins. Each sample is one new process of
``localdev/lambda_driver.py`` that imports the handler, answers one API Gateway REST proxy event
against the moto server, and leaves with ``os._exit``; its wall time (interpreter start
included, as in Lambda's init) and its peak RSS (``VmHWM``) are the figures; the time is CPU
time (user + system, from ``wait4``), which the other sessions on these shared cores disturb far
less than wall time (the wall time is kept in each sample too).

Ours runs with the stack's settings, tracing on: the X-Ray SDK writes its segments to a UDP
socket of this process, as it would to the daemon in Lambda. Baseline: a plain ``json`` + boto3
handler (``bench/lambda_apps.py``) generated at bench time, serving the same routes on the same
table. Samples of the apps are interleaved, so drift on these shared cores hits all alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.figures import Figure
from bench.lambda_apps import FASTAPI, FLOOR, POWERTOOLS, GeneratedApp, write_app
from localdev.emulator import FAKE_CREDENTIALS, bootstrap, free_port, start_moto_server
from localdev.identity import editor_authorizer_context
from localdev.lambda_layout import (
    BENCH_RUNTIME,
    LAYER_REQUIREMENTS,
    PROJECT_DIR,
    XRaySink,
    lambda_environment,
    package,
    runtime_python,
)

DRIVER = PROJECT_DIR / "localdev" / "lambda_driver.py"
REPETITIONS = 21
WARM_REPETITIONS = 300
FUNCTION_NAME = "items-api-bench"
# What the stack sets on the function (infrastructure/api.py), tracing left on.
STACK_ENVIRONMENT = {
    "ITEMS_TABLE_NAME": "items-cold",
    "ITEMS_TABLE_STREAM_ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/items-cold/stream/x",
    "IDEMPOTENCY_TABLE_NAME": "items-idempotency-cold",
    "ASSETS_BUCKET_NAME": "items-assets-cold",
    "CORS_ALLOW_ORIGIN": "https://items.example.com",
    "POWERTOOLS_SERVICE_NAME": "items-api",
    "POWERTOOLS_METRICS_NAMESPACE": "ItemsApi",
}
LAYER = (f"-r {LAYER_REQUIREMENTS}",)
PEERS = (
    GeneratedApp("floor", FLOOR, ()),
    GeneratedApp("powertools", POWERTOOLS, LAYER),
    GeneratedApp("fastapi", FASTAPI, ("fastapi==0.163.2", "mangum==0.22.0", "pydantic==2.13.5")),
)
POST_BODY = {"name": "cold", "tags": ["a", "b"], "attributes": {"price": 12.5}}
MIB = 1024 * 1024


def api_gateway_event(
    method: str, resource: str, path: str, path_parameters: dict[str, str] | None, body: Any
) -> dict[str, Any]:
    """An API Gateway REST API proxy event (payload 1.0), as the stack's API sends one."""
    headers = {
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "Accept": "application/json",
        "x-api-key": "bench-key",
        "X-Forwarded-Proto": "https",
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "192.0.2.1", "apiKey": "bench-key"},
            # What the token authorizer hands on for an editor (it runs as its own function,
            # before this one, and is not part of the API function's cold start).
            "authorizer": editor_authorizer_context("bench-editor"),
            "accountId": "123456789012",
            "apiId": "abc123",
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def get_event(item_id: str) -> dict[str, Any]:
    return api_gateway_event(
        "GET", "/items/{item_id}", f"/items/{item_id}", {"item_id": item_id}, None
    )


def post_event() -> dict[str, Any]:
    return api_gateway_event("POST", "/items", "/items", None, POST_BODY)


@dataclass(frozen=True)
class Function:
    """A function in the Lambda layout: its interpreter, ``/var/task`` and environment."""

    name: str
    python: Path
    task_root: Path
    environment: dict[str, str]


@dataclass(frozen=True)
class Sample:
    cpu_s: float  # user + system time of the process, spawn to exit
    wall_s: float
    peak_rss_bytes: int
    report: dict[str, Any]


def run_cold(function: Function, event_file: Path, warm: int = 0) -> Sample:
    """One fresh process: import, one event, ``os._exit``; timed from spawn to exit."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(function.python), "-I", "-B", str(DRIVER), "cold", str(event_file), str(warm)],
        cwd=function.task_root,
        env=function.environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    output = process.stdout.read()
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not output:
        raise RuntimeError(f"{function.name} failed ({process.returncode}): {errors.decode()}")
    report: dict[str, Any] = json.loads(output)
    return Sample(usage.ru_utime + usage.ru_stime, wall, int(report["peak_rss_bytes"]), report)


@dataclass
class Layout:
    """Everything the samples need: the emulator, the functions, the events."""

    functions: dict[str, Function]
    events: dict[str, Path]
    xray: XRaySink
    environment: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def lambda_layout(peers: Sequence[GeneratedApp]) -> Iterator[Layout]:
    """The moto server with the stack's tables, ours packaged, ``peers`` generated."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as workdir:
        work = Path(workdir)
        port = free_port()
        server = start_moto_server(port, work / "moto.log")
        xray = XRaySink()
        endpoint = f"http://127.0.0.1:{port}"
        emulator = {
            **STACK_ENVIRONMENT,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_ENDPOINT_URL_S3": endpoint,
        }
        try:
            bootstrap(emulator)
            deployment = package(work / "ours", BENCH_RUNTIME, environment=STACK_ENVIRONMENT)
            functions = {
                "ours": Function(
                    "ours",
                    runtime_python(BENCH_RUNTIME),
                    deployment.task_root,
                    {
                        **lambda_environment(
                            BENCH_RUNTIME,
                            function_name=FUNCTION_NAME,
                            handler="app.app",
                            task_root=deployment.task_root,
                            xray_daemon=xray.address,
                        ),
                        **FAKE_CREDENTIALS,
                        **emulator,
                    },
                )
            }
            for peer in peers:
                task_root = write_app(peer, work / peer.name)
                functions[peer.name] = Function(
                    peer.name,
                    runtime_python(BENCH_RUNTIME, peer.requirements),
                    task_root,
                    {
                        **lambda_environment(
                            BENCH_RUNTIME,
                            function_name=f"{peer.name}-bench",
                            handler=peer.handler,
                            task_root=task_root,
                        ),
                        **FAKE_CREDENTIALS,
                        **emulator,
                    },
                )
            post = work / "post.json"
            post.write_text(json.dumps(post_event()))
            # The item every GET reads: created by ours, so it is exactly what the API stores.
            created = run_cold(functions["ours"], post)
            assert created.report["status"] == 201, created.report
            item_id = json.loads(created.report["body"])["id"]
            get = work / "get.json"
            get.write_text(json.dumps(get_event(item_id)))
            bare = {
                "TableName": STACK_ENVIRONMENT["ITEMS_TABLE_NAME"],
                "Key": {"id": {"S": item_id}, "sk": {"S": "item"}},
                "ConsistentRead": True,
            }
            for function in functions.values():
                function.environment["BARE_GET_ITEM"] = json.dumps(bare)
            yield Layout(functions, {"get": get, "post": post}, xray, emulator)
        finally:
            xray.close()
            server.terminate()
            server.wait(10)


def interleaved(
    layout: Layout, names: Sequence[str], repetitions: int
) -> dict[tuple[str, str], list[Sample]]:
    """``repetitions`` cold samples of every (function, route), interleaved, after a warm-up.

    The order alternates from round to round, so no function always runs first.
    """
    pairs = [(name, route) for route in ("get", "post") for name in names]
    samples: dict[tuple[str, str], list[Sample]] = {pair: [] for pair in pairs}
    expected = {"get": 200, "post": 201}
    for name, route in pairs:  # warm the file system cache for every one of them
        run_cold(layout.functions[name], layout.events[route])
    for round_number in range(repetitions):
        order = pairs if round_number % 2 == 0 else pairs[::-1]
        for name, route in order:
            sample = run_cold(layout.functions[name], layout.events[route])
            assert sample.report["status"] == expected[route], (name, route, sample.report)
            samples[(name, route)].append(sample)
    return samples


def cpu(samples: list[Sample]) -> float:
    return statistics.median(s.cpu_s for s in samples)


def wall(samples: list[Sample]) -> float:
    return statistics.median(s.wall_s for s in samples)


def peak_rss(samples: list[Sample]) -> float:
    return float(statistics.median(s.peak_rss_bytes for s in samples))


def phases(samples: list[Sample]) -> dict[str, float]:
    """Median seconds of each phase in the process: the driver's own start, the handler's
    import, the first request (the interpreter's start before them is in the wall time only)."""
    keys = ("runtime_s", "import_s", "first_request_s")
    return {key: round(statistics.median(s.report[key] for s in samples), 6) for key in keys}


def measure(repetitions: int = REPETITIONS) -> dict[str, Figure]:
    """``cold_first_request.get``/``.post`` and ``cold_peak_rss``: ours against the floor."""
    floor = PEERS[0]
    with lambda_layout([floor]) as layout:
        samples = interleaved(layout, ["ours", floor.name], repetitions)
        traced = len(layout.xray.documents)
    assert traced, "ours sent no trace segment: tracing is not on in the layout"
    note = (
        f"CPU time, median of {repetitions} fresh processes each, interleaved: interpreter "
        f"start, import and the first request through the handler, {BENCH_RUNTIME.name} "
        "layout; baseline: a plain json + boto3 handler"
    )
    figures: dict[str, Figure] = {}
    for route, target in (("get", "<= 1.3"), ("post", "<= 1.5")):
        ours, baseline = samples[("ours", route)], samples[(floor.name, route)]
        figures[f"cold_first_request.{route}"] = Figure(
            cpu(ours),
            cpu(baseline),
            target,
            "s",
            target_on_ratio=True,
            note=f"{note}; wall {wall(ours) * 1000:.0f} vs {wall(baseline) * 1000:.0f} ms; "
            f"phases (ours, wall) {phases(ours)}, (floor) {phases(baseline)}",
        )
    both = samples[("ours", "get")] + samples[("ours", "post")]
    floor_both = samples[(floor.name, "get")] + samples[(floor.name, "post")]
    figures["cold_peak_rss"] = Figure(
        peak_rss(both),
        peak_rss(floor_both),
        "<= 1.3",
        "bytes",
        target_on_ratio=True,
        note="median peak RSS (VmHWM) of the same processes, GET and POST",
    )
    return figures


@dataclass(frozen=True)
class PeerRow:
    name: str
    first_get_s: float
    first_post_s: float
    peak_rss_bytes: float
    warm_extra_s: float
    warm_ratio: float
    untraced_extra_s: float  # the warm extra with tracing off (the peers have none)
    untraced_ratio: float


def measure_peers(repetitions: int = REPETITIONS) -> list[PeerRow]:
    """Ours, the two framework peers and the floor, side by side (``make bench-peers``)."""
    with lambda_layout(PEERS) as layout:
        names = ["ours", "powertools", "fastapi", "floor"]
        samples = interleaved(layout, names, repetitions)
        warm = {name: _warm(layout.functions[name], layout.events["get"]) for name in names}
        ours = layout.functions["ours"]
        untraced = Function(
            "ours",
            ours.python,
            ours.task_root,
            {**ours.environment, "POWERTOOLS_TRACE_DISABLED": "true"},
        )
        warm_untraced = _warm(untraced, layout.events["get"])
    rows = []
    for name in names:
        handler_s, bare_s = warm[name]
        plain_s, plain_bare_s = warm_untraced if name == "ours" else warm[name]
        rows.append(
            PeerRow(
                name,
                cpu(samples[(name, "get")]),
                cpu(samples[(name, "post")]),
                peak_rss(samples[(name, "get")] + samples[(name, "post")]),
                handler_s - bare_s,
                handler_s / bare_s,
                plain_s - plain_bare_s,
                plain_s / plain_bare_s,
            )
        )
    return rows


def _warm(function: Function, event: Path, processes: int = 3) -> tuple[float, float]:
    """Median handler and bare ``GetItem`` seconds over a few warm processes."""
    results = [run_cold(function, event, WARM_REPETITIONS).report["warm"] for _ in range(processes)]
    return (
        statistics.median(r["handler_s"] for r in results),
        statistics.median(r["bare_s"] for r in results),
    )


LABELS = {
    "ours": "ours",
    "powertools": "Powertools resolver",
    "fastapi": "FastAPI + Mangum",
    "floor": "plain json + boto3 handler",
}


def peers_table(rows: list[PeerRow]) -> str:
    """The side-by-side Markdown table (the README's); cold ratios are against the floor, warm
    ones against the bare ``GetItem`` in the same process. Times are CPU times."""
    floor = next(row for row in rows if row.name == "floor")

    def row(label: str, cell: Any) -> str:
        return f"| {label} | " + " | ".join(cell(r) for r in rows) + " |"

    def times(ours: float, baseline: float) -> str:
        return f"{ours * 1000:.0f} ms ({ours / baseline:.2f}x)"

    return "\n".join(
        [
            "| | " + " | ".join(LABELS[r.name] for r in rows) + " |",
            "|---|" + "---:|" * len(rows),
            row("import + first GET", lambda r: times(r.first_get_s, floor.first_get_s)),
            row("import + first POST", lambda r: times(r.first_post_s, floor.first_post_s)),
            row(
                "peak RSS",
                lambda r: (
                    f"{r.peak_rss_bytes / MIB:.1f} MiB "
                    f"({r.peak_rss_bytes / floor.peak_rss_bytes:.2f}x)"
                ),
            ),
            row(
                "warm GET, CPU over the bare call",
                lambda r: f"+{r.warm_extra_s * 1e6:.0f} µs ({r.warm_ratio:.2f}x)",
            ),
            row(
                "the same, tracing off (as the peers)",
                lambda r: f"+{r.untraced_extra_s * 1e6:.0f} µs ({r.untraced_ratio:.2f}x)",
            ),
        ]
    )
