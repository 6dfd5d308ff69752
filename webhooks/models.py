import uuid

from django.db import models


class Event(models.Model):
    """A domain event for a client. The body is serialized once and the same
    bytes are sent on every delivery attempt."""

    class Kind(models.TextChoices):
        SESSION_COMPLETED = "kyc.session.completed", "kyc.session.completed"
        SESSION_EXPIRED = "kyc.session.expired", "kyc.session.expired"
        SESSION_REDACTED = "kyc.session.redacted", "kyc.session.redacted"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="events")
    session = models.ForeignKey("kyc.KycSession", on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=64, choices=Kind.choices)
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["session", "kind"], name="one_event_per_session_kind")]

    def __str__(self):
        return f"{self.kind} {self.session_id}"


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    url = models.URLField(max_length=2000)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Lease: an attempt in flight holds the delivery until this time; a worker that
    # dies mid-attempt lets it lapse and the sweep picks the delivery up again.
    locked_until = models.DateTimeField(null=True, blank=True)
    # When a delivery task was last put on the broker and not yet picked up; the
    # sweep leaves such deliveries alone for a while instead of queueing copies.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self):
        return f"Delivery {self.id} ({self.state})"


class Attempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True)
    response_excerpt = models.TextField(blank=True, help_text="First 1 KB of the response body.")

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self):
        return f"Attempt {self.number} → {self.status_code or self.error}"
