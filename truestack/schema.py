"""Shared pieces of the OpenAPI schema (documentation only; no view uses these
serializers to parse or render): the error envelope, the rate-limit headers, the
Bearer security scheme, and the hook that keeps the schema to the client API.
What a session looks like (API answers and the webhook body) is described in
kyc/openapi.py, beside kyc/presenters.py which builds it."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

# --- security ------------------------------------------------------------------------


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "clients.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ts_live_… or ts_test_…",
            "description": "`Authorization: Bearer <api key>`. Live keys (`ts_live_`) call the real provider and "
            "are billed; test keys (`ts_test_`) use the sandbox and are never billed.",
        }


# --- the error envelope ----------------------------------------------------------------

ERROR_CODES = (
    "BAD_REQUEST",
    "UNAUTHORIZED",
    "INSUFFICIENT_CREDITS",
    "NOT_FOUND",
    "METHOD_NOT_ALLOWED",
    "NOT_ACCEPTABLE",
    "IDEMPOTENCY_REQUEST_IN_PROGRESS",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "IDEMPOTENCY_KEY_REUSED",
    "RATE_LIMITED",
    "CONCURRENT_SESSION_LIMIT",
    "SERVER_ERROR",
    "GATEWAY_ERROR",
)


class ErrorSerializer(serializers.Serializer):
    error: serializers.Field = serializers.CharField(
        help_text="Stable machine-readable code, e.g. `BAD_REQUEST`, `RATE_LIMITED`."
    )
    message = serializers.CharField(help_text="Human-readable explanation; may change wording over time.")

    class Meta:
        ref_name = "Error"


class InsufficientCreditsErrorSerializer(ErrorSerializer):
    error = serializers.ChoiceField(choices=["INSUFFICIENT_CREDITS"])
    balance = serializers.FloatField(help_text="The client's current credit balance.")
    available = serializers.IntegerField(
        required=False, help_text="Credits available for new sessions: balance less what open sessions hold."
    )
    # The serializer metaclass moves declared fields off the class, so this never
    # replaces Field.required; the stubs cannot express that.
    required = serializers.IntegerField(  # type: ignore[assignment]
        required=False, help_text="Credits one more session needs available."
    )

    class Meta:
        ref_name = "InsufficientCreditsError"


def error_example(name: str, code: str, message: str, status: int, **extra) -> OpenApiExample:
    return OpenApiExample(
        name, value={"error": code, "message": message, **extra}, response_only=True, status_codes=[str(status)]
    )


UNAUTHORIZED_EXAMPLES = [
    error_example("Invalid API key", "UNAUTHORIZED", "Invalid API key", 401),
    error_example("Missing Authorization", "UNAUTHORIZED", "Missing or invalid Authorization header", 401),
]
RATE_LIMITED_EXAMPLE = error_example(
    "Rate limited", "RATE_LIMITED", "Rate limit exceeded: 60 requests per minute; retry in 42 seconds", 429
)
TOO_LARGE_EXAMPLE = error_example("Body too large", "PAYLOAD_TOO_LARGE", "Request body exceeds 65536 bytes", 413)

_DESCRIPTIONS = {
    400: "Invalid request (`BAD_REQUEST`).",
    401: "Missing, malformed, unknown or revoked API key (`UNAUTHORIZED`).",
    402: "Not enough credits and overdraft disabled (`INSUFFICIENT_CREDITS`, with `balance`, `available` and "
    "`required`).",
    404: "Unknown id, another client's session, or a malformed id (`NOT_FOUND`).",
    409: "A request with the same Idempotency-Key is still being processed (`IDEMPOTENCY_REQUEST_IN_PROGRESS`).",
    413: "Request body larger than 64 KB (`PAYLOAD_TOO_LARGE`).",
    415: "Body not sent as `application/json` (`UNSUPPORTED_MEDIA_TYPE`).",
    410: "The session's documents were deleted (redaction or retention) (`GONE`).",
    422: "Idempotency-Key reused with a different body (`IDEMPOTENCY_KEY_REUSED`).",
    429: "Too many requests (`RATE_LIMITED`) or too many open sessions (`CONCURRENT_SESSION_LIMIT`); "
    "wait `Retry-After` seconds.",
    502: "The KYC provider refused or could not be reached (`GATEWAY_ERROR`); nothing was charged.",
    503: "Every provider call of this server is busy (`PROVIDER_BUSY`); nothing was written or charged: "
    "retry after `Retry-After` seconds.",
}


def error_responses(
    *statuses: int,
    examples: dict[int, list[OpenApiExample]] | None = None,
    descriptions: dict[int, str] | None = None,
) -> dict:
    """OpenAPI responses in the error envelope for the given statuses."""
    examples = examples or {}
    descriptions = {**_DESCRIPTIONS, **(descriptions or {})}
    defaults = {401: UNAUTHORIZED_EXAMPLES, 413: [TOO_LARGE_EXAMPLE], 429: [RATE_LIMITED_EXAMPLE]}
    responses = {}
    for status in statuses:
        serializer = InsufficientCreditsErrorSerializer if status == 402 else ErrorSerializer
        responses[status] = OpenApiResponse(
            serializer, description=descriptions[status], examples=examples.get(status, defaults.get(status, []))
        )
    return responses


def rate_limit_headers(*statuses: int) -> list[OpenApiParameter]:
    """X-RateLimit-* on every answer to an authenticated request; Retry-After on 429."""
    codes = [str(status) for status in statuses]

    def header(name: str, description: str, on) -> OpenApiParameter:
        return OpenApiParameter(
            name, OpenApiTypes.INT, OpenApiParameter.HEADER, response=on, required=True, description=description
        )

    return [
        header("X-RateLimit-Limit", "Requests allowed per minute for this client.", codes),
        header("X-RateLimit-Remaining", "Requests left in the current one-minute window.", codes),
        header("X-RateLimit-Reset", "Unix time (seconds) when the current window ends.", codes),
        header("Retry-After", "Seconds to wait before retrying.", ["429"]),
    ]


# --- hooks -----------------------------------------------------------------------------

CLIENT_API_PREFIX = "/api/v1/"


def client_api_only(endpoints, **kwargs):
    """Preprocessing hook: the schema documents the client API, nothing else."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(CLIENT_API_PREFIX)]
