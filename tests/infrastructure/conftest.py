"""Synthesize once per session: dev (the cdk.json defaults) and prod with every option set.

Synthesis packages the Chalice app and runs cdk-nag, so it is slow; every test reads these
templates. ``Template.from_stack`` raises when cdk-nag reports an unacknowledged finding. Each
stage is also expanded by the SAM translator (what CloudFormation deploys), and the account stack
(``ItemsApi-account``) comes out of the same synthesis.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infrastructure.app import build
from infrastructure.config import LIVE_ALIAS
from infrastructure.functions import FUNCTION_ID

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
    "writeCapacityMax": 60,
    # Both address versions: one WAF IP set each (dev has no allowlist at all).
    "ipAllowlist": ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"],
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

    def live_alias(self, function_id: str = FUNCTION_ID) -> str:
        """The logical id of a function's ``live`` alias (expanded templates: SAM made it)."""
        (alias_id,) = [
            logical_id
            for logical_id, alias in self.resources("AWS::Lambda::Alias").items()
            if alias["Properties"]["FunctionName"] == {"Ref": function_id}
            and alias["Properties"]["Name"] == LIVE_ALIAS
        ]
        return alias_id

    def only(self, resource_type: str) -> dict[str, Any]:
        """The single resource of a type."""
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
        return found[0]


def default_context() -> dict[str, Any]:
    """The context defaults of cdk.json (what `make synth` uses)."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


@dataclass(frozen=True)
class Synthesis:
    """What one synthesis yields: the stage's stack and the account stack."""

    stage: Synthesized
    account: Synthesized


def _written(template: Template, path: Path, context: dict[str, Any]) -> Synthesized:
    as_json: dict[str, Any] = dict(template.to_json())
    path.write_text(json.dumps(as_json, indent=1))
    return Synthesized(template=template, json=as_json, path=path, context=context)


def synthesize(context: dict[str, Any], workdir: Path) -> Synthesis:
    """Build the app with ``context`` and synthesize it inside ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    previous = Path.cwd()
    # The Chalice construct writes chalice.out/ into the working directory.
    os.chdir(workdir)
    try:
        app = App(context=context, outdir=str(workdir / "cdk.out"))
        stacks = build(app)
        # Before the SAM transform, the stage variable naming the execution-log group (whose name
        # holds the API's id) reads as a cycle through RestAPI; CloudFormation orders resources
        # after the transform, where the stage, not the API, refers to the group. ``expand``
        # checks the expanded template for cycles instead.
        stage = Template.from_stack(stacks.stage, skip_cyclical_dependencies_check=True)
        account = Template.from_stack(stacks.account)
    finally:
        os.chdir(previous)
    return Synthesis(
        stage=_written(stage, workdir / f"{stacks.stage.stack_name}.template.json", context),
        account=_written(account, workdir / f"{stacks.account.stack_name}.template.json", context),
    )


def expand(synthesized: Synthesized, workdir: Path) -> Synthesized:
    """The template after the SAM transform, as CloudFormation will deploy it.

    SAM copies a resource's Metadata to the function and REST API it generates but not to the
    stage and deployment, so checkov skips recorded on a SAM resource are carried to every
    resource generated from it (their logical ids start with the SAM resource's).
    """
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    source = copy.deepcopy(synthesized.json)
    # The SAM translator needs a region (for ARNs it renders); no credentials.
    region = synthesized.context["region"]
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": region}):
        expanded: dict[str, Any] = transform(source, {}, NoManagedPolicies())
    sam_metadata = {
        logical_id: resource["Metadata"]["checkov"]
        for logical_id, resource in synthesized.json["Resources"].items()
        if resource["Type"].startswith("AWS::Serverless::")
        and "checkov" in resource.get("Metadata", {})
    }
    for logical_id, resource in expanded["Resources"].items():
        for source_id, skips in sam_metadata.items():
            if logical_id.startswith(source_id):
                resource.setdefault("Metadata", {}).setdefault("checkov", skips)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "expanded.template.json"
    path.write_text(json.dumps(expanded, indent=1))
    # Template.from_json refuses a template with a dependency cycle.
    return Synthesized(
        template=Template.from_json(expanded), json=expanded, path=path, context=synthesized.context
    )


@dataclass(frozen=True)
class ProcessState:
    """What synthesis must leave untouched in the test process."""

    environ: dict[str, str]
    app_modules: dict[str, Any]


def app_modules() -> dict[str, Any]:
    """The Chalice app's modules currently imported (``app`` and ``chalicelib.*``)."""
    return {
        name: module
        for name, module in sys.modules.items()
        if name in ("app", "chalicelib") or name.startswith("chalicelib.")
    }


@pytest.fixture(scope="session")
def before_synthesis() -> ProcessState:
    return ProcessState(environ=dict(os.environ), app_modules=app_modules())


@pytest.fixture(scope="session")
def dev_synthesis(
    tmp_path_factory: pytest.TempPathFactory, before_synthesis: ProcessState
) -> Synthesis:
    return synthesize(default_context(), tmp_path_factory.mktemp("dev"))


@pytest.fixture(scope="session")
def prod_synthesis(tmp_path_factory: pytest.TempPathFactory, dev: Synthesized) -> Synthesis:
    # Depends on dev so that both stacks are packaged in one process, in a known order.
    return synthesize({**default_context(), **PROD_CONTEXT}, tmp_path_factory.mktemp("prod"))


@pytest.fixture(scope="session")
def dev(dev_synthesis: Synthesis) -> Synthesized:
    return dev_synthesis.stage


@pytest.fixture(scope="session")
def prod(prod_synthesis: Synthesis) -> Synthesized:
    return prod_synthesis.stage


@pytest.fixture(scope="session", params=["dev", "prod"])
def stage(request: pytest.FixtureRequest) -> Synthesized:
    synthesized: Synthesized = request.getfixturevalue(request.param)
    return synthesized


@pytest.fixture(scope="session")
def dev_expanded(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return expand(dev, tmp_path_factory.mktemp("dev-expanded"))


@pytest.fixture(scope="session")
def prod_expanded(prod: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return expand(prod, tmp_path_factory.mktemp("prod-expanded"))


@pytest.fixture(scope="session", params=["dev", "prod"])
def expanded(request: pytest.FixtureRequest) -> Synthesized:
    """A stage's template after the SAM transform (what CloudFormation deploys)."""
    synthesized: Synthesized = request.getfixturevalue(f"{request.param}_expanded")
    return synthesized


@dataclass(frozen=True)
class Forms:
    """One stage as synthesized (``raw``) and as CloudFormation deploys it (``expanded``)."""

    raw: Synthesized
    expanded: Synthesized


@pytest.fixture(scope="session", params=["dev", "prod"])
def forms(request: pytest.FixtureRequest) -> Forms:
    return Forms(
        raw=request.getfixturevalue(request.param),
        expanded=request.getfixturevalue(f"{request.param}_expanded"),
    )


@pytest.fixture(scope="session", params=["dev", "prod", "dev_expanded", "prod_expanded"])
def every_form(request: pytest.FixtureRequest) -> Synthesized:
    """Both stages, as synthesized and as expanded: rules that must hold before and after SAM."""
    synthesized: Synthesized = request.getfixturevalue(request.param)
    return synthesized


@pytest.fixture(scope="session")
def account(dev_synthesis: Synthesis) -> Synthesized:
    """The account stack (the same whatever the stage)."""
    return dev_synthesis.account
