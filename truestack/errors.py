"""The API's errors: the application error classes services raise, and the
envelope `{"error": code, "message": message, **extra}` every error under /api/
is rendered in (by truestack/exception_handler.py, the middleware and the views)."""

from django.http import JsonResponse


class ApplicationError(Exception):
    status_code = 400
    code = "BAD_REQUEST"

    def __init__(
        self, message: str, *, code: str | None = None, status_code: int | None = None, extra=None, headers=None
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}
        self.headers = headers or {}

    def body_extra(self) -> dict:
        """Fields added to the error body next to `error` and `message`."""
        return self.extra


class BadRequest(ApplicationError):
    status_code = 400
    code = "BAD_REQUEST"


class NotFound(ApplicationError):
    status_code = 404
    code = "NOT_FOUND"

    def __init__(self, message: str = "Not found", **kwargs):
        super().__init__(message, **kwargs)


class GatewayError(ApplicationError):
    status_code = 502
    code = "GATEWAY_ERROR"


class ProviderBusy(ApplicationError):
    """Every provider-call slot of this process is taken (truestack/bulkhead.py)."""

    status_code = 503
    code = "PROVIDER_BUSY"


class InsufficientCredits(ApplicationError):
    status_code = 402
    code = "INSUFFICIENT_CREDITS"

    def __init__(self, balance: int, *, available: int | None = None, required: int | None = None):
        super().__init__("Client credit balance exhausted", extra={"balance": balance})
        self.balance = balance
        self.available = available
        self.required = required

    def body_extra(self) -> dict:
        # `balance` is the contract; `available` (balance less open holds) and
        # `required` (what one more session needs) explain the refusal.
        extra = dict(self.extra)
        if self.available is not None:
            extra["available"] = self.available
        if self.required is not None:
            extra["required"] = self.required
        return extra


class TooManyRequests(ApplicationError):
    status_code = 429
    code = "RATE_LIMITED"


class ConcurrentSessionLimit(ApplicationError):
    status_code = 429
    code = "CONCURRENT_SESSION_LIMIT"


class IdempotencyInProgress(ApplicationError):
    status_code = 409
    code = "IDEMPOTENCY_REQUEST_IN_PROGRESS"


class SessionStillOpen(ApplicationError):
    status_code = 409
    code = "SESSION_OPEN"


class Gone(ApplicationError):
    status_code = 410
    code = "GONE"


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    code = "IDEMPOTENCY_KEY_REUSED"


# --- the envelope -------------------------------------------------------------

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    410: "GONE",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    500: "SERVER_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def error_body(status_code: int, message: str, code: str | None = None, **extra) -> dict:
    return {"error": code or _CODES.get(status_code, "ERROR"), "message": message, **extra}


def json_error_response(status_code: int, message: str, code: str | None = None, **extra) -> JsonResponse:
    return JsonResponse(error_body(status_code, message, code, **extra), status=status_code)
