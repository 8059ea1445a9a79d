"""CDK entry point: the only place that reads context (defaults in cdk.json)."""

from __future__ import annotations

import sys
from pathlib import Path

# The Chalice project (app.py, chalicelib/) is the repository root; it must come first on the path
# so that `import app` finds the Chalice app, not this file.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(REPO_ROOT))

from aws_cdk import App, Environment, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks, ServerlessChecks  # noqa: E402

from infrastructure.config import DeploymentSettings  # noqa: E402
from infrastructure.stack import ItemsApiStack  # noqa: E402


def build(app: App) -> ItemsApiStack:
    """Add the stack for the context's stage to ``app``, with cdk-nag checking it."""
    settings = DeploymentSettings.from_context(app.node.try_get_context)
    stack = ItemsApiStack(
        app,
        f"ItemsApi-{settings.stage}",
        settings=settings,
        env=Environment(region=settings.region),
        description=f"Items API ({settings.stage})",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return stack


if __name__ == "__main__":
    application = App()
    build(application)
    application.synth()
