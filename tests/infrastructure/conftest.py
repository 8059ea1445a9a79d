"""Synthesize once per session: dev (the cdk.json defaults) and prod with every option set.

Synthesis packages the Chalice app and runs cdk-nag, so it is slow; every test reads these
templates. ``Template.from_stack`` raises when cdk-nag reports an unacknowledged finding.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infrastructure.api import FUNCTION_ID
from infrastructure.app import build

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = REPO_ROOT / "infrastructure" / "cdk.json"

PROD_CONTEXT: dict[str, Any] = {
    "stage": "prod",
    "domainName": "api.items.example.com",
    "certificateArn": "arn:aws:acm:us-west-2:123456789012:certificate/11111111-2222-3333-4444-5",
    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
    "webDomainName": "console.items.example.com",
    "webCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9",
    "alarmEmail": "ops@example.com",
    "readCapacityMax": 80,
    "writeCapacityMax": 40,
}


@dataclass(frozen=True)
class Synthesized:
    """One synthesized stack: the assertion helper, its JSON, and the file it was written to."""

    template: Template
    json: dict[str, Any]
    path: Path
    context: dict[str, Any]

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Every resource of a type, by logical id (ids are used as labels, never asserted)."""
        return {
            logical_id: resource
            for logical_id, resource in self.json["Resources"].items()
            if resource["Type"] == resource_type
        }

    def function(self, logical_id: str = FUNCTION_ID) -> dict[str, Any]:
        """A function of the Chalice app (by default the API handler), as SAM declares it."""
        resource: dict[str, Any] = self.json["Resources"][logical_id]
        assert resource["Type"] == "AWS::Serverless::Function"
        return resource

    def only(self, resource_type: str) -> dict[str, Any]:
        """The single resource of a type."""
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
        return found[0]


def default_context() -> dict[str, Any]:
    """The context defaults of cdk.json (what `make synth` uses)."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def synthesize(context: dict[str, Any], workdir: Path) -> Synthesized:
    """Build the app with ``context`` and synthesize it inside ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    previous = Path.cwd()
    # The Chalice construct writes chalice.out/ into the working directory.
    os.chdir(workdir)
    try:
        app = App(context=context, outdir=str(workdir / "cdk.out"))
        stack = build(app)
        template = Template.from_stack(stack)
    finally:
        os.chdir(previous)
    as_json: dict[str, Any] = dict(template.to_json())
    path = workdir / f"{stack.stack_name}.template.json"
    path.write_text(json.dumps(as_json, indent=1))
    return Synthesized(template=template, json=as_json, path=path, context=context)


@dataclass(frozen=True)
class ProcessState:
    """What synthesis must leave untouched in the test process."""

    environ: dict[str, str]
    app_module: Any


@pytest.fixture(scope="session")
def before_synthesis() -> ProcessState:
    return ProcessState(environ=dict(os.environ), app_module=sys.modules.get("app"))


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory, before_synthesis: ProcessState) -> Synthesized:
    return synthesize(default_context(), tmp_path_factory.mktemp("dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory, dev: Synthesized) -> Synthesized:
    # Depends on dev so that both stacks are packaged in one process, in a known order.
    return synthesize({**default_context(), **PROD_CONTEXT}, tmp_path_factory.mktemp("prod"))


@pytest.fixture(scope="session", params=["dev", "prod"])
def stage(request: pytest.FixtureRequest) -> Synthesized:
    synthesized: Synthesized = request.getfixturevalue(request.param)
    return synthesized
