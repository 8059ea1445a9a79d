"""Domain errors. Each carries the HTTP status it stands for and renders as Chalice's
``{"Code", "Message"}`` shape; the route layer turns them into responses."""

from __future__ import annotations


class ItemsApiError(Exception):
    """Base of every error the API reports to a client."""

    STATUS_CODE = 500
    CODE = "InternalServerError"
    # Seconds a client should wait before retrying, sent as Retry-After when set.
    RETRY_AFTER: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_body(self) -> dict[str, str]:
        """The JSON body of the error, in Chalice's own error shape."""
        return {"Code": self.CODE, "Message": self.message}


class ValidationError(ItemsApiError):
    """The request is malformed; the message names the offending field or header."""

    STATUS_CODE = 400
    CODE = "BadRequestError"


class UnauthorizedError(ItemsApiError):
    """The request carries no usable token (the authorizer refuses most such requests itself;
    the app refuses one whose cached authorization outlived the token)."""

    STATUS_CODE = 401
    CODE = "UnauthorizedError"


class ForbiddenError(ItemsApiError):
    """A valid token without the permission the route needs; nothing was written."""

    STATUS_CODE = 403
    CODE = "ForbiddenError"


class NotFoundError(ItemsApiError):
    STATUS_CODE = 404
    CODE = "NotFoundError"


class ConflictError(ItemsApiError):
    """Retry later: the same idempotent create is still running, or other writers kept winning
    the race of a merge patch. Either clears within moments: ``Retry-After`` says when."""

    STATUS_CODE = 409
    CODE = "ConflictError"
    RETRY_AFTER = 1


class PreconditionFailedError(ItemsApiError):
    """``If-Match`` named a version other than the stored one; nothing was written."""

    STATUS_CODE = 412
    CODE = "PreconditionFailedError"


class PayloadTooLargeError(ItemsApiError):
    STATUS_CODE = 413
    CODE = "PayloadTooLargeError"


class UnprocessableEntityError(ItemsApiError):
    """An idempotency key was reused with a different request body."""

    STATUS_CODE = 422
    CODE = "UnprocessableEntityError"


class ThrottledError(ItemsApiError):
    """DynamoDB kept throttling after the SDK's own retries."""

    STATUS_CODE = 429
    CODE = "TooManyRequestsError"
    RETRY_AFTER = 1


class DependencyUnavailableError(ItemsApiError):
    """A backing service could not be reached or answered with a server error."""

    STATUS_CODE = 503
    CODE = "ServiceUnavailableError"
    RETRY_AFTER = 5
