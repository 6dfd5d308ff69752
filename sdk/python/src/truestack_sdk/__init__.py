"""TrueStack KYC API client. See sdk/python/README.md."""

from ._version import API_VERSION, __version__
from .client import DEFAULT_BASE_URL, DOCUMENT_KINDS, TrueStack
from .errors import (
    AuthenticationError,
    ConcurrentSessionLimit,
    IdempotencyError,
    InsufficientCredits,
    NetworkError,
    NotFound,
    ProviderError,
    RateLimited,
    ServerError,
    TrueStackError,
    ValidationError,
    WebhookVerificationError,
)
from .webhooks import verify_webhook

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "DOCUMENT_KINDS",
    "AuthenticationError",
    "ConcurrentSessionLimit",
    "IdempotencyError",
    "InsufficientCredits",
    "NetworkError",
    "NotFound",
    "ProviderError",
    "RateLimited",
    "ServerError",
    "TrueStack",
    "TrueStackError",
    "ValidationError",
    "WebhookVerificationError",
    "__version__",
    "verify_webhook",
]
