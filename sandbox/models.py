import secrets

from django.db import models


def new_onboarding_id() -> str:
    return secrets.token_hex(16)


class SandboxTransaction(models.Model):
    """One transaction at the imitation provider. Codes are the provider's own
    (status 0..3, result 0..2, provider document types)."""

    class Status(models.IntegerChoices):
        NOT_OPENED = 0, "URL not opened"
        PROCESSING = 1, "Processing"
        COMPLETED = 2, "Completed"
        EXPIRED = 3, "Expired"

    class Result(models.TextChoices):
        REJECTED = "0", "Rejected"
        APPROVED = "1", "Approved"
        NOT_AVAILABLE = "2", "Not available"

    OPEN_STATUSES = (Status.NOT_OPENED, Status.PROCESSING)

    onboarding_id = models.CharField(max_length=64, unique=True, default=new_onboarding_id, editable=False)
    provider_ref_id = models.CharField(max_length=300, unique=True)
    ref_id = models.CharField(max_length=64)

    document_name = models.CharField(max_length=100)
    document_number = models.CharField(max_length=32)
    document_type = models.CharField(max_length=4, default="1")
    platform = models.CharField(max_length=16)
    response_url = models.CharField(max_length=2000)
    backend_url = models.CharField(max_length=2000, blank=True)
    callback_mode = models.CharField(max_length=1, default="2")
    response_mode = models.CharField(max_length=1, default="1")

    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.NOT_OPENED)
    result = models.CharField(max_length=1, choices=Result.choices, null=True, blank=True)
    reject_message = models.CharField(max_length=255, null=True, blank=True)

    # Images the tester uploaded on the onboarding page (re-encoded, small);
    # empty means the built-in specimens are used.
    front_image = models.BinaryField(null=True, blank=True)
    back_image = models.BinaryField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    expired_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    # Callback send outcomes, for debugging.
    callback_count = models.PositiveIntegerField(default=0)
    callback_last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    callback_last_error = models.CharField(max_length=255, blank=True)
    callback_last_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.provider_ref_id} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES
