"""The AWS CDK v2 app that deploys the Items API (see the README's Deploy section)."""
