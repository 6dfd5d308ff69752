"""Every write to clients and API keys."""

import base64
import hashlib
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from truestack.crypto import decrypt_secret, encrypt_secret
from truestack.errors import BadRequest

from . import keycache
from .models import ApiKey, Client

KEY_RANDOM_LENGTH = 32
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _new_raw_key(environment: str) -> str:
    # token_urlsafe(24) yields exactly 32 URL-safe characters.
    random_part = secrets.token_urlsafe(24)
    if len(random_part) != KEY_RANDOM_LENGTH:
        raise RuntimeError("token_urlsafe(24) did not yield 32 characters")
    return f"ts_{environment}_{random_part}"


def _new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def client_create(
    *,
    code: str,
    name: str,
    allow_overdraft: bool = False,
    contact_email: str = "",
    notes: str = "",
) -> Client:
    client = Client(
        code=code,
        name=name,
        allow_overdraft=allow_overdraft,
        contact_email=contact_email,
        notes=notes,
        webhook_secret_encrypted=encrypt_secret(_new_webhook_secret()),
    )
    client.full_clean()
    client.save()
    return client


def api_key_create(
    *, client: Client, environment: str = ApiKey.Environment.LIVE, label: str = ""
) -> tuple[ApiKey, str]:
    """Create a key; the raw key is returned here and never again."""
    if environment not in ApiKey.Environment.values:
        raise BadRequest(f"environment must be one of {', '.join(ApiKey.Environment.values)}")
    raw = _new_raw_key(environment)
    key = ApiKey.objects.create(
        client=client,
        environment=environment,
        key_hash=api_key_digest(raw),
        key_encrypted=encrypt_secret(raw),
        prefix=raw[: len(f"ts_{environment}_") + 4],
        last_four=raw[-4:],
        label=label,
    )
    return key, raw


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.status != ApiKey.Status.REVOKED:
        api_key.status = ApiKey.Status.REVOKED
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["status", "revoked_at"])
    keycache.forget(api_key.key_hash)
    return api_key


def api_key_plaintext(*, api_key: ApiKey) -> str:
    """The raw key, decrypted; used only to sign webhooks with it."""
    return decrypt_secret(api_key.key_encrypted)


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute per key: a conditional UPDATE, skipped
    entirely when the loaded row shows a recent use."""
    now = timezone.now()
    cutoff = now - LAST_USED_RESOLUTION
    if api_key.last_used_at and api_key.last_used_at > cutoff:
        return
    ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=cutoff), pk=api_key.pk).update(
        last_used_at=now
    )
    api_key.last_used_at = now


def client_webhook_secret(*, client: Client) -> str:
    return decrypt_secret(client.webhook_secret_encrypted)


def client_webhook_secrets(*, client: Client, now: datetime | None = None) -> list[str]:
    """The secrets that sign a webhook now: the current one, then the previous
    one while its overlap after a rotation lasts."""
    now = now or timezone.now()
    secrets_ = [decrypt_secret(client.webhook_secret_encrypted)]
    expires = client.webhook_secret_previous_expires_at
    if client.webhook_secret_previous_encrypted and expires and expires > now:
        secrets_.append(decrypt_secret(client.webhook_secret_previous_encrypted))
    return secrets_


@transaction.atomic
def client_rotate_webhook_secret(*, client: Client) -> str:
    """A new signing secret, returned here and shown once. The one it replaces
    keeps signing next to it for WEBHOOK_SECRET_OVERLAP."""
    locked = Client.objects.select_for_update().get(pk=client.pk)
    now = timezone.now()
    secret = _new_webhook_secret()
    client.webhook_secret_previous_encrypted = locked.webhook_secret_encrypted
    client.webhook_secret_previous_expires_at = now + settings.WEBHOOK_SECRET_OVERLAP
    client.webhook_secret_encrypted = encrypt_secret(secret)
    client.webhook_secret_shown_at = now
    client.save(
        update_fields=[
            "webhook_secret_encrypted",
            "webhook_secret_previous_encrypted",
            "webhook_secret_previous_expires_at",
            "webhook_secret_shown_at",
            "updated_at",
        ]
    )
    return secret


def client_reveal_webhook_secret(*, client: Client) -> str | None:
    """The current secret in full, exactly once (for a client whose secret was
    never shown, e.g. right after it was created); None if it was shown before."""
    now = timezone.now()
    claimed = Client.objects.filter(pk=client.pk, webhook_secret_shown_at__isnull=True).update(
        webhook_secret_shown_at=now
    )
    if not claimed:
        return None
    client.webhook_secret_shown_at = now
    return decrypt_secret(client.webhook_secret_encrypted)
