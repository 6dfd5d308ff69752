import uuid
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.validators import FileExtensionValidator, RegexValidator
from django.db import models

CLIENT_CODE_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_]{2,16}$", "2 to 16 letters, digits or underscores.")
# Raster formats only: an SVG served from our origin could carry script.
LOGO_EXTENSIONS = ("png", "jpg", "jpeg", "webp")
LOGO_MAX_BYTES = 512 * 1024


def client_logo_path(client: "Client", filename: str) -> str:
    extension = PurePath(filename).suffix.lower().lstrip(".") or "png"
    return f"client-logos/{client.id}/{uuid.uuid4().hex}.{extension}"


def validate_logo_size(file) -> None:
    if file.size > LOGO_MAX_BYTES:
        raise ValidationError(f"The logo must be at most {LOGO_MAX_BYTES // 1024} KB.")


LABEL_MAX_LENGTH = 100


class Client(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(
        max_length=16,
        unique=True,
        validators=[CLIENT_CODE_VALIDATOR],
        help_text="Short code used in provider reference ids.",
    )
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    allow_overdraft = models.BooleanField(default=False, help_text="May create sessions without enough credits.")
    contact_email = models.EmailField(blank=True)
    notes = models.TextField(blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="API requests per minute; empty uses the default (60)."
    )
    max_open_sessions = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Open (pending/processing) sessions allowed at once; empty uses the default (100).",
    )
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    display_name = models.CharField(
        max_length=100, blank=True, help_text="Shown to end users on the status page; empty uses the name."
    )
    logo = models.ImageField(
        upload_to=client_logo_path,
        blank=True,
        validators=[FileExtensionValidator(LOGO_EXTENSIONS), validate_logo_size],
        help_text="Shown to end users on the status page: PNG, JPEG or WebP, at most 512 KB, ideally 2:1 or wider.",
    )
    # After a rotation the previous secret still signs (alongside the new one)
    # until this time, so receivers can switch without losing a webhook.
    webhook_secret_previous_encrypted = models.TextField(blank=True, editable=False)
    webhook_secret_previous_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the current secret was shown in full (once); empty: it may still be revealed once.
    webhook_secret_shown_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Authenticated API requests carry the Client as `request.user`.
    is_authenticated = True
    is_anonymous = False

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} — {self.name}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def public_name(self) -> str:
        """The name end users see."""
        return self.display_name or self.name


class ApiKey(models.Model):
    class Environment(models.TextChoices):
        LIVE = "live", "Live"
        TEST = "test", "Test"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="api_keys")
    environment = models.CharField(max_length=8, choices=Environment.choices, default=Environment.LIVE)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_encrypted = models.TextField(editable=False)
    prefix = models.CharField(max_length=16, editable=False, help_text="Shown for recognition, e.g. ts_live_AbCd")
    last_four = models.CharField(max_length=4, editable=False)
    label = models.CharField(max_length=LABEL_MAX_LENGTH, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self):
        return self.masked

    @property
    def masked(self) -> str:
        return f"{self.prefix}…{self.last_four}"

    @property
    def is_test(self) -> bool:
        return self.environment == self.Environment.TEST
