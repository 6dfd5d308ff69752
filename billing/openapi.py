"""OpenAPI documentation of the account API (shapes and examples; the views
render with billing/presenters.py)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from truestack.schema import error_example, error_responses, rate_limit_headers

TAG = "Account"
_MONEY_HELP = "Ringgit with two decimals, as a string."


class NextSessionSerializer(serializers.Serializer):
    credits = serializers.IntegerField(help_text="What the next completed session would cost.")
    tier = serializers.CharField()
    amount_rm = serializers.CharField(help_text=_MONEY_HELP)

    class Meta:
        ref_name = "NextSessionPrice"


class MonthToDateSerializer(serializers.Serializer):
    sessions = serializers.IntegerField(help_text="Sessions billed this month (Asia/Kuala_Lumpur).")
    credits = serializers.IntegerField(help_text="Credits they cost.")

    class Meta:
        ref_name = "MonthToDate"


class AccountSerializer(serializers.Serializer):
    balance = serializers.IntegerField(help_text="Credits (may be negative for a post-paid account).")
    held = serializers.IntegerField(help_text="Credits reserved by open sessions.")
    available = serializers.IntegerField(help_text="balance - held: what new sessions can reserve.")
    overdraft = serializers.BooleanField(help_text="Post-paid: sessions are created whatever the balance.")
    credits_per_ringgit = serializers.IntegerField(help_text="10 credits = RM 1.")
    balance_rm = serializers.CharField(help_text=_MONEY_HELP)
    month = serializers.CharField(help_text="The current billing month, YYYY-MM.")
    month_to_date = MonthToDateSerializer()
    next_session = NextSessionSerializer()

    class Meta:
        ref_name = "Account"


class StatementEntrySerializer(serializers.Serializer):
    entry_id = serializers.IntegerField()
    date = serializers.DateField(help_text="Kuala Lumpur date.")
    kind = serializers.ChoiceField(choices=["topup", "included", "refund", "adjustment"])
    credits = serializers.IntegerField()
    description = serializers.CharField()

    class Meta:
        ref_name = "StatementEntry"


class TierUsageSerializer(serializers.Serializer):
    tier = serializers.CharField()
    sessions = serializers.IntegerField()
    credits = serializers.IntegerField()
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()

    class Meta:
        ref_name = "TierUsage"


class CreditsAddedSerializer(serializers.Serializer):
    topup = serializers.IntegerField()
    included = serializers.IntegerField()
    refund = serializers.IntegerField()
    adjustment = serializers.IntegerField(help_text="Net; may be negative.")

    class Meta:
        ref_name = "StatementCreditsAdded"


class UsageSerializer(serializers.Serializer):
    sessions = serializers.IntegerField()
    credits = serializers.IntegerField()
    by_tier = TierUsageSerializer(many=True)

    class Meta:
        ref_name = "StatementUsage"


class StatementSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM")
    period_start = serializers.DateTimeField()
    period_end = serializers.DateTimeField(help_text="Exclusive.")
    opening_balance = serializers.IntegerField()
    credits_added = CreditsAddedSerializer()
    entries = StatementEntrySerializer(many=True, help_text="Every top-up, included credit, refund and adjustment.")
    usage = UsageSerializer()
    closing_balance = serializers.IntegerField(help_text="opening + credits added - usage credits.")
    closing_balance_rm = serializers.CharField(help_text=_MONEY_HELP)
    issued_at = serializers.DateTimeField()
    pdf_url = serializers.URLField()

    class Meta:
        ref_name = "Statement"


class StatementListSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StatementSerializer(many=True)

    class Meta:
        ref_name = "StatementList"


class InvoiceLineSerializer(serializers.Serializer):
    description = serializers.CharField()
    credits = serializers.IntegerField()
    amount = serializers.CharField(help_text=_MONEY_HELP)

    class Meta:
        ref_name = "InvoiceLine"


class PaymentSerializer(serializers.Serializer):
    paid_on = serializers.DateField()
    amount = serializers.CharField(help_text=_MONEY_HELP)
    method = serializers.ChoiceField(choices=["bank_transfer", "fpx", "card", "cheque", "cash", "other"])
    reference = serializers.CharField()

    class Meta:
        ref_name = "Payment"


class InvoiceSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="TS-YYYY-NNNNNN (invoices) or CN-YYYY-NNNNNN (credit notes).")
    kind = serializers.ChoiceField(choices=["topup", "monthly", "credit_note"])
    status = serializers.ChoiceField(choices=["issued", "partly_paid", "paid", "overdue", "void"])
    issue_date = serializers.DateField()
    due_date = serializers.DateField()
    period_month = serializers.CharField(allow_null=True, help_text="Monthly invoices: the month billed.")
    credits = serializers.IntegerField()
    lines = InvoiceLineSerializer(many=True)
    subtotal = serializers.CharField(help_text=_MONEY_HELP)
    sst_rate = serializers.CharField(help_text="Percent, e.g. 8.00.")
    sst_amount = serializers.CharField(help_text=_MONEY_HELP)
    total = serializers.CharField(help_text=_MONEY_HELP)
    amount_paid = serializers.CharField(help_text=_MONEY_HELP)
    outstanding = serializers.CharField(help_text=_MONEY_HELP)
    voids = serializers.CharField(allow_null=True, help_text="Credit notes: the invoice they void.")
    payments = PaymentSerializer(many=True)
    pdf_url = serializers.URLField()

    class Meta:
        ref_name = "Invoice"


class InvoiceListSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = InvoiceSerializer(many=True)

    class Meta:
        ref_name = "InvoiceList"


# --- examples ------------------------------------------------------------------------

ACCOUNT_EXAMPLE = {
    "balance": 1025,
    "held": 50,
    "available": 975,
    "overdraft": False,
    "credits_per_ringgit": 10,
    "balance_rm": "102.50",
    "month": "2026-02",
    "month_to_date": {"sessions": 5, "credits": 210},
    "next_session": {"credits": 30, "tier": "Volume", "amount_rm": "3.00"},
}
_BASE = "https://api.truestack.my/api/v1/account"
STATEMENT_EXAMPLE = {
    "month": "2026-01",
    "period_start": "2025-12-31T16:00:00.000Z",
    "period_end": "2026-01-31T16:00:00.000Z",
    "opening_balance": 0,
    "credits_added": {"topup": 1000, "included": 200, "refund": 50, "adjustment": -15},
    "entries": [
        {"entry_id": 1, "date": "2026-01-03", "kind": "topup", "credits": 1000, "description": "Bank transfer"},
        {"entry_id": 2, "date": "2026-01-05", "kind": "included", "credits": 200, "description": "Welcome credits"},
        {"entry_id": 8, "date": "2026-01-20", "kind": "refund", "credits": 50, "description": "Disputed session"},
        {"entry_id": 9, "date": "2026-01-25", "kind": "adjustment", "credits": -15, "description": "Correction"},
    ],
    "usage": {
        "sessions": 5,
        "credits": 210,
        "by_tier": [
            {"tier": "Starter", "sessions": 3, "credits": 150, "approved": 2, "rejected": 1},
            {"tier": "Volume", "sessions": 2, "credits": 60, "approved": 2, "rejected": 0},
        ],
    },
    "closing_balance": 1025,
    "closing_balance_rm": "102.50",
    "issued_at": "2026-01-31T16:30:00.000Z",
    "pdf_url": f"{_BASE}/statements/2026-01?format=pdf",
}
INVOICE_EXAMPLE = {
    "number": "TS-2026-000002",
    "kind": "monthly",
    "status": "partly_paid",
    "issue_date": "2026-02-01",
    "due_date": "2026-02-15",
    "period_month": "2026-01",
    "credits": 215,
    "lines": [
        {"description": "KYC sessions January 2026, Flat: 7 sessions", "credits": 315, "amount": "31.50"},
        {"description": "Prepaid credits, refunds and adjustments applied", "credits": -100, "amount": "-10.00"},
    ],
    "subtotal": "21.50",
    "sst_rate": "8.00",
    "sst_amount": "1.72",
    "total": "23.22",
    "amount_paid": "10.00",
    "outstanding": "13.22",
    "voids": None,
    "payments": [{"paid_on": "2026-02-05", "amount": "10.00", "method": "bank_transfer", "reference": "MBB 889"}],
    "pdf_url": f"{_BASE}/invoices/TS-2026-000002?format=pdf",
}

_PDF_PARAMETERS = [
    OpenApiParameter(
        "format",
        str,
        enum=["pdf"],
        description="`pdf` answers the PDF instead of JSON (as does Accept: application/pdf).",
    ),
]
_PDF_RESPONSE = OpenApiResponse(
    OpenApiTypes.BINARY, description="The PDF (with `?format=pdf` or Accept: application/pdf)."
)

account_retrieve = extend_schema(
    operation_id="account_retrieve",
    tags=[TAG],
    summary="Your balance and prices",
    description="Balance, credits held by open sessions, what is available for new ones, this month's billed "
    "sessions and credits, and the price of the next session. No provider call; cheap to poll.",
    parameters=rate_limit_headers(200, 429),
    responses={
        200: OpenApiResponse(AccountSerializer, description="The account."),
        **error_responses(401, 429),
    },
    examples=[OpenApiExample("Account", value=ACCOUNT_EXAMPLE, response_only=True, status_codes=["200"])],
)

statement_list = extend_schema(
    operation_id="account_statements_list",
    tags=[TAG],
    summary="List statements",
    description="Monthly statements, newest first, cursor-paginated (follow `next`). A statement is issued on "
    "the 1st (Asia/Kuala_Lumpur) for the month before and never changes afterwards.",
    parameters=[
        OpenApiParameter("limit", int, description="Page size, 1 to 200 (default 12)."),
        OpenApiParameter("cursor", str, description="Opaque cursor from `next` / `previous`."),
        *rate_limit_headers(200, 400, 429),
    ],
    responses={
        200: OpenApiResponse(StatementListSerializer, description="A page of statements."),
        **error_responses(400, 401, 429),
    },
    examples=[
        OpenApiExample(
            "A page",
            value={"next": None, "previous": None, "results": [STATEMENT_EXAMPLE]},
            response_only=True,
            status_codes=["200"],
        )
    ],
)

statement_retrieve = extend_schema(
    operation_id="account_statements_retrieve",
    tags=[TAG],
    summary="Get a statement",
    description="One month's statement as JSON, or its PDF.",
    parameters=[
        OpenApiParameter("month", str, OpenApiParameter.PATH, description="YYYY-MM, e.g. 2026-01."),
        *_PDF_PARAMETERS,
        *rate_limit_headers(200, 404, 429),
    ],
    responses={
        (200, "application/json"): OpenApiResponse(StatementSerializer, description="The statement."),
        (200, "application/pdf"): _PDF_RESPONSE,
        **error_responses(
            401, 404, 429, examples={404: [error_example("Not found", "NOT_FOUND", "Statement not found", 404)]}
        ),
    },
    examples=[OpenApiExample("Statement", value=STATEMENT_EXAMPLE, response_only=True, status_codes=["200"])],
)

invoice_list = extend_schema(
    operation_id="account_invoices_list",
    tags=[TAG],
    summary="List invoices and credit notes",
    description="Tax invoices (top-ups; monthly for post-paid accounts) and credit notes, newest first, "
    "cursor-paginated, each with its payments.",
    parameters=[
        OpenApiParameter("limit", int, description="Page size, 1 to 200 (default 50)."),
        OpenApiParameter("cursor", str, description="Opaque cursor from `next` / `previous`."),
        *rate_limit_headers(200, 400, 429),
    ],
    responses={
        200: OpenApiResponse(InvoiceListSerializer, description="A page of invoices."),
        **error_responses(400, 401, 429),
    },
    examples=[
        OpenApiExample(
            "A page",
            value={"next": None, "previous": None, "results": [INVOICE_EXAMPLE]},
            response_only=True,
            status_codes=["200"],
        )
    ],
)

invoice_retrieve = extend_schema(
    operation_id="account_invoices_retrieve",
    tags=[TAG],
    summary="Get an invoice",
    description="One invoice or credit note as JSON, or its PDF.",
    parameters=[
        OpenApiParameter("number", str, OpenApiParameter.PATH, description="e.g. TS-2026-000002."),
        *_PDF_PARAMETERS,
        *rate_limit_headers(200, 404, 429),
    ],
    responses={
        (200, "application/json"): OpenApiResponse(InvoiceSerializer, description="The invoice."),
        (200, "application/pdf"): _PDF_RESPONSE,
        **error_responses(
            401, 404, 429, examples={404: [error_example("Not found", "NOT_FOUND", "Invoice not found", 404)]}
        ),
    },
    examples=[OpenApiExample("Invoice", value=INVOICE_EXAMPLE, response_only=True, status_codes=["200"])],
)
