import uuid

from django.db import models


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

    class Platform(models.TextChoices):
        WEB = "Web", "Web"
        IOS = "iOS", "iOS"
        ANDROID = "Android", "Android"

    OPEN_STATUSES = (Status.PENDING, Status.PROCESSING)
    FINAL_STATUSES = (Status.COMPLETED, Status.EXPIRED, Status.FAILED)
    DOCUMENT_KINDS = ("front_document", "back_document", "face_image", "best_frame")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="kyc_sessions")
    api_key = models.ForeignKey("clients.ApiKey", on_delete=models.PROTECT, related_name="kyc_sessions")
    is_test = models.BooleanField(default=False, help_text="Created with a ts_test_ key: sandbox, never billed.")

    ref_id = models.CharField(max_length=32, unique=True)
    provider_ref_id = models.CharField(max_length=128, blank=True, db_index=True)
    onboarding_id = models.CharField(max_length=128, blank=True, db_index=True)
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

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
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

    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_callback_at = models.DateTimeField(null=True, blank=True)
    last_provider_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "KYC session"
        permissions = [("view_session_images", "Can view identity document images")]
        indexes = [
            models.Index(fields=["client", "-created_at"]),
            models.Index(fields=["client", "status"]),
        ]

    def __str__(self):
        return str(self.id)

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


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
