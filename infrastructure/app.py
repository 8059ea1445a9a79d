"""CDK entry point: the only place that reads context (defaults in cdk.json)."""

from __future__ import annotations

import sys
from pathlib import Path

# The Chalice project (app.py, chalicelib/) is the repository root; it must come first on the path
# so that `import app` finds the Chalice app, not this file.
REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path[:1]:
    sys.path.insert(0, str(REPO_ROOT))

from dataclasses import dataclass  # noqa: E402

from aws_cdk import App, Environment, Validations  # noqa: E402
from cdk_nag import AwsSolutionsChecks, ServerlessChecks  # noqa: E402

from infrastructure.account import ACCOUNT_STACK_NAME, ItemsApiAccountStack  # noqa: E402
from infrastructure.config import AccountSettings, DeploymentSettings  # noqa: E402
from infrastructure.stack import ItemsApiStack  # noqa: E402


@dataclass(frozen=True)
class Stacks:
    """The two stacks of the app: the stage's (``make deploy``) and the account's (``make
    bootstrap``, once per account and region)."""

    stage: ItemsApiStack
    account: ItemsApiAccountStack


def build(app: App) -> Stacks:
    """Add the context stage's stack and the account stack to ``app``, cdk-nag checking both."""
    settings = DeploymentSettings.from_context(app.node.try_get_context)
    environment = Environment(region=settings.region)
    account = ItemsApiAccountStack(
        app,
        ACCOUNT_STACK_NAME,
        settings=AccountSettings.from_context(app.node.try_get_context),
        env=environment,
        description="Items API: account- and region-wide settings (deployed once)",
    )
    stage = ItemsApiStack(
        app,
        f"ItemsApi-{settings.stage}",
        settings=settings,
        env=environment,
        description=f"Items API ({settings.stage})",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return Stacks(stage=stage, account=account)


if __name__ == "__main__":
    application = App()
    build(application)
    application.synth()
