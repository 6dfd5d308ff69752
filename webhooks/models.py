import uuid

from django.db import models
from django.db.models import Q


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
    # Copied from the session when recorded: test keys see only test events, live keys only live ones.
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["session", "kind"], name="one_event_per_session_kind")]
        indexes = [models.Index(fields=["client", "is_test", "-created_at"], name="event_client_listing")]

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
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            # Leases held now (a few per worker thread), so counting a client's attempts
            # in flight at each claim does not read its whole backlog.
            models.Index(
                fields=["locked_until"], condition=Q(locked_until__isnull=False), name="webhooks_delivery_leased"
            ),
        ]

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


class BulkRedelivery(models.Model):
    """A client's bulk replay of a time range (POST /api/v1/events/redeliver),
    worked through by a task in bounded batches. The cursor is stored with each
    batch, so a task that runs twice never redelivers an event twice."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    is_test = models.BooleanField(default=False)
    created_after = models.DateTimeField()
    created_before = models.DateTimeField()
    status = models.CharField(max_length=16)
    total = models.PositiveIntegerField(help_text="Events that matched when the request was made (the answer's count).")
    processed = models.PositiveIntegerField(default=0)
    cursor_created_at = models.DateTimeField(null=True, blank=True)
    cursor_event_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Bulk redelivery {self.id} ({self.processed}/{self.total})"


class EndpointHealth(models.Model):
    """Delivery health of one client's webhook host: attempts and successes per
    hour over the last 24 hours, the current run of failures, and when the
    client was told about it. Updated on every recorded attempt; it never
    holds back or drops a delivery."""

    client = models.ForeignKey("clients.Client", on_delete=models.CASCADE, related_name="+")
    host = models.CharField(max_length=300, help_text="Host (and port, when not the default) of the webhook URL.")
    # {"2026-01-28T10": [attempts, successes], ...}; hours older than 24 h are dropped on update.
    hourly = models.JSONField(default=dict, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField(
        null=True, blank=True, help_text="First failed attempt since the last success."
    )
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Not indexed: the row is updated on every attempt to the host, and without an index
    # on a changed column PostgreSQL updates it in place (HOT). The table has a row per
    # client and host, small enough to read whole for the dashboard.
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    alerted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the client was emailed that this host is failing (cleared on recovery)."
    )

    class Meta:
        ordering = ["client", "host"]
        verbose_name_plural = "endpoint health"
        constraints = [models.UniqueConstraint(fields=["client", "host"], name="one_health_record_per_client_host")]

    def __str__(self):
        return f"{self.host} ({self.consecutive_failures} consecutive failures)"
