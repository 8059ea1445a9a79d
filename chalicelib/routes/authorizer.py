"""The API's Lambda (TOKEN) authorizer: verifies the bearer token of every protected route.

API Gateway calls it before the API function and caches its answer per token for
``AUTHORIZER_CACHE_SECONDS``; ``chalice local`` and the test client call it before every request
the same way. Its answer allows every route (a cached answer must hold for any route the same
token calls next) and carries the principal in its context; the routes check the permission.

A refused token raises an error whose message is ``Unauthorized``, which API Gateway turns into
its 401. Off Lambda the local gateway would crash on that instead, so there the refusal is the
local gateway's own 401 (``chalicelib.auth.local``).
"""

from __future__ import annotations

import os

from chalice.app import AuthRequest, AuthResponse, Blueprint

from chalicelib.auth.permissions import InvalidPrincipalError, Principal

authorizer_routes = Blueprint(__name__)

# How long API Gateway reuses an answer for the same token. The route layer still refuses a
# cached answer once the token itself has expired, so this only bounds how late a token's
# permissions are re-read (they come from the token, which cannot change) and how often the
# authorizer runs.
AUTHORIZER_CACHE_SECONDS = 300
_BEARER = "bearer "


class Unauthorized(Exception):  # noqa: N818 - API Gateway matches this exact message
    """API Gateway answers 401 when an authorizer fails with the message ``Unauthorized``."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


class AuthorizerUnavailable(Exception):  # noqa: N818 - reported as AUTHORIZER_FAILURE
    """The token could not be checked (its issuer's keys are unreachable): retry later."""


def bearer_token(header_value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme is case-insensitive)."""
    if not header_value or header_value[: len(_BEARER)].lower() != _BEARER:
        return None
    token = header_value[len(_BEARER) :].strip()
    return token or None


def _in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def _refuse(reason: str) -> Exception:
    from chalicelib import telemetry

    telemetry.logger().info("token refused", extra={"reason": reason})
    if _in_lambda():
        return Unauthorized()
    from chalicelib.auth.local import local_unauthorized

    return local_unauthorized()


def _unavailable(reason: str) -> Exception:
    from chalicelib import telemetry

    telemetry.logger().error("token could not be checked", extra={"reason": reason})
    if _in_lambda():
        return AuthorizerUnavailable("signing keys unavailable")
    from chalicelib.auth.local import local_unavailable

    return local_unavailable()


@authorizer_routes.authorizer(ttl_seconds=AUTHORIZER_CACHE_SECONDS)
def authorize(auth_request: AuthRequest) -> AuthResponse:
    """Allow every route for the principal of a valid token; refuse anything else (401)."""
    from chalicelib.auth.tokens import KeysUnavailableError, TokenRefusedError, get_verifier

    token = bearer_token(auth_request.token)
    if token is None:
        raise _refuse("no bearer token")
    try:
        principal = Principal.from_claims(get_verifier().verify(token))
    except (TokenRefusedError, InvalidPrincipalError) as refused:
        raise _refuse(str(refused)) from refused
    except KeysUnavailableError as unavailable:
        raise _unavailable(str(unavailable)) from unavailable
    return AuthResponse(routes=["*"], principal_id=principal.name, context=principal.to_context())
