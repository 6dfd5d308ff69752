"""Typed errors for TrueStack's error envelope `{"error": CODE, "message": text, ...}`.

Program against the class (or `code`); `message` is for logs and may change wording."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TrueStackError(Exception):
    """Any error answer from the API. `status` is the HTTP status (None when no
    answer arrived), `code` the envelope's `error`, `body` the whole envelope."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "UNKNOWN",
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.body: dict[str, Any] = dict(body or {})
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}  # lower-cased names

    def __str__(self) -> str:
        prefix = f"{self.status} {self.code}" if self.status is not None else self.code
        return f"{prefix}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class AuthenticationError(TrueStackError):
    """401 UNAUTHORIZED: missing, unknown or revoked key, or a suspended client."""


class ValidationError(TrueStackError):
    """400 BAD_REQUEST (also 413 PAYLOAD_TOO_LARGE and 415 UNSUPPORTED_MEDIA_TYPE): fix the request."""


class InsufficientCredits(TrueStackError):
    """402 INSUFFICIENT_CREDITS: `balance` is the current balance in credits;
    `available` and `required` are set when the server sends them."""

    @property
    def balance(self) -> float | None:
        return self.body.get("balance")

    @property
    def available(self) -> float | None:
        return self.body.get("available")

    @property
    def required(self) -> float | None:
        return self.body.get("required")


class NotFound(TrueStackError):
    """404 NOT_FOUND: unknown session, another client's session, or a missing document."""


class IdempotencyError(TrueStackError):
    """409 IDEMPOTENCY_REQUEST_IN_PROGRESS (retry shortly, same key) or
    422 IDEMPOTENCY_KEY_REUSED (same key, different body: use a new key)."""


class _RetryAfter(TrueStackError):
    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class RateLimited(_RetryAfter):
    """429 RATE_LIMITED: wait `retry_after` seconds."""


class ConcurrentSessionLimit(_RetryAfter):
    """429 CONCURRENT_SESSION_LIMIT: too many open sessions; wait `retry_after` seconds."""


class ProviderError(TrueStackError):
    """502 GATEWAY_ERROR: the identity provider refused or could not be reached; nothing was charged."""


class ServerError(TrueStackError):
    """Any other 5xx."""


class NetworkError(TrueStackError):
    """No answer: connection refused, reset or timed out (after the allowed retries)."""


class WebhookVerificationError(Exception):
    """A webhook whose signature is missing, wrong or stale. Answer it with 400 and do not act on it."""


_BY_CODE: dict[str, type[TrueStackError]] = {
    "UNAUTHORIZED": AuthenticationError,
    "BAD_REQUEST": ValidationError,
    "PAYLOAD_TOO_LARGE": ValidationError,
    "UNSUPPORTED_MEDIA_TYPE": ValidationError,
    "INSUFFICIENT_CREDITS": InsufficientCredits,
    "NOT_FOUND": NotFound,
    "IDEMPOTENCY_REQUEST_IN_PROGRESS": IdempotencyError,
    "IDEMPOTENCY_KEY_REUSED": IdempotencyError,
    "RATE_LIMITED": RateLimited,
    "CONCURRENT_SESSION_LIMIT": ConcurrentSessionLimit,
    "GATEWAY_ERROR": ProviderError,
    "SERVER_ERROR": ServerError,
}

_BY_STATUS: dict[int, type[TrueStackError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: InsufficientCredits,
    404: NotFound,
    413: ValidationError,
    415: ValidationError,
    422: IdempotencyError,
    429: RateLimited,
    502: ProviderError,
}


def error_for(status: int, body: Any, headers: Mapping[str, str]) -> TrueStackError:
    """The typed error for an answer; the code wins over the status, so a new
    status for a known code still maps to the right class."""
    envelope: dict[str, Any] = body if isinstance(body, dict) else {}
    code = envelope.get("error") if isinstance(envelope.get("error"), str) else None
    message = envelope.get("message") if isinstance(envelope.get("message"), str) else None
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else TrueStackError
    return cls(
        message or f"HTTP {status}",
        status=status,
        code=code or f"HTTP_{status}",
        body=envelope,
        headers=headers,
    )
