"""Inbound provider callbacks: stored first, then verified, then applied.
The stored row survives a failed apply; `callbacks_reprocess` retries it."""

import hashlib
import logging
from datetime import timedelta
from typing import NoReturn

from django.conf import settings
from django.utils import timezone

from .innovatif.callback_body import CallbackBodyInvalid, parse_callback
from .innovatif.client import client_for
from .innovatif.mapping import parse_result
from .models import KycSession, ProviderCallback
from .services import session_apply_provider_result

logger = logging.getLogger(__name__)

REPROCESS_AFTER = timedelta(seconds=30)
MAX_ATTEMPTS = 10
# A refused body is kept (truncated) for operators to inspect; an applied one is
# dropped: its images and result now live in the session, and the body is large
# (base64 images) and personal data.
REJECTED_BODY_KEEP = 64 * 1024


class CallbackRefused(Exception):
    def __init__(self, status_code: int, reason: str):
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


def callback_record(*, body: bytes, remote_addr: str | None) -> ProviderCallback:
    return ProviderCallback.objects.create(
        body=body.decode("utf-8", errors="replace"),
        body_sha256=hashlib.sha256(body).hexdigest(),
        remote_addr=remote_addr or None,
    )


_SETTLED_FIELDS = [
    "state",
    "error",
    "attempts",
    "processed_at",
    "body",
    "session",
    "provider_ref_id",
    "onboarding_id",
    "provider_status",
]


def _settle(callback: ProviderCallback, state: str, error: str = "", *, body: str | None = None) -> None:
    """Record the outcome with what was learnt about the callback (ids, session)."""
    callback.state = state
    callback.error = error[:255]
    if state != ProviderCallback.State.FAILED:
        callback.processed_at = timezone.now()
    if body is not None:
        callback.body = body
    callback.save(update_fields=_SETTLED_FIELDS)


def _refuse(callback: ProviderCallback, status_code: int, reason: str) -> NoReturn:
    _settle(callback, ProviderCallback.State.REJECTED, reason, body=callback.body[:REJECTED_BODY_KEEP])
    logger.warning("provider callback %s refused: %s", callback.pk, reason)
    raise CallbackRefused(status_code, reason)


def callback_process(*, callback: ProviderCallback) -> ProviderCallback:
    """Verify and apply one stored callback. Raises CallbackRefused (4xx) for
    anything that must change nothing; other errors leave it `failed` for retry."""
    try:
        verified = parse_callback(
            callback.body.encode("utf-8"), allow_plaintext=settings.INNOVATIF_ALLOW_PLAINTEXT_CALLBACKS
        )
    except CallbackBodyInvalid as exc:
        _refuse(callback, 400, exc.reason)
    callback.provider_ref_id = verified.provider_ref_id[:128]
    callback.onboarding_id = str(verified.onboarding_id)[:128]
    callback.provider_status = str(verified.status)[:4]

    session = KycSession.objects.filter(provider_ref_id=verified.provider_ref_id).exclude(provider_ref_id="").first()
    if session is None:
        _refuse(callback, 404, "unknown transaction")
    callback.session = session
    if str(session.onboarding_id) != str(verified.onboarding_id):
        _refuse(callback, 409, "onboarding_id does not match the transaction")
    if client_for(is_test=session.is_test).credentials.api_key != verified.credentials.api_key:
        _refuse(callback, 403, "callback credentials do not match the session's provider account")

    callback.attempts += 1
    try:
        result = parse_result(verified.body, document_type=session.document_type)
        session_apply_provider_result(session=session, result=result, via="callback")
    except Exception as exc:
        _settle(callback, ProviderCallback.State.FAILED, type(exc).__name__)
        logger.exception("provider callback %s failed to apply", callback.pk)
        raise
    _settle(callback, ProviderCallback.State.PROCESSED, body="")
    return callback


def callbacks_reprocess(*, limit: int = 50) -> int:
    """Retry callbacks that were stored but not applied (crash, failure)."""
    cutoff = timezone.now() - REPROCESS_AFTER
    pending = ProviderCallback.objects.filter(
        state__in=[ProviderCallback.State.FAILED, ProviderCallback.State.RECEIVED],
        received_at__lte=cutoff,
        attempts__lt=MAX_ATTEMPTS,
    ).order_by("received_at")[:limit]
    done = 0
    for callback in pending:
        try:
            callback_process(callback=callback)
        except Exception:  # noqa: BLE001, S112 - refused, or failed again: recorded on the row
            continue
        done += 1
    return done
