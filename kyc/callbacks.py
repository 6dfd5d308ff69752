"""Inbound provider callbacks: stored first, then verified, then applied.
The stored row survives a failed apply; `callbacks_reprocess` retries it a
bounded number of times, then parks it for an operator.

The endpoint is unauthenticated, so what a stranger can make it do is bounded:
the body size (truestack/middleware.py, before anything is read), requests per
source address per minute, an optional source allowlist, a JSON reader that
refuses deep nesting, refused bodies kept truncated and purged after a week."""

import hashlib
import ipaddress
import logging
from contextlib import nullcontext
from datetime import timedelta
from functools import partial
from typing import NoReturn

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from truestack.db import values_bound_on_server
from truestack.prepared import PreparedRead, fields_save, row_insert
from truestack.ratelimit import source_rate_limit_hit

from .innovatif.callback_body import CallbackBodyInvalid, parse_callback
from .innovatif.client import client_for
from .innovatif.mapping import parse_result
from .models import KycSession, ProviderCallback
from .services import session_apply_provider_result

logger = logging.getLogger(__name__)

REPROCESS_AFTER = timedelta(seconds=30)
# A refused body is kept (truncated) for operators to inspect until it is purged;
# an applied one is dropped: its images and result now live in the session, and
# the body is large (base64 images) and personal data.
REJECTED_BODY_KEEP = 64 * 1024
RATE_LIMIT_PREFIX = "callback"


class CallbackRefused(Exception):
    def __init__(self, status_code: int, reason: str, *, headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason
        self.headers = headers or {}


def callback_source_check(*, source: str | None) -> None:
    """Refuse (403) a source outside INNOVATIF_CALLBACK_ALLOWED_IPS when that is set,
    and (429) a source over its per-minute limit. Nothing is stored for either."""
    allowed = settings.INNOVATIF_CALLBACK_ALLOWED_IPS
    if allowed:
        try:
            address = ipaddress.ip_address((source or "").split("%", 1)[0])
        except ValueError:
            address = None
        if address is None or not any(address in ipaddress.ip_network(cidr, strict=False) for cidr in allowed):
            logger.warning("provider callback refused: source not in INNOVATIF_CALLBACK_ALLOWED_IPS")
            raise CallbackRefused(403, "source address not allowed")
    limit = settings.INNOVATIF_CALLBACK_RATE_LIMIT_PER_MINUTE
    if limit:
        allowed_now, retry_after = source_rate_limit_hit(prefix=RATE_LIMIT_PREFIX, source=source or "-", limit=limit)
        if not allowed_now:
            raise CallbackRefused(429, "too many callbacks", headers={"Retry-After": str(retry_after)})


def callback_record(*, body: bytes, remote_addr: str | None, attempts: int = 0) -> ProviderCallback:
    # PostgreSQL text cannot hold NUL; such a body is refused anyway, but it is stored first.
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    # The body (about 117 KB with the images) goes as a parameter, not as SQL text.
    callback = ProviderCallback(
        body=text, body_sha256=hashlib.sha256(body).hexdigest(), remote_addr=remote_addr or None, attempts=attempts
    )
    with values_bound_on_server():
        return row_insert(callback)


_SETTLED_FIELDS = [
    "state",
    "error",
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
    fields_save(callback, _SETTLED_FIELDS)


def _refuse(callback: ProviderCallback, status_code: int, reason: str) -> NoReturn:
    _settle(callback, ProviderCallback.State.REJECTED, reason, body=callback.body[:REJECTED_BODY_KEEP])
    logger.warning("provider callback %s refused: %s", callback.pk, reason)
    raise CallbackRefused(status_code, reason)


def _count_attempt(callback: ProviderCallback) -> None:
    """Counted before the work, so even an attempt that kills its process counts
    towards CALLBACK_MAX_ATTEMPTS."""
    ProviderCallback.objects.filter(pk=callback.pk).update(attempts=F("attempts") + 1)
    callback.attempts += 1


# What verifying a callback reads of its session (applying re-reads it whole, locked),
# compiled once per process (truestack/prepared.py).
_LOOKUP_FIELDS = ("id", "client_id", "status", "is_test", "document_type", "onboarding_id", "provider_ref_id")
_LOOKUP = PreparedRead(
    lambda provider_ref_id: KycSession.objects.filter(provider_ref_id=provider_ref_id).only(*_LOOKUP_FIELDS)[:1],
    text=("provider_ref_id",),
)


def callback_process(*, callback: ProviderCallback, attempt_counted: bool = False) -> ProviderCallback:
    """Verify and apply one stored callback. Raises CallbackRefused (4xx) for
    anything that must change nothing; other errors leave it `failed` for retry,
    or `parked` once it has had CALLBACK_MAX_ATTEMPTS attempts. `attempt_counted`:
    the row was stored with this attempt counted already (one write fewer)."""
    if not attempt_counted:
        _count_attempt(callback)
    try:
        verified = parse_callback(
            callback.body.encode("utf-8"), allow_plaintext=settings.INNOVATIF_ALLOW_PLAINTEXT_CALLBACKS
        )
    except CallbackBodyInvalid as exc:
        _refuse(callback, 400, exc.reason)
    callback.provider_ref_id = verified.provider_ref_id[:128]
    callback.onboarding_id = str(verified.onboarding_id)[:128]
    callback.provider_status = str(verified.status)[:4]

    session = _LOOKUP.get(provider_ref_id=verified.provider_ref_id) if verified.provider_ref_id else None
    if session is None:
        _refuse(callback, 404, "unknown transaction")
    callback.session = session
    if str(session.onboarding_id) != str(verified.onboarding_id):
        _refuse(callback, 409, "onboarding_id does not match the transaction")
    if client_for(is_test=session.is_test).credentials.api_key != verified.credentials.api_key:
        _refuse(callback, 403, "callback credentials do not match the session's provider account")

    body, processed_at = callback.body, callback.processed_at
    try:
        result = parse_result(verified.body, document_type=session.document_type)
        # The callback is marked processed in the transaction that applies it: one
        # commit, and never applied without being marked (or marked without applying).
        # Marked first, so applying ends the transaction with the client's hot rows.
        # Outside a transaction applying opens it (and may send its COMMIT with those
        # rows); inside a caller's, a savepoint keeps a failure here from dooming it.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            session_apply_provider_result(
                session=session,
                result=result,
                via="callback",
                first=partial(_settle, callback, ProviderCallback.State.PROCESSED, body=""),
            )
    except Exception as exc:
        # Rolled back with the apply: the body is kept for the retry.
        callback.body, callback.processed_at = body, processed_at
        if callback.attempts >= settings.CALLBACK_MAX_ATTEMPTS:
            _park(callback, type(exc).__name__)
        else:
            _settle(callback, ProviderCallback.State.FAILED, type(exc).__name__)
        logger.exception("provider callback %s failed to apply (attempt %s)", callback.pk, callback.attempts)
        raise
    return callback


def _park(callback: ProviderCallback, error: str) -> None:
    # The body goes: a poison body must not be carried (and re-read) for ever. The
    # session is still polled at the provider, which brings the result another way.
    _settle(callback, ProviderCallback.State.PARKED, f"parked after {callback.attempts} attempts: {error}", body="")
    logger.error("provider callback %s parked after %s attempts", callback.pk, callback.attempts)


def callbacks_reprocess(*, limit: int = 50) -> int:
    """Retry callbacks that were stored but not applied (crash, failure); park
    those that have used up their attempts."""
    now = timezone.now()
    parked = ProviderCallback.objects.filter(
        state__in=[ProviderCallback.State.FAILED, ProviderCallback.State.RECEIVED],
        attempts__gte=settings.CALLBACK_MAX_ATTEMPTS,
    ).update(state=ProviderCallback.State.PARKED, body="", processed_at=now, error="parked: attempts used up")
    if parked:
        logger.error("%s provider callbacks parked after %s attempts", parked, settings.CALLBACK_MAX_ATTEMPTS)
    pending = ProviderCallback.objects.filter(
        state__in=[ProviderCallback.State.FAILED, ProviderCallback.State.RECEIVED],
        received_at__lte=now - REPROCESS_AFTER,
        attempts__lt=settings.CALLBACK_MAX_ATTEMPTS,
    ).order_by("received_at")[:limit]
    done = 0
    for callback in pending:
        try:
            callback_process(callback=callback)
        except Exception:  # noqa: BLE001, S112 - refused, or failed again: recorded on the row
            continue
        done += 1
    return done


def callbacks_purge_refused(*, now=None) -> int:
    """Delete refused callbacks older than CALLBACK_REFUSED_RETENTION (their bodies
    are forged or broken; a week is enough to look into one)."""
    cutoff = (now or timezone.now()) - settings.CALLBACK_REFUSED_RETENTION
    deleted, _ = ProviderCallback.objects.filter(state=ProviderCallback.State.REJECTED, received_at__lt=cutoff).delete()
    return deleted
