"""Shared pieces of the OpenAPI schema (documentation only; no view uses these
serializers to parse or render): the error envelope, the rate-limit headers, the
Bearer security scheme, the webhook payload component, and the hooks that keep
the schema to the client API and add the webhook component."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_mocked_view
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
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
    error = serializers.CharField(help_text="Stable machine-readable code, e.g. `BAD_REQUEST`, `RATE_LIMITED`.")
    message = serializers.CharField(help_text="Human-readable explanation; may change wording over time.")

    class Meta:
        ref_name = "Error"


class InsufficientCreditsErrorSerializer(ErrorSerializer):
    error = serializers.ChoiceField(choices=["INSUFFICIENT_CREDITS"])
    balance = serializers.FloatField(help_text="The client's current credit balance.")
    available = serializers.IntegerField(
        required=False, help_text="Credits available for new sessions: balance less what open sessions hold."
    )
    required = serializers.IntegerField(required=False, help_text="Credits one more session needs available.")

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
    422: "Idempotency-Key reused with a different body (`IDEMPOTENCY_KEY_REUSED`).",
    429: "Too many requests (`RATE_LIMITED`) or too many open sessions (`CONCURRENT_SESSION_LIMIT`); "
    "wait `Retry-After` seconds.",
    502: "The KYC provider refused or could not be reached (`GATEWAY_ERROR`); nothing was charged.",
}


def error_responses(*statuses: int, examples: dict[int, list[OpenApiExample]] | None = None) -> dict:
    """OpenAPI responses in the error envelope for the given statuses."""
    examples = examples or {}
    defaults = {401: UNAUTHORIZED_EXAMPLES, 413: [TOO_LARGE_EXAMPLE], 429: [RATE_LIMITED_EXAMPLE]}
    responses = {}
    for status in statuses:
        serializer = InsufficientCreditsErrorSerializer if status == 402 else ErrorSerializer
        responses[status] = OpenApiResponse(
            serializer, description=_DESCRIPTIONS[status], examples=examples.get(status, defaults.get(status, []))
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


# --- the webhook payload ---------------------------------------------------------------


class WebhookOcrDataSerializer(serializers.Serializer):
    name = serializers.CharField(allow_null=True)
    ic_number = serializers.CharField(allow_null=True, help_text="Digits only, no dashes.")
    address = serializers.CharField(allow_null=True)
    gender = serializers.CharField(allow_null=True)
    nationality = serializers.CharField(allow_null=True)
    date_of_birth = serializers.DateField(
        allow_null=True, help_text="Derived from a MyKad number; `null` when it is not a real date."
    )

    class Meta:
        ref_name = "WebhookOcrData"


class SessionBillingSerializer(serializers.Serializer):
    credits = serializers.IntegerField(help_text="Credits charged for the session (10 credits = RM 1).")
    tier = serializers.CharField(help_text="The pricing tier that priced it.")
    billed_at = serializers.DateTimeField(help_text="When it was charged (UTC).")

    class Meta:
        ref_name = "SessionBilling"


BILLING_HELP = "What the session cost; `null` for test-mode (`ts_test_`) sessions and sessions not (yet) billed."
BILLING_EXAMPLE = {"credits": 30, "tier": "Volume", "billed_at": "2026-01-28T15:30:00.000Z"}


class WebhookEventDataSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    ref_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["completed", "expired"])
    result = serializers.ChoiceField(
        choices=["approved", "rejected"], allow_null=True, help_text="`null` for `kyc.session.expired`."
    )
    document_name = serializers.CharField()
    document_number = serializers.CharField(help_text="As you sent it.")
    ocr_data = WebhookOcrDataSerializer(allow_null=True, help_text="`null` for `kyc.session.expired`.")
    face_match_score = serializers.FloatField(allow_null=True, min_value=0, max_value=1, help_text="0 to 1.")
    liveness_score = serializers.FloatField(allow_null=True, min_value=0, max_value=1, help_text="0 to 1.")
    metadata = serializers.DictField(help_text="The metadata you sent when creating the session.")
    billing = SessionBillingSerializer(
        required=False,
        allow_null=True,
        help_text=BILLING_HELP + " `null` when expired. Absent for a live session completed without a recorded "
        'charge (sessions finished before this field existed): read it as `data.get("billing")`.',
    )

    class Meta:
        ref_name = "WebhookEventData"


class WebhookEventSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Event id; the same on every retry of this event (deduplicate on it).")
    event = serializers.ChoiceField(choices=["kyc.session.completed", "kyc.session.expired"])
    timestamp = serializers.DateTimeField(help_text="When the event happened (UTC).")
    data = WebhookEventDataSerializer()

    class Meta:
        ref_name = "WebhookEvent"


WEBHOOK_EVENT_EXAMPLE = {
    "id": "7d1f0c7e-3b0a-4a53-9f1e-2f4d1f0a9b11",
    "event": "kyc.session.completed",
    "timestamp": "2026-01-28T15:30:00.000Z",
    "data": {
        "session_id": "550e8400-e29b-41d4-a716-446655440000",
        "ref_id": "DEMO_CLI_mkxl2qbq_52c0732a",
        "status": "completed",
        "result": "approved",
        "document_name": "Ahmad bin Abdullah",
        "document_number": "901234-56-7890",
        "ocr_data": {
            "name": "AHMAD BIN ABDULLAH",
            "ic_number": "901234567890",
            "address": "123 JALAN EXAMPLE, 50000 KUALA LUMPUR",
            "gender": "LELAKI",
            "nationality": "WARGANEGARA",
            "date_of_birth": None,
        },
        "face_match_score": 0.95,
        "liveness_score": 1.0,
        "metadata": {"user_id": "usr_12345", "application_id": "app_67890"},
        "billing": BILLING_EXAMPLE,
    },
}

WEBHOOK_DESCRIPTION = (
    "TrueStack POSTs a `WebhookEvent` (see components) to the session's `webhook_url` when a session "
    "finishes (`kyc.session.completed`) or expires (`kyc.session.expired`). Headers: `X-Webhook-Signature` "
    "(lowercase hex HMAC-SHA256 of the raw body keyed with the API key that created the session), "
    "`X-TrueStack-Event`, `X-TrueStack-Delivery`, and Standard Webhooks `webhook-id`, `webhook-timestamp`, "
    "`webhook-signature` (signed with your `whsec_` secret). Answer 2xx; anything else is retried with backoff."
)


# --- hooks -----------------------------------------------------------------------------

CLIENT_API_PREFIX = "/api/v1/"


def client_api_only(endpoints, **kwargs):
    """Preprocessing hook: the schema documents the client API, nothing else."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(CLIENT_API_PREFIX)]


def add_webhook_component(result, generator, request, public, **kwargs):
    """Postprocessing hook: put the webhook payload under components/schemas
    (OpenAPI 3.0 has no `webhooks` section)."""
    view = build_mocked_view(
        method="POST",
        path="/",
        extend_schema_decorator=extend_schema(request=WebhookEventSerializer),
        registry=generator.registry,
    )
    view.schema.resolve_serializer(WebhookEventSerializer, "response")
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in generator.registry.build({}).get("schemas", {}).items():
        schemas.setdefault(name, schema)
    event = schemas["WebhookEvent"]
    event["description"] = WEBHOOK_DESCRIPTION
    event["example"] = WEBHOOK_EVENT_EXAMPLE
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result
