"""OpenAPI documentation of what a client sees of a session: serializers that
describe the request and response shapes and the webhook body (never used to
parse or render: kyc/validation.py and kyc/presenters.py do that), examples from
the public contract, one `extend_schema` decorator per operation, and the hooks
that add the webhook component and the document links."""

from drf_spectacular.plumbing import build_mocked_view
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from truestack.schema import error_example, error_responses, rate_limit_headers

from .listing import LISTED_STATUSES
from .models import KycSession
from .validation import MAX_METADATA_BYTES, MAX_NAME_LENGTH, MAX_URL_LENGTH

TAG = "KYC sessions"
SESSION_ID = "550e8400-e29b-41d4-a716-446655440000"
_DOC_BASE = f"https://api.truestack.my/api/v1/kyc/sessions/{SESSION_ID}/documents/"


class SessionBillingSerializer(serializers.Serializer):
    credits = serializers.IntegerField(help_text="Credits charged for the session (10 credits = RM 1).")
    tier = serializers.CharField(help_text="The pricing tier that priced it.")
    billed_at = serializers.DateTimeField(help_text="When it was charged (UTC).")

    class Meta:
        ref_name = "SessionBilling"


BILLING_HELP = "What the session cost; `null` for test-mode (`ts_test_`) sessions and sessions not (yet) billed."
BILLING_EXAMPLE = {"credits": 30, "tier": "Volume", "billed_at": "2026-01-28T15:30:00.000Z"}

# --- requests --------------------------------------------------------------------------


class SessionCreateRequestSerializer(serializers.Serializer):
    document_name = serializers.CharField(
        max_length=MAX_NAME_LENGTH, help_text="Full name as it appears on the identity document."
    )
    document_number = serializers.CharField(
        max_length=32,
        help_text="MyKad: 12 digits, dashes and spaces allowed (`901234-56-7890`). "
        "Passport: 5 to 20 letters and digits.",
    )
    webhook_url = serializers.URLField(
        max_length=MAX_URL_LENGTH, help_text="HTTP/HTTPS URL that receives the result webhook."
    )
    document_type = serializers.ChoiceField(
        choices=[("1", "MyKad"), ("2", "Passport")], default="1", help_text='`"1"` MyKad (default), `"2"` Passport.'
    )
    platform = serializers.ChoiceField(choices=["Web", "iOS", "Android"], default="Web")
    redirect_url = serializers.URLField(
        required=False,
        allow_blank=True,
        max_length=MAX_URL_LENGTH,
        help_text="Where the user lands after the provider; default TrueStack's status page `/r/{id}`.",
    )
    success_url = serializers.URLField(
        required=False, allow_blank=True, max_length=MAX_URL_LENGTH, help_text="Legacy: stored for reference only."
    )
    fail_url = serializers.URLField(
        required=False, allow_blank=True, max_length=MAX_URL_LENGTH, help_text="Legacy: stored for reference only."
    )
    metadata = serializers.DictField(
        required=False,
        help_text=f"Your own key-value pairs (a JSON object, at most {MAX_METADATA_BYTES} bytes serialized); "
        "returned in GET, the listing and webhooks.",
    )

    class Meta:
        ref_name = "SessionCreate"


# --- responses -------------------------------------------------------------------------

_VISIBLE_STATUSES = list(LISTED_STATUSES)
_RESULTS = list(KycSession.Result.values)


class SessionCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    onboarding_url = serializers.URLField(help_text="Send the end user here.")
    expires_at = serializers.DateTimeField(help_text="24 hours after creation.")
    status = serializers.ChoiceField(choices=["pending"])

    class Meta:
        ref_name = "SessionCreated"


class SessionSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=_VISIBLE_STATUSES)
    result = serializers.ChoiceField(choices=_RESULTS, allow_null=True)
    document_name = serializers.CharField()
    document_number = serializers.CharField()
    document_type = serializers.ChoiceField(choices=["1", "2"])
    metadata = serializers.DictField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    redacted = serializers.BooleanField(
        required=False,
        help_text='Present once a redaction was asked for; true when the personal data has been removed (fields read "[redacted]").',
    )
    redaction = serializers.ChoiceField(
        choices=["pending", "redacted"],
        required=False,
        help_text="Present once a redaction was asked for: `pending` (personal data already hidden) or `redacted`.",
    )

    class Meta:
        ref_name = "SessionSummary"


class OcrResultSerializer(serializers.Serializer):
    name = serializers.CharField(allow_null=True)
    id_number = serializers.CharField(allow_null=True, help_text="Digits only.")
    address = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "OcrResult"


class DocumentLinksSerializer(serializers.Serializer):
    front_document = serializers.URLField(allow_null=True)
    back_document = serializers.URLField(allow_null=True)
    face_image = serializers.URLField(allow_null=True)
    best_frame = serializers.URLField(allow_null=True)

    class Meta:
        ref_name = "DocumentLinks"


class VerificationSerializer(serializers.Serializer):
    document_valid = serializers.BooleanField(allow_null=True)
    name_match = serializers.BooleanField(allow_null=True)
    id_match = serializers.BooleanField(allow_null=True)
    front_back_match = serializers.BooleanField(allow_null=True)
    landmark_valid = serializers.BooleanField(allow_null=True)
    face_match = serializers.BooleanField(allow_null=True)
    face_match_score = serializers.FloatField(allow_null=True, min_value=0, max_value=100, help_text="0 to 100.")
    liveness_passed = serializers.BooleanField(allow_null=True)

    class Meta:
        ref_name = "Verification"


class SessionDetailSerializer(SessionSummarySerializer):
    ocr_result = OcrResultSerializer(required=False, help_text="Only when `status` is `completed`.")
    documents = DocumentLinksSerializer(
        required=False,
        help_text="Only when `status` is `completed`: authenticated URLs of the document endpoint "
        "(`null` for an image the provider did not return).",
    )
    reject_message = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="Only when `status` is `completed`: the provider's reason for a rejection, else `null` "
        "(as in refresh).",
    )
    verification = VerificationSerializer(
        required=False, help_text="Only when `status` is `completed`: the provider's checks (as in refresh)."
    )
    billing = SessionBillingSerializer(allow_null=True, help_text=BILLING_HELP)

    class Meta:
        ref_name = "SessionDetail"


class SessionListSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="URL of the next (older) page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="URL of the previous (newer) page, or null.")
    results = SessionSummarySerializer(many=True)

    class Meta:
        ref_name = "SessionList"


class ExtractedDocumentSerializer(serializers.Serializer):
    full_name = serializers.CharField(allow_null=True)
    id_number = serializers.CharField(allow_null=True)
    id_number_back = serializers.CharField(allow_null=True)
    address = serializers.CharField(allow_null=True)
    gender = serializers.CharField(allow_null=True)

    class Meta:
        ref_name = "ExtractedDocument"


class SessionRefreshSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    ref_id = serializers.CharField()
    status = serializers.ChoiceField(choices=_VISIBLE_STATUSES)
    result = serializers.ChoiceField(choices=_RESULTS, allow_null=True)
    reject_message = serializers.CharField(allow_null=True)
    refreshed = serializers.BooleanField(help_text="true when the provider was asked and answered.")
    billing = SessionBillingSerializer(
        required=False, allow_null=True, help_text=BILLING_HELP + " Absent when `error` is present."
    )
    redacted = serializers.BooleanField(required=False, help_text="As in the session (GET).")
    redaction = serializers.ChoiceField(choices=["pending", "redacted"], required=False, help_text="As in the session.")
    message = serializers.CharField(required=False, help_text='"Session already finalized" for a final session.')
    error = serializers.CharField(
        required=False, help_text='"Failed to fetch status from provider" when the provider could not be reached.'
    )
    document = ExtractedDocumentSerializer(required=False)
    verification = VerificationSerializer(required=False)
    images = DocumentLinksSerializer(required=False, help_text="Expiring image URLs (1 hour); null when absent.")

    class Meta:
        ref_name = "SessionRefresh"

    def get_fields(self):
        fields = super().get_fields()
        fields["_raw"] = serializers.DictField(
            required=False, help_text="Raw provider status (debugging aid; shape not guaranteed)."
        )
        return fields


# --- examples (from the public contract) -----------------------------------------------

CREATE_REQUEST_EXAMPLE = OpenApiExample(
    "MyKad session",
    request_only=True,
    value={
        "document_name": "Ahmad bin Abdullah",
        "document_number": "901234-56-7890",
        "webhook_url": "https://yourapp.com/webhooks/kyc",
        "document_type": "1",
        "platform": "Web",
        "metadata": {"user_id": "usr_12345", "application_id": "app_67890"},
    },
)
CREATED_EXAMPLE = OpenApiExample(
    "Created",
    response_only=True,
    status_codes=["201"],
    value={
        "id": SESSION_ID,
        "onboarding_url": "https://ekyc.innovatif.com/onboarding/abc123",
        "expires_at": "2026-01-29T12:00:00.000Z",
        "status": "pending",
    },
)
_SUMMARY = {
    "id": SESSION_ID,
    "status": "completed",
    "result": "approved",
    "document_name": "Ahmad bin Abdullah",
    "document_number": "901234-56-7890",
    "document_type": "1",
    "metadata": {"user_id": "usr_12345"},
    "created_at": "2026-01-28T10:00:00.000Z",
    "updated_at": "2026-01-28T10:05:00.000Z",
    "expires_at": "2026-01-29T10:00:00.000Z",
}
_VERIFICATION = {
    "document_valid": True,
    "name_match": True,
    "id_match": True,
    "front_back_match": True,
    "landmark_valid": True,
    "face_match": True,
    "face_match_score": 95,
    "liveness_passed": True,
}
DETAIL_EXAMPLE = OpenApiExample(
    "Completed session",
    response_only=True,
    status_codes=["200"],
    value={
        **_SUMMARY,
        "ocr_result": {
            "name": "AHMAD BIN ABDULLAH",
            "id_number": "901234567890",
            "address": "123 JALAN EXAMPLE, 50000 KUALA LUMPUR",
        },
        "documents": {kind: _DOC_BASE + kind for kind in KycSession.DOCUMENT_KINDS},
        "reject_message": None,
        "verification": _VERIFICATION,
        "billing": BILLING_EXAMPLE,
    },
)
PENDING_DETAIL_EXAMPLE = OpenApiExample(
    "Pending session",
    response_only=True,
    status_codes=["200"],
    value={**_SUMMARY, "status": "pending", "result": None, "updated_at": "2026-01-28T10:00:00.000Z", "billing": None},
)
_REDACTED = "[redacted]"
REDACT_PENDING_EXAMPLE = OpenApiExample(
    "Redaction accepted",
    response_only=True,
    status_codes=["202"],
    value={
        **_SUMMARY,
        "document_name": _REDACTED,
        "document_number": _REDACTED,
        "metadata": {"user_id": _REDACTED},
        "redacted": False,
        "redaction": "pending",
        "ocr_result": {"name": _REDACTED, "id_number": None, "address": _REDACTED},
        "documents": dict.fromkeys(KycSession.DOCUMENT_KINDS),
    },
)
REDACTED_EXAMPLE = OpenApiExample(
    "Already redacted",
    response_only=True,
    status_codes=["202"],
    value={
        **_SUMMARY,
        "document_name": _REDACTED,
        "document_number": _REDACTED,
        "metadata": {"user_id": _REDACTED},
        "redacted": True,
        "redaction": "redacted",
        "ocr_result": {"name": _REDACTED, "id_number": None, "address": _REDACTED},
        "documents": dict.fromkeys(KycSession.DOCUMENT_KINDS),
    },
)
LIST_EXAMPLE = OpenApiExample(
    "A page",
    response_only=True,
    status_codes=["200"],
    value={
        "next": "https://api.truestack.my/api/v1/kyc/sessions?cursor=cD0yMDI2LTAxLTI4&limit=50",
        "previous": None,
        "results": [_SUMMARY],
    },
)
_IMAGE = "https://bucket.s3.ap-southeast-5.amazonaws.com/kyc/.../{}.jpg?X-Amz-Expires=3600&X-Amz-Signature=..."
_DOCUMENT = {
    "full_name": "AHMAD BIN ABDULLAH",
    "id_number": "901234-56-7890",
    "id_number_back": "901234-56-7890-04-01",
    "address": "123 JALAN EXAMPLE, 50000 KUALA LUMPUR",
    "gender": "LELAKI",
}
_REFRESH_BASE = {
    "id": SESSION_ID,
    "ref_id": "DEMO_CLI_mkxl2qbq_52c0732a",
    "status": "completed",
    "result": "approved",
    "reject_message": None,
    "billing": BILLING_EXAMPLE,
}
REFRESH_EXAMPLES = [
    OpenApiExample(
        "Refreshed from the provider",
        response_only=True,
        status_codes=["200"],
        value={
            **_REFRESH_BASE,
            "refreshed": True,
            "document": _DOCUMENT,
            "verification": _VERIFICATION,
            "images": {kind: _IMAGE.format(kind) for kind in KycSession.DOCUMENT_KINDS},
            "_raw": {"innovatif_status": "2", "step1": {}, "step2": {}},
        },
    ),
    OpenApiExample(
        "Already finalized",
        response_only=True,
        status_codes=["200"],
        value={
            **_REFRESH_BASE,
            "refreshed": False,
            "message": "Session already finalized",
            "document": _DOCUMENT,
            "verification": _VERIFICATION,
            "images": {kind: _IMAGE.format(kind) for kind in KycSession.DOCUMENT_KINDS},
        },
    ),
    OpenApiExample(
        "Provider unreachable",
        response_only=True,
        status_codes=["200"],
        value={
            **_REFRESH_BASE,
            "status": "pending",
            "result": None,
            "refreshed": False,
            "error": "Failed to fetch status from provider",
        },
    ),
]
CREATE_ERROR_EXAMPLES = {
    400: [
        error_example("Missing fields", "BAD_REQUEST", "document_name and document_number are required", 400),
        error_example("Missing webhook_url", "BAD_REQUEST", "webhook_url is required", 400),
        error_example("Invalid webhook_url", "BAD_REQUEST", "webhook_url must be a valid HTTP/HTTPS URL", 400),
        error_example("Invalid JSON", "BAD_REQUEST", "Request body must be valid JSON", 400),
    ],
    402: [
        error_example(
            "No credits",
            "INSUFFICIENT_CREDITS",
            "Client credit balance exhausted",
            402,
            balance=60,
            available=10,
            required=50,
        )
    ],
    409: [
        error_example(
            "In progress",
            "IDEMPOTENCY_REQUEST_IN_PROGRESS",
            "A request with this Idempotency-Key is still being processed",
            409,
        )
    ],
    415: [error_example("Not JSON", "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json", 415)],
    422: [
        error_example(
            "Key reused",
            "IDEMPOTENCY_KEY_REUSED",
            "Idempotency-Key was already used with a different request body",
            422,
        )
    ],
    429: [
        error_example(
            "Rate limited", "RATE_LIMITED", "Rate limit exceeded: 60 requests per minute; retry in 42 seconds", 429
        ),
        error_example(
            "Too many open sessions",
            "CONCURRENT_SESSION_LIMIT",
            "Too many open sessions: the limit is 100 pending or processing sessions per client",
            429,
        ),
    ],
    502: [error_example("Provider error", "GATEWAY_ERROR", "Failed to initiate KYC session", 502)],
}
NOT_FOUND = {404: [error_example("Not found", "NOT_FOUND", "Session not found", 404)]}
REDACT_ERRORS = {
    **NOT_FOUND,
    409: [
        error_example(
            "Session open",
            "SESSION_OPEN",
            "Open sessions cannot be redacted; wait until the session completes or expires",
            409,
        )
    ],
}
LIST_ERRORS = {
    400: [
        error_example("Bad filter", "BAD_REQUEST", "status must be one of pending, processing, completed, expired", 400)
    ]
}

# --- per-operation decorators ------------------------------------------------------------

_IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Optional, 1 to 255 characters, unique per create. Retrying with the same key and body within "
    "24 hours returns the first answer (201, or the same 400) with `Idempotent-Replayed: true` and creates "
    "nothing; the same key with a different body is 422.",
)
_REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    str,
    OpenApiParameter.HEADER,
    enum=["true"],
    response=["201", "400"],
    description="Present (`true`) when this answer is the stored answer to an earlier request with the same key.",
)
_SESSION_ID = OpenApiParameter(
    "session_id", str, OpenApiParameter.PATH, description="The session id returned at creation (UUID)."
)

session_list = extend_schema(
    operation_id="kyc_sessions_list",
    tags=[TAG],
    summary="List sessions",
    description="Your sessions, newest first, cursor-paginated (for reconciliation). Follow `next` until it is "
    "null. Sessions that failed at creation (answered 502) are not listed.",
    parameters=[
        OpenApiParameter("status", str, enum=_VISIBLE_STATUSES, description="Only sessions in this status."),
        OpenApiParameter("result", str, enum=_RESULTS, description="Only sessions with this result."),
        OpenApiParameter(
            "created_after",
            OpenApiTypes.DATETIME,
            description="ISO 8601 date or date-time (UTC if no offset); inclusive.",
        ),
        OpenApiParameter(
            "created_before",
            OpenApiTypes.DATETIME,
            description="ISO 8601 date or date-time (UTC if no offset); exclusive.",
        ),
        OpenApiParameter(
            "metadata_key",
            str,
            pattern=r"^[A-Za-z0-9_.\-]{1,64}$",
            description="With metadata_value: only sessions whose metadata[key] equals the value.",
        ),
        OpenApiParameter("metadata_value", str, description="See metadata_key."),
        OpenApiParameter("limit", int, description="Page size, 1 to 200 (default 50)."),
        OpenApiParameter("cursor", str, description="Opaque cursor from `next` / `previous`."),
        *rate_limit_headers(200, 400, 429),
    ],
    responses={
        200: OpenApiResponse(SessionListSerializer, description="A page of sessions."),
        **error_responses(400, 401, 429, examples=LIST_ERRORS),
    },
    examples=[LIST_EXAMPLE],
)

session_create = extend_schema(
    operation_id="kyc_sessions_create",
    tags=[TAG],
    summary="Create a session",
    description="Validates the request, reserves the price of one session (live keys), creates the transaction "
    "at the provider and returns the `onboarding_url` to send the end user to. Test keys (`ts_test_`) use the "
    "sandbox and are never billed.",
    request=SessionCreateRequestSerializer,
    parameters=[_IDEMPOTENCY_KEY, _REPLAYED, *rate_limit_headers(201, 400, 402, 409, 415, 422, 429, 502, 503)],
    responses={
        201: OpenApiResponse(SessionCreatedSerializer, description="Session created."),
        **error_responses(400, 401, 402, 409, 413, 415, 422, 429, 502, 503, examples=CREATE_ERROR_EXAMPLES),
    },
    examples=[CREATE_REQUEST_EXAMPLE, CREATED_EXAMPLE],
)

session_retrieve = extend_schema(
    operation_id="kyc_sessions_retrieve",
    tags=[TAG],
    summary="Get a session",
    description="What TrueStack knows about the session (no provider call; cheap to poll). `ocr_result`, "
    "`documents`, `reject_message` and `verification` are present only when the session is `completed` "
    "(the last two exactly as refresh gives them).",
    parameters=[_SESSION_ID, *rate_limit_headers(200, 404, 429)],
    responses={
        200: OpenApiResponse(SessionDetailSerializer, description="The session."),
        **error_responses(401, 404, 429, examples=NOT_FOUND),
    },
    examples=[DETAIL_EXAMPLE, PENDING_DETAIL_EXAMPLE],
)

session_refresh = extend_schema(
    operation_id="kyc_sessions_refresh",
    tags=[TAG],
    summary="Refresh a session from the provider",
    description="Asks the provider for the latest status and applies it. A final session is not re-fetched "
    '(`refreshed: false`, `message: "Session already finalized"`) but still returns `document`, '
    "`verification` and fresh image URLs, at no charge. When the provider cannot be reached the answer is "
    "200 with `refreshed: false` and `error`. Call it at most every 10-30 seconds per session. No body.",
    request=None,
    parameters=[_SESSION_ID, *rate_limit_headers(200, 404, 429, 503)],
    responses={
        200: OpenApiResponse(SessionRefreshSerializer, description="Refreshed, already final, or provider error."),
        **error_responses(401, 404, 413, 429, 503, examples=NOT_FOUND),
    },
    examples=REFRESH_EXAMPLES,
)

session_document = extend_schema(
    operation_id="kyc_sessions_document",
    tags=[TAG],
    summary="Download a session image",
    description="One image of a completed session, for the client that owns it. Answers the JPEG itself, or "
    "(when images are kept in object storage) a 302 redirect to a presigned URL valid for 1 hour.",
    parameters=[
        _SESSION_ID,
        OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(KycSession.DOCUMENT_KINDS)),
        OpenApiParameter(
            "Location",
            OpenApiTypes.URI,
            OpenApiParameter.HEADER,
            response=["302"],
            description="Presigned URL of the image (1 hour).",
        ),
        *rate_limit_headers(200, 302, 404, 410, 429),
    ],
    responses={
        (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The JPEG image."),
        302: OpenApiResponse(None, description="Redirect to a presigned URL of the image."),
        **error_responses(
            401,
            404,
            410,
            429,
            examples={
                404: [error_example("Not available", "NOT_FOUND", "Document not available", 404)],
                410: [error_example("Deleted", "GONE", "The session's documents have been deleted", 410)],
            },
        ),
    },
)

session_redact = extend_schema(
    operation_id="kyc_sessions_redact",
    tags=[TAG],
    summary="Redact a session",
    description="Deletes the session's images and replaces its personal data (document name and number, OCR "
    'fields, date of birth, address, metadata values, provider data) with `"[redacted]"` (dates become null; '
    "metadata keeps its keys). Ids, status, result, timestamps, verification flags and billing are kept. "
    'Answers 202 with the session (`"redaction": "pending"`; personal data already hidden); the work finishes '
    'shortly after, then GET shows `"redacted": true`, documents answer 410 and a `kyc.session.redacted` '
    "webhook is sent. Calling it again is 202 with the current state. Open (pending or processing) sessions "
    "answer 409: wait until the session completes or expires. No body.",
    request=None,
    parameters=[_SESSION_ID, *rate_limit_headers(202, 404, 409, 429)],
    responses={
        202: OpenApiResponse(SessionDetailSerializer, description="Redaction pending, or already done."),
        **error_responses(
            401,
            404,
            409,
            413,
            429,
            examples=REDACT_ERRORS,
            descriptions={409: "The session is still open (`SESSION_OPEN`); redact it once it completes or expires."},
        ),
    },
    examples=[REDACT_PENDING_EXAMPLE, REDACTED_EXAMPLE],
)


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


class WebhookEventDataSerializer(serializers.Serializer):
    session_id = serializers.UUIDField()
    ref_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["completed", "expired"])
    result = serializers.ChoiceField(
        choices=["approved", "rejected"], allow_null=True, help_text="`null` for `kyc.session.expired`."
    )
    redacted = serializers.BooleanField(
        required=False, help_text="Present (true) in `kyc.session.redacted` and in bodies stored after a redaction."
    )
    document_name = serializers.CharField()
    document_number = serializers.CharField(help_text="As you sent it.")
    ocr_data = WebhookOcrDataSerializer(allow_null=True, help_text="`null` for `kyc.session.expired`.")
    face_match_score = serializers.FloatField(allow_null=True, min_value=0, max_value=1, help_text="0 to 1.")
    liveness_score = serializers.FloatField(allow_null=True, min_value=0, max_value=1, help_text="0 to 1.")
    metadata = serializers.DictField(help_text="The metadata you sent when creating the session.")
    updated_at = serializers.DateTimeField(
        required=False,
        help_text="When the session last changed (UTC). With `sequence`, tells a stale event from a newer one. "
        "Absent from events recorded before it was added.",
    )
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
    # Named `data` by the contract; DRF's metaclass moves declared fields off the class,
    # so it does not shadow Serializer.data at run time (the stubs cannot know).
    data = WebhookEventDataSerializer()  # type: ignore[assignment]
    sequence = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Per-session event number, increasing (gaps possible): ignore an event whose sequence is not "
        "above the last one you applied for this session. Absent from events recorded before it was added.",
    )

    class Meta:
        ref_name = "WebhookEvent"


class WebhookRedactedEventSerializer(WebhookEventSerializer):
    event = serializers.ChoiceField(choices=["kyc.session.redacted"])

    class Meta:
        ref_name = "WebhookRedactedEvent"


WEBHOOK_REDACTED_EXAMPLE = {
    "id": "0b6f6a55-9b7e-4c39-a0d4-3f1ad3f0e2c4",
    "event": "kyc.session.redacted",
    "timestamp": "2026-02-28T09:00:00.000Z",
    "data": {
        "session_id": "550e8400-e29b-41d4-a716-446655440000",
        "ref_id": "DEMO_CLI_mkxl2qbq_52c0732a",
        "status": "completed",
        "result": "approved",
        "document_name": "[redacted]",
        "document_number": "[redacted]",
        "ocr_data": None,
        "face_match_score": None,
        "liveness_score": None,
        "metadata": {"user_id": "[redacted]", "application_id": "[redacted]"},
        "redacted": True,
    },
}
WEBHOOK_REDACTED_DESCRIPTION = (
    "Sent once when a session's personal data has been removed (your `POST .../redact`, an operator, or the "
    "retention policy), signed and retried like `WebhookEvent`. Personal fields read `[redacted]`; "
    "`data.redacted` is true. Earlier events of the session are stored redacted too."
)

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
        "updated_at": "2026-01-28T15:30:00.000Z",
        "billing": BILLING_EXAMPLE,
    },
    "sequence": 1,
}

WEBHOOK_DESCRIPTION = (
    "TrueStack POSTs a `WebhookEvent` (see components) to the session's `webhook_url` when a session "
    "finishes (`kyc.session.completed`) or expires (`kyc.session.expired`); see `WebhookRedactedEvent` for "
    "`kyc.session.redacted`. Headers: `X-Webhook-Signature` "
    "(lowercase hex HMAC-SHA256 of the raw body keyed with the API key that created the session), "
    "`X-TrueStack-Event`, `X-TrueStack-Delivery`, and Standard Webhooks `webhook-id`, `webhook-timestamp`, "
    "`webhook-signature` (signed with your `whsec_` secret). Answer 2xx; anything else is retried with backoff."
)


# --- hooks -----------------------------------------------------------------------------


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
    view.schema.resolve_serializer(WebhookRedactedEventSerializer, "response")
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in generator.registry.build({}).get("schemas", {}).items():
        schemas.setdefault(name, schema)
    event = schemas["WebhookEvent"]
    event["description"] = WEBHOOK_DESCRIPTION
    event["example"] = WEBHOOK_EVENT_EXAMPLE
    redacted = schemas["WebhookRedactedEvent"]
    redacted["description"] = WEBHOOK_REDACTED_DESCRIPTION
    redacted["example"] = WEBHOOK_REDACTED_EXAMPLE
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result


def add_session_links(result, **kwargs):
    """Postprocessing hook: OpenAPI links from a created session to the operations
    that take its id (shown in the docs; followed by the fuzzer's stateful phase)."""
    session_id = {"session_id": "$response.body#/id"}
    links = {
        "GetSession": {
            "operationId": "kyc_sessions_retrieve",
            "parameters": session_id,
            "description": "Read the session.",
        },
        "RefreshSession": {
            "operationId": "kyc_sessions_refresh",
            "parameters": session_id,
            "description": "Refresh the session from the provider.",
        },
        "RedactSession": {
            "operationId": "kyc_sessions_redact",
            "parameters": session_id,
            "description": "Delete the session's images and personal data once it has finished.",
        },
    }
    created = result["paths"]["/api/v1/kyc/sessions"]["post"]["responses"]["201"]
    created["links"] = links
    return result
