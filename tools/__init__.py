"""Commands behind make targets that are neither the app nor its tests: the committed API
contract (``make openapi``, ``make api-diff``) and the release notes from ``CHANGELOG.md``."""
