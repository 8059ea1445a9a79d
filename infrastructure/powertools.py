"""The AWS-published Powertools for AWS Lambda (Python) layer: its version, SSM parameter, regions.

Plain Python without CDK imports: the context validation (``config``) reads the regions too.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYER_REQUIREMENTS = REPO_ROOT / "requirements-layer.txt"

# The regions where Powertools publishes the layer's SSM parameter
# (/aws/service/powertools/python/<arch>/<runtime>/<version>). Sources: the "Lambda Layer" part of
# Powertools' installation guide (docs/getting-started/install.md and its regional tables in
# docs/includes/_layer_homepage_arm64.md) and the region matrix of the workflow that writes the
# parameters (.github/workflows/update_ssm.yml). me-central-1 and me-south-1 were dropped from
# layer publishing in March 2026 (region outage; powertools-lambda-python issue 8022) and are not
# in the matrix any more, so releases since then have no parameter there. China and GovCloud
# layers are published from other accounts without these parameters.
POWERTOOLS_SSM_REGIONS: tuple[str, ...] = (
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)


def powertools_version() -> str:
    """The Powertools version pinned in requirements-layer.txt (what the layer must provide)."""
    text = LAYER_REQUIREMENTS.read_text()
    match = re.search(r"^aws-lambda-powertools(?:\[[^\]]*\])?==([\w.]+)\s*$", text, re.MULTILINE)
    if not match:
        raise RuntimeError("requirements-layer.txt must pin aws-lambda-powertools")
    return match.group(1)


def layer_parameter(*, architecture: str, runtime: str) -> str:
    """The public SSM parameter holding the layer ARN for this architecture, runtime and version."""
    return f"/aws/service/powertools/python/{architecture}/{runtime}/{powertools_version()}"


def check_region(region: str) -> None:
    """Refuse a region where the layer's SSM parameter does not exist (the deploy would fail)."""
    if region not in POWERTOOLS_SSM_REGIONS:
        raise ValueError(
            f"region {region!r} is not supported: the stack attaches the Powertools for AWS "
            "Lambda layer through its public SSM parameter, which Powertools publishes only in "
            f"{', '.join(POWERTOOLS_SSM_REGIONS)}"
        )
