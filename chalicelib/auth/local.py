"""The local gateway's answers to a refused token, for ``chalice local`` and the test client.

API Gateway turns an authorizer's ``Unauthorized`` into a 401 of its own (and an authorizer
failure into the gateway response the stack configures); the local gateway would instead crash
on the exception. Raising one of its own exceptions makes it answer as API Gateway does: the same
status, body and CORS headers. Used only off Lambda: ``chalice.local`` is not even packaged.
"""

from __future__ import annotations

from chalice.local import LocalGatewayException, NotAuthorizedError

from chalicelib.routes.web import JSON

UNAVAILABLE_RETRY_AFTER_SECONDS = 5


class AuthorizerUnavailableError(LocalGatewayException):
    """What the deployed gateway answers when the authorizer fails (AUTHORIZER_FAILURE)."""

    CODE = 503


def _headers(error_type: str) -> dict[str, str]:
    from chalicelib.routes.common import CORS

    return {
        **CORS.get_access_control_headers(),
        "Content-Type": JSON,
        "x-amzn-ErrorType": error_type,
    }


def local_unauthorized() -> NotAuthorizedError:
    return NotAuthorizedError(
        {**_headers("UnauthorizedException"), "WWW-Authenticate": "Bearer"},
        b'{"message":"Unauthorized"}',
    )


def local_unavailable() -> AuthorizerUnavailableError:
    return AuthorizerUnavailableError(
        {
            **_headers("AuthorizerFailureException"),
            "Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS),
        },
        b'{"message":"authorization is unavailable, retry later"}',
    )
