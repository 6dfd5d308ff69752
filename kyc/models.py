import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Replace

# An identity number without dashes and spaces, as an SQL expression (indexed).
DOCUMENT_NUMBER_COMPACT = Replace(Replace(F("document_number"), Value("-"), Value("")), Value(" "), Value(""))


def session_file_path(session, kind: str, extension: str = "jpg") -> str:
    """Private per-client storage path for a session image."""
    return f"kyc/{session.client_id}/{session.id}/{kind}.{extension}"


class KycSession(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"
        # Internal: the provider refused or could not be reached at creation.
        # The client got 502 and never saw this id; never billed.
        FAILED = "failed", "Failed to create"

    class Result(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class DocumentType(models.TextChoices):
        MYKAD = "1", "MyKad"
        PASSPORT = "2", "Passport"

    class RedactionState(models.TextChoices):
        NONE = "", "Not redacted"
        PENDING = "pending", "Redaction pending"
        REDACTED = "redacted", "Redacted"

    class Platform(models.TextChoices):
        WEB = "Web", "Web"
        IOS = "iOS", "iOS"
        ANDROID = "Android", "Android"

    OPEN_STATUSES = (Status.PENDING, Status.PROCESSING)
    FINAL_STATUSES = (Status.COMPLETED, Status.EXPIRED, Status.FAILED)
    DOCUMENT_KINDS = ("front_document", "back_document", "face_image", "best_frame")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by the two (client, …) indexes in Meta; a third on client alone would only
    # cost every insert and update.
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="kyc_sessions", db_index=False)
    api_key = models.ForeignKey("clients.ApiKey", on_delete=models.PROTECT, related_name="kyc_sessions")
    is_test = models.BooleanField(default=False, help_text="Created with a ts_test_ key: sandbox, never billed.")

    ref_id = models.CharField(max_length=32, unique=True)
    provider_ref_id = models.CharField(max_length=128, blank=True)
    onboarding_id = models.CharField(max_length=128, blank=True)
    onboarding_url = models.URLField(max_length=1000, blank=True)
    provider_expires_at = models.CharField(max_length=64, blank=True)

    document_name = models.CharField(max_length=100)
    document_number = models.CharField(max_length=64)
    document_type = models.CharField(max_length=2, choices=DocumentType.choices, default=DocumentType.MYKAD)
    platform = models.CharField(max_length=16, choices=Platform.choices, default=Platform.WEB)
    webhook_url = models.URLField(max_length=2000)
    redirect_url = models.URLField(max_length=2000, blank=True)
    success_url = models.URLField(max_length=2000, blank=True)
    fail_url = models.URLField(max_length=2000, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    result = models.CharField(max_length=16, choices=Result.choices, null=True, blank=True)
    reject_message = models.TextField(null=True, blank=True)
    provider_status = models.CharField(max_length=4, blank=True)
    provider_result = models.CharField(max_length=4, blank=True)
    provider_error = models.CharField(max_length=255, blank=True)

    # OCR (step1.ocr_result) and derived fields.
    ocr_full_name = models.CharField(max_length=255, blank=True)
    ocr_id_number = models.CharField(max_length=64, blank=True)
    ocr_id_number_back = models.CharField(max_length=64, blank=True)
    ocr_address = models.TextField(blank=True)
    ocr_gender = models.CharField(max_length=32, blank=True)
    ocr_nationality = models.CharField(max_length=64, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)

    # Verification flags (step1 similarity / landmark, step2 liveness / face).
    document_valid = models.BooleanField(null=True)
    name_match = models.BooleanField(null=True)
    id_match = models.BooleanField(null=True)
    front_back_match = models.BooleanField(null=True)
    landmark_valid = models.BooleanField(null=True)
    face_match = models.BooleanField(null=True)
    face_match_score = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="0–100 as the provider reports it."
    )
    liveness_passed = models.BooleanField(null=True)
    # step1/step2 as received, images removed.
    raw_result = models.JSONField(default=dict, blank=True)

    front_document = models.CharField(max_length=255, blank=True, help_text="Storage path")
    back_document = models.CharField(max_length=255, blank=True, help_text="Storage path")
    face_image = models.CharField(max_length=255, blank=True, help_text="Storage path")
    best_frame = models.CharField(max_length=255, blank=True, help_text="Storage path")

    # What the session cost, stored in the transaction that charged it (null: not billed).
    billed_credits = models.PositiveIntegerField(null=True, blank=True)
    billed_tier = models.CharField(max_length=100, blank=True)
    billed_at = models.DateTimeField(null=True, blank=True)

    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_callback_at = models.DateTimeField(null=True, blank=True)
    last_provider_check_at = models.DateTimeField(null=True, blank=True)
    # Per-session webhook event counter (the body's `sequence`), raised under the session lock.
    event_sequence = models.PositiveIntegerField(default=0, editable=False)

    # Data protection: redaction (client request, staff, or the retention job) and image removal.
    redaction_state = models.CharField(
        max_length=16, choices=RedactionState.choices, default=RedactionState.NONE, blank=True
    )
    redaction_requested_at = models.DateTimeField(null=True, blank=True)
    redacted_at = models.DateTimeField(null=True, blank=True)
    images_removed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the images were deleted from storage (retention or redaction)."
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "KYC session"
        permissions = [
            ("view_session_images", "Can view identity document images"),
            ("redact_session", "Can redact a session's personal data"),
        ]
        # Plain indexes declared here, not db_index=True: on PostgreSQL that also adds a
        # second (LIKE-prefix) index per text column, which nothing searches by and every
        # insert and update of a session would maintain.
        indexes = [
            models.Index(fields=["client", "-created_at"]),
            models.Index(fields=["client", "status"]),
            models.Index(fields=["provider_ref_id"], name="kyc_session_provider_ref"),
            models.Index(fields=["onboarding_id"], name="kyc_session_onboarding"),
            models.Index(fields=["status"], name="kyc_session_status"),
            models.Index(fields=["redaction_state"], name="kyc_session_redaction"),
            # The portal finds an IC number typed with or without separators.
            models.Index(DOCUMENT_NUMBER_COMPACT, name="kyc_session_doc_compact"),
        ]

    def __str__(self):
        return str(self.id)

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_redacted(self) -> bool:
        return self.redaction_state == self.RedactionState.REDACTED

    @property
    def redaction_started(self) -> bool:
        return self.redaction_state != self.RedactionState.NONE


class OpenSessionTally(models.Model):
    """How many of a client's sessions are pending or processing. Kept in the same
    transactions that open and finish sessions, so it is exact for those states;
    sessions past `expires_at` still count until the expiry job finishes them, so
    a full tally is confirmed with a count before a create is refused. Its row is
    also the lock that serializes a client's session creation."""

    client = models.OneToOneField(
        "clients.Client", on_delete=models.CASCADE, primary_key=True, related_name="open_session_tally"
    )
    # Live sessions (capped by the client's max_open_sessions) and test sessions
    # (capped by MAX_OPEN_TEST_SESSIONS), counted apart.
    open_count = models.IntegerField(default=0)
    open_test_count = models.IntegerField(default=0)

    def __str__(self):
        return f"{self.client_id}: {self.open_count} open, {self.open_test_count} open test"


class ProviderCallback(models.Model):
    """Every inbound provider callback, stored before it is verified or applied."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed (will retry)"
        # Failed CALLBACK_MAX_ATTEMPTS times: no more retries, body dropped. The
        # session is still polled at the provider.
        PARKED = "parked", "Parked (attempts used up)"

    id = models.BigAutoField(primary_key=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    body = models.TextField(
        blank=True,
        help_text="The raw body as received (encrypted by the provider); emptied once applied, truncated when refused.",
    )
    body_sha256 = models.CharField(max_length=64, db_index=True)
    session = models.ForeignKey(
        KycSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="provider_callbacks"
    )
    provider_ref_id = models.CharField(max_length=128, blank=True)
    onboarding_id = models.CharField(max_length=128, blank=True)
    provider_status = models.CharField(max_length=4, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED, db_index=True)
    error = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"Callback {self.pk} ({self.state})"


class ProviderCheck(models.Model):
    """One status call to the provider (refresh, poll, last check before expiry)
    and whether it answered; the dashboard shows the failed share of the last
    hour. Rows older than a day are pruned by the poll job."""

    checked_at = models.DateTimeField(db_index=True)
    via = models.CharField(max_length=16)
    ok = models.BooleanField()

    def __str__(self):
        return f"{self.via} {'ok' if self.ok else 'failed'} at {self.checked_at}"


class IdempotencyRecord(models.Model):
    """First answer to a create request carrying an Idempotency-Key (kept 24 h)."""

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    session = models.ForeignKey(KycSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="unique_idempotency_key_per_client")]

    def __str__(self):
        return f"Idempotency-Key {self.key!r} of client {self.client_id}"


class PersonalDataAccess(models.Model):
    """Append-only trail of every look at (or removal of) personal data by staff,
    commands and jobs. Copies of the username and session id keep the trail
    readable after a user or session is gone."""

    class What(models.TextChoices):
        IMAGES = "images", "Images"
        ID_NUMBER = "id_number", "Full ID number and address"
        EXPORT = "export", "Export"
        REDACTION = "redaction", "Redaction"
        SUBJECT_ACCESS = "subject_access", "Subject access export"
        RAW_PROVIDER_BODY = "raw_provider_body", "Raw provider body"

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for scheduled jobs, commands run without an operator, and client API requests.",
    )
    username = models.CharField(max_length=150, blank=True, db_index=True)
    session = models.ForeignKey(
        KycSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="personal_data_accesses"
    )
    session_uuid = models.UUIDField(null=True, blank=True, db_index=True, verbose_name="session id")
    what = models.CharField(max_length=32, choices=What.choices, db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "personal data access"
        verbose_name_plural = "personal data access log"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.username or '(system)'} {self.what}"


class RetentionPolicy(models.Model):
    """A client's retention overrides; empty fields use the settings defaults
    (RETENTION_IMAGES_DAYS, RETENTION_PERSONAL_DATA_DAYS)."""

    client = models.OneToOneField(
        "clients.Client", on_delete=models.CASCADE, primary_key=True, related_name="retention_policy"
    )
    images_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days images are kept after the session ends; empty uses the default."
    )
    personal_data_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Days personal fields are kept after the session ends, then redacted; empty uses the default.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self):
        return f"Retention for {self.client_id}"
