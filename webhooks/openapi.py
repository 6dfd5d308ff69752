"""OpenAPI documentation of the Events API (webhooks/apis.py, and the test send
in kyc/apis.py): serializers describing the shapes webhooks/presenters.py builds
(never used to parse or render), examples, one decorator per operation."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from truestack.schema import error_example, error_responses, rate_limit_headers

from .models import Event
from .selectors import SUMMARY_STATUSES

TAG = "Events"
EVENT_ID = "7d1f0c7e-3b0a-4a53-9f1e-2f4d1f0a9b11"
SESSION_ID = "550e8400-e29b-41d4-a716-446655440000"
DELIVERY_ID = "2c9a4e1b-8f4e-4a7b-9a51-0d3c6a1b7e22"
_KINDS = list(Event.Kind.values)

# --- responses -------------------------------------------------------------------------


class DeliverySummarySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=list(SUMMARY_STATUSES),
        help_text="Of the latest delivery: `pending` (not tried yet), `failing` (tried, failed, will be "
        "retried), `failed` (retries used up or the receiver answered 410), `delivered` (a 2xx answer).",
    )
    attempts = serializers.IntegerField(min_value=0, help_text="Attempts over every delivery of this event.")
    last_response_code = serializers.IntegerField(
        allow_null=True, help_text="HTTP status of the latest attempt; null when it got no answer."
    )
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="When the next attempt is due, if any.")
    delivered_at = serializers.DateTimeField(allow_null=True)
    deliveries = serializers.IntegerField(min_value=1, help_text="1 + the redeliveries asked for.")

    class Meta:
        ref_name = "DeliverySummary"


class EventSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="Event id: the body's `id` and the `webhook-id` header.")
    type = serializers.ChoiceField(choices=_KINDS)
    created_at = serializers.DateTimeField()
    session_id = serializers.UUIDField()
    # Named `data` by the API; DRF's metaclass moves declared fields off the class (see kyc/openapi.py).
    data = serializers.DictField(  # type: ignore[assignment]
        help_text="The webhook body exactly as it is sent (a `WebhookEvent`, see components): the same bytes "
        "on every attempt and redelivery, signed at send time."
    )
    delivery = DeliverySummarySerializer(allow_null=True, help_text="null when the event has no delivery.")

    class Meta:
        ref_name = "Event"


class AttemptSerializer(serializers.Serializer):
    delivery_id = serializers.UUIDField(help_text="The `X-TrueStack-Delivery` header of that request.")
    number = serializers.IntegerField(min_value=1, help_text="Attempt number within its delivery.")
    at = serializers.DateTimeField()
    response_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True, min_value=0)
    error = serializers.CharField(allow_null=True, help_text="What went wrong, without body (null on 2xx).")
    response_excerpt = serializers.CharField(allow_blank=True, help_text="The first 200 characters of the answer.")

    class Meta:
        ref_name = "Attempt"


class EventDetailSerializer(EventSerializer):
    attempts = AttemptSerializer(many=True, help_text="Every attempt of every delivery, oldest first.")

    class Meta:
        ref_name = "EventDetail"


class EventListSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="URL of the next (older) page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="URL of the previous (newer) page, or null.")
    results = EventSerializer(many=True)

    class Meta:
        ref_name = "EventList"


class RedeliveryAcceptedSerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    delivery_id = serializers.UUIDField()
    url = serializers.URLField()
    status = serializers.ChoiceField(choices=["pending"])
    next_attempt_at = serializers.DateTimeField()

    class Meta:
        ref_name = "RedeliveryAccepted"


class BulkRedeliverRequestSerializer(serializers.Serializer):
    created_after = serializers.DateTimeField(help_text="ISO 8601 (UTC if no offset); inclusive.")
    created_before = serializers.DateTimeField(help_text="ISO 8601 (UTC if no offset); exclusive; after created_after.")
    status = serializers.ChoiceField(
        choices=list(SUMMARY_STATUSES), default="failed", help_text="Only events whose delivery is in this status."
    )

    class Meta:
        ref_name = "BulkRedeliverRequest"


class BulkRedeliveryAcceptedSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=0, help_text="Events that will be delivered again (at most 10,000).")
    truncated = serializers.BooleanField(
        help_text="true when more events matched: call again with `created_after` set to the `created_at` of the "
        "newest event of this batch (GET /api/v1/events shows it)."
    )
    id = serializers.UUIDField(allow_null=True, help_text="Id of the replay job; null when nothing matched.")

    class Meta:
        ref_name = "BulkRedeliveryAccepted"


class EventTestRequestSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=2000, help_text="Your receiver (HTTP/HTTPS, the `webhook_url` rules).")

    class Meta:
        ref_name = "EventTestRequest"


class EventTestResultSerializer(serializers.Serializer):
    event_id = serializers.UUIDField(help_text="The sample's `id` and `webhook-id` (not a stored event).")
    url = serializers.URLField()
    delivered = serializers.BooleanField(help_text="true when your receiver answered 2xx.")
    response_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(min_value=0)
    error = serializers.CharField(allow_null=True, help_text="Timeout, connection or TLS error; null on any answer.")
    response_excerpt = serializers.CharField(allow_blank=True, help_text="The first 200 characters of the answer.")

    class Meta:
        ref_name = "EventTestResult"


# --- examples ----------------------------------------------------------------------------

_BODY = {
    "id": EVENT_ID,
    "event": "kyc.session.completed",
    "timestamp": "2026-01-28T15:30:00.000Z",
    "data": {
        "session_id": SESSION_ID,
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
        "metadata": {"user_id": "usr_12345"},
        "updated_at": "2026-01-28T15:30:00.000Z",
    },
    "sequence": 1,
}
_EVENT = {
    "id": EVENT_ID,
    "type": "kyc.session.completed",
    "created_at": "2026-01-28T15:30:00.000Z",
    "session_id": SESSION_ID,
    "data": _BODY,
    "delivery": {
        "status": "failed",
        "attempts": 10,
        "last_response_code": 503,
        "last_attempt_at": "2026-01-29T18:41:07.120Z",
        "next_attempt_at": None,
        "delivered_at": None,
        "deliveries": 1,
    },
}
LIST_EXAMPLE = OpenApiExample(
    "A page",
    response_only=True,
    status_codes=["200"],
    value={
        "next": "https://api.truestack.my/api/v1/events?cursor=cD0yMDI2LTAxLTI4&limit=50",
        "previous": None,
        "results": [_EVENT],
    },
)
DETAIL_EXAMPLE = OpenApiExample(
    "Failed, then redelivered",
    response_only=True,
    status_codes=["200"],
    value={
        **_EVENT,
        "delivery": {
            "status": "delivered",
            "attempts": 11,
            "last_response_code": 200,
            "last_attempt_at": "2026-01-30T09:00:01.031Z",
            "next_attempt_at": None,
            "delivered_at": "2026-01-30T09:00:01.031Z",
            "deliveries": 2,
        },
        "attempts": [
            {
                "delivery_id": DELIVERY_ID,
                "number": 1,
                "at": "2026-01-28T15:30:00.210Z",
                "response_code": 503,
                "duration_ms": 84,
                "error": "HTTP 503",
                "response_excerpt": "Service Unavailable",
            },
            {
                "delivery_id": "9b0e3f55-1f7a-4c1e-8d5b-7f3f0e2c4a10",
                "number": 1,
                "at": "2026-01-30T09:00:00.950Z",
                "response_code": 200,
                "duration_ms": 81,
                "error": None,
                "response_excerpt": "ok",
            },
        ],
    },
)
REDELIVERY_EXAMPLE = OpenApiExample(
    "Queued",
    response_only=True,
    status_codes=["202"],
    value={
        "event_id": EVENT_ID,
        "delivery_id": "9b0e3f55-1f7a-4c1e-8d5b-7f3f0e2c4a10",
        "url": "https://yourapp.com/webhooks/kyc",
        "status": "pending",
        "next_attempt_at": "2026-01-30T09:00:00.000Z",
    },
)
BULK_REQUEST_EXAMPLE = OpenApiExample(
    "Replay a day of failed events",
    request_only=True,
    value={"created_after": "2026-01-28T00:00:00Z", "created_before": "2026-01-29T00:00:00Z", "status": "failed"},
)
BULK_EXAMPLE = OpenApiExample(
    "Accepted",
    response_only=True,
    status_codes=["202"],
    value={"count": 132, "truncated": False, "id": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"},
)
TEST_REQUEST_EXAMPLE = OpenApiExample(
    "Your receiver", request_only=True, value={"url": "https://yourapp.com/webhooks/kyc"}
)
TEST_EXAMPLES = [
    OpenApiExample(
        "Receiver answered 200",
        response_only=True,
        status_codes=["200"],
        value={
            "event_id": EVENT_ID,
            "url": "https://yourapp.com/webhooks/kyc",
            "delivered": True,
            "response_code": 200,
            "duration_ms": 95,
            "error": None,
            "response_excerpt": "ok",
        },
    ),
    OpenApiExample(
        "Receiver unreachable",
        response_only=True,
        status_codes=["200"],
        value={
            "event_id": EVENT_ID,
            "url": "https://yourapp.com/webhooks/kyc",
            "delivered": False,
            "response_code": None,
            "duration_ms": 3004,
            "error": "connect timeout after 3s",
            "response_excerpt": "",
        },
    ),
]
NOT_FOUND = {404: [error_example("Not found", "NOT_FOUND", "Event not found", 404)]}
REDELIVER_RATE_LIMITED = error_example(
    "Too many redeliveries", "RATE_LIMITED", "Rate limit exceeded: 60 redeliveries per minute; retry in 42 seconds", 429
)
_LIMITED = [
    error_example(
        "Rate limited", "RATE_LIMITED", "Rate limit exceeded: 60 requests per minute; retry in 42 seconds", 429
    ),
    REDELIVER_RATE_LIMITED,
]

# --- per-operation decorators ------------------------------------------------------------

_EVENT_ID = OpenApiParameter("event_id", str, OpenApiParameter.PATH, description="The event id (UUID).")
_DATE_DOC = "ISO 8601 date or date-time (UTC if no offset)"

event_list = extend_schema(
    operation_id="events_list",
    tags=[TAG],
    summary="List events",
    description="Your webhook events, newest first, cursor-paginated: follow `next` until it is null. A live key "
    "sees live events, a test key test events. Each carries the exact body sent (`data`) and a delivery "
    "summary. Events are kept 30 days, then purged (404).",
    parameters=[
        OpenApiParameter("type", str, enum=_KINDS, description="Only events of this type."),
        OpenApiParameter("session_id", OpenApiTypes.UUID, description="Only this session's events."),
        OpenApiParameter("status", str, enum=list(SUMMARY_STATUSES), description="Only this delivery status."),
        OpenApiParameter("created_after", OpenApiTypes.DATETIME, description=f"{_DATE_DOC}; inclusive."),
        OpenApiParameter("created_before", OpenApiTypes.DATETIME, description=f"{_DATE_DOC}; exclusive."),
        OpenApiParameter("limit", int, description="Page size, 1 to 200 (default 50)."),
        OpenApiParameter("cursor", str, description="Opaque cursor from `next` / `previous`."),
        *rate_limit_headers(200, 400, 429),
    ],
    responses={
        200: OpenApiResponse(EventListSerializer, description="A page of events."),
        **error_responses(
            400,
            401,
            429,
            examples={400: [error_example("Bad filter", "BAD_REQUEST", "session_id must be a session id (UUID)", 400)]},
        ),
    },
    examples=[LIST_EXAMPLE],
)

event_retrieve = extend_schema(
    operation_id="events_retrieve",
    tags=[TAG],
    summary="Get an event",
    description="One event with every delivery attempt (time, response code, duration, error, the start of "
    "your receiver's answer). Another client's event, the other mode's, or a purged one is 404.",
    parameters=[_EVENT_ID, *rate_limit_headers(200, 404, 429)],
    responses={
        200: OpenApiResponse(EventDetailSerializer, description="The event."),
        **error_responses(401, 404, 429, examples=NOT_FOUND),
    },
    examples=[DETAIL_EXAMPLE],
)

event_redeliver = extend_schema(
    operation_id="events_redeliver",
    tags=[TAG],
    summary="Redeliver an event",
    description="Sends the event again now, as a new delivery to the session's `webhook_url`: the same body "
    "bytes and the same `webhook-id` (deduplicate on it), a fresh `webhook-timestamp` and signatures, and "
    "the usual retries if it fails. At most 60 redeliveries, bulk replays and test sends per minute "
    "(429 `RATE_LIMITED` with `Retry-After`). No body.",
    request=None,
    parameters=[_EVENT_ID, *rate_limit_headers(202, 404, 429)],
    responses={
        202: OpenApiResponse(RedeliveryAcceptedSerializer, description="The new delivery, queued."),
        **error_responses(401, 404, 413, 429, examples={**NOT_FOUND, 429: _LIMITED}),
    },
    examples=[REDELIVERY_EXAMPLE],
)

events_bulk_redeliver = extend_schema(
    operation_id="events_bulk_redeliver",
    tags=[TAG],
    summary="Redeliver a time range",
    description="For catching up after an outage: every event created in [`created_after`, `created_before`) "
    "whose delivery is in `status` (default `failed`) is delivered again, oldest first, in the background "
    "(same body, same `webhook-id`). At most 10,000 events per call: when `truncated` is true, call again "
    "for the rest of the range. Counts against the redelivery limit once.",
    request=BulkRedeliverRequestSerializer,
    parameters=[*rate_limit_headers(202, 400, 415, 429)],
    responses={
        202: OpenApiResponse(BulkRedeliveryAcceptedSerializer, description="Accepted; deliveries are queued."),
        **error_responses(
            400,
            401,
            413,
            415,
            429,
            examples={
                400: [
                    error_example("Missing range", "BAD_REQUEST", "created_after is required", 400),
                    error_example("Empty range", "BAD_REQUEST", "created_after must be before created_before", 400),
                ],
                429: _LIMITED,
            },
        ),
    },
    examples=[BULK_REQUEST_EXAMPLE, BULK_EXAMPLE],
)

event_test = extend_schema(
    operation_id="events_test",
    tags=[TAG],
    summary="Send a test event",
    description="Sends a sample `kyc.session.completed` to `url` now and reports your receiver's answer. It is "
    'signed like a real delivery (your key, your `whsec_` secret) and marked `"sample": true`, with session id '
    "`00000000-0000-0000-0000-000000000000`; nothing is stored or billed. Private addresses are refused "
    "(400). Counts against the redelivery limit.",
    request=EventTestRequestSerializer,
    parameters=[*rate_limit_headers(200, 400, 415, 429)],
    responses={
        200: OpenApiResponse(EventTestResultSerializer, description="What your receiver answered."),
        **error_responses(
            400,
            401,
            413,
            415,
            429,
            examples={
                400: [
                    error_example("Invalid url", "BAD_REQUEST", "url must be a valid HTTP/HTTPS URL", 400),
                    error_example(
                        "Private target",
                        "BAD_REQUEST",
                        "url cannot be called: target resolves to a non-public address",
                        400,
                    ),
                ],
                429: _LIMITED,
            },
        ),
    },
    examples=[TEST_REQUEST_EXAMPLE, *TEST_EXAMPLES],
)


# --- hooks -----------------------------------------------------------------------------


def add_event_links(result, **kwargs):
    """Postprocessing hook: OpenAPI links from the events listing to the operations
    that take an event id (shown in the docs; followed by the fuzzer's stateful phase)."""
    event_id = {"event_id": "$response.body#/results/0/id"}
    listed = result["paths"]["/api/v1/events"]["get"]["responses"]["200"]
    listed["links"] = {
        "GetEvent": {
            "operationId": "events_retrieve",
            "parameters": event_id,
            "description": "Read the first listed event with its attempts.",
        },
        "RedeliverEvent": {
            "operationId": "events_redeliver",
            "parameters": event_id,
            "description": "Redeliver the first listed event.",
        },
    }
    return result
