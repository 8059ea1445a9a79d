"""The AWS CDK v2 app that deploys the Items API (see docs/deploy.md)."""
