"""The two permissions, who gets them, and the principal a verified token stands for.

One definition shared by the authorizer (claims in), the routes (the request context in) and the
stack (the Cognito groups and the resource server's scopes are created from these names).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

READ = "items/read"
WRITE = "items/write"
PERMISSIONS = (READ, WRITE)

# People get permissions from their group, machine clients from the scopes granted to them.
VIEWERS = "viewers"
EDITORS = "editors"
GROUP_PERMISSIONS: Mapping[str, frozenset[str]] = {
    VIEWERS: frozenset({READ}),
    EDITORS: frozenset({READ, WRITE}),
}
# The Cognito resource server whose scopes machine clients are granted: its identifier and scope
# names make the full scope strings exactly the permission names ("items" + "/" + "read").
RESOURCE_SERVER = "items"
SCOPE_NAMES = {READ: "read", WRITE: "write"}

PrincipalKind = Literal["person", "client"]

# Methods that only read; every other method writes.
_READ_METHODS = frozenset({"GET", "HEAD"})


def required_permission(method: str) -> str:
    """``items/read`` for a GET, ``items/write`` for a POST, PUT, PATCH or DELETE."""
    return READ if method.upper() in _READ_METHODS else WRITE


class InvalidPrincipalError(ValueError):
    """Claims or an authorizer context that do not describe a principal."""


def _text(source: Mapping[str, Any], name: str) -> str:
    value = source.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidPrincipalError(f"{name}: missing or not a string")
    return value


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a person (by username) or a machine client (by client id)."""

    name: str  # what created_by/updated_by record: a username or a client id
    subject: str  # the token's sub: what idempotency keys are scoped by
    kind: PrincipalKind
    permissions: frozenset[str]
    expires_at: int  # the token's exp (seconds since the epoch)

    def may(self, permission: str) -> bool:
        return permission in self.permissions

    def expired(self, now: float | None = None) -> bool:
        """Whether the token has expired. API Gateway caches an authorizer's answer per token
        for minutes, so a cached answer can outlive the token; this catches that."""
        return (time.time() if now is None else now) >= self.expires_at

    def to_context(self) -> dict[str, str]:
        """The authorizer context: flat string values (API Gateway allows no lists or maps, and
        hands every value to the function as a string anyway)."""
        return {
            "principal": self.name,
            "subject": self.subject,
            "kind": self.kind,
            "permissions": " ".join(sorted(self.permissions)),
            "expires_at": str(self.expires_at),
        }

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> Principal:
        """The principal of a request, from the context the authorizer returned.

        API Gateway hands every context value to the function as a string; the local gateway
        passes them through as they were returned. Both are accepted.
        """
        kind = _text(context, "kind")
        if kind not in ("person", "client"):
            raise InvalidPrincipalError("kind: must be person or client")
        expires = context.get("expires_at")
        try:
            expires_at = int(expires) if isinstance(expires, (int, str)) else None
        except ValueError:
            expires_at = None
        if expires_at is None or isinstance(expires, bool):
            raise InvalidPrincipalError("expires_at: missing or not an integer")
        granted = context.get("permissions", "")
        if not isinstance(granted, str):
            raise InvalidPrincipalError("permissions: not a string")
        return cls(
            name=_text(context, "principal"),
            subject=_text(context, "subject"),
            kind="person" if kind == "person" else "client",
            permissions=frozenset(granted.split()) & frozenset(PERMISSIONS),
            expires_at=expires_at,
        )

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        """The principal of verified token claims.

        A person's tokens carry a username (``cognito:username`` in an ID token, ``username``
        in an access token) and their groups; a machine client's access token (client
        credentials) carries neither, only the scopes granted to it. A person's permissions
        come from groups only, never from scopes, so no OAuth scope a sign-in asks for can
        widen what a person may do.
        """
        username = claims.get("cognito:username", claims.get("username"))
        expires = claims.get("exp")
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise InvalidPrincipalError("exp: missing or not an integer")
        if username is not None:
            if not isinstance(username, str) or not username:
                raise InvalidPrincipalError("username: not a string")
            groups = claims.get("cognito:groups", [])
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                raise InvalidPrincipalError("cognito:groups: not a list of strings")
            granted: frozenset[str] = frozenset().union(
                *(GROUP_PERMISSIONS.get(group, frozenset()) for group in groups)
            )
            return cls(username, _text(claims, "sub"), "person", granted, expires)
        if claims.get("token_use") != "access":
            raise InvalidPrincipalError("a token without a username must be an access token")
        scopes = claims.get("scope", "")
        if not isinstance(scopes, str):
            raise InvalidPrincipalError("scope: not a string")
        granted = frozenset(scopes.split()) & frozenset(PERMISSIONS)
        return cls(_text(claims, "client_id"), _text(claims, "sub"), "client", granted, expires)
