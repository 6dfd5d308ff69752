"""Every write to KYC sessions. One function, `session_apply_provider_result`,
applies a provider result whichever path it came by (callback, refresh, poll)."""

import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from billing import services as billing
from clients.models import ApiKey, Client
from truestack.errors import ConcurrentSessionLimit, GatewayError, ProviderBusy
from truestack.prepared import PreparedRead, fields_save, row_insert
from webhooks import services as webhooks
from webhooks.models import Event

from . import presenters
from .documents import DocumentStorageError, images_delete, store_images
from .innovatif.client import InnovatifError, client_for
from .innovatif.concurrency import provider_slot
from .innovatif.mapping import DOCUMENT_TYPE_TO_PROVIDER, ProviderResult, parse_result
from .models import KycSession, OpenSessionTally, ProviderCheck
from .validation import provider_document_number

logger = logging.getLogger(__name__)

ORPHAN_AFTER = timedelta(minutes=5)
EXPIRY_GRACE = timedelta(hours=1)
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int) -> str:
    out = ""
    while number:
        number, digit = divmod(number, 36)
        out = _BASE36[digit] + out
    return out or "0"


def ref_id_generate(*, client: Client) -> str:
    """`CODE_<base36 ms>_<hex>`: unique (random part + DB constraint), ≤ 32 chars."""
    prefix = f"{client.code}_{_base36(int(time.time() * 1000))}_"
    random_length = max(6, min(8, 32 - len(prefix)))
    return (prefix + secrets.token_hex(4)[:random_length])[:32]


def open_sessions_limit(client: Client, *, is_test: bool = False) -> int:
    """Live and test sessions have separate caps: sandbox traffic never blocks live creates."""
    if is_test:
        return settings.MAX_OPEN_TEST_SESSIONS
    return client.max_open_sessions if client.max_open_sessions is not None else settings.MAX_OPEN_SESSIONS


def _lock_tally(client: Client) -> OpenSessionTally:
    """The client's open-session tally, locked until the end of the transaction."""
    tally = OpenSessionTally.objects.select_for_update().filter(client=client).first()
    if tally is None:
        with transaction.atomic():  # savepoint: a concurrent first create may win the insert
            OpenSessionTally.objects.bulk_create([OpenSessionTally(client=client)], ignore_conflicts=True)
        tally = OpenSessionTally.objects.select_for_update().get(client=client)
    return tally


def _tally_column(is_test: bool) -> str:
    """Live and test sessions are counted apart (each has its own cap)."""
    return "open_test_count" if is_test else "open_count"


def _tally_add(*, client_id, delta: int, is_test: bool) -> None:
    column = _tally_column(is_test)
    OpenSessionTally.objects.filter(client_id=client_id).update(**{column: F(column) + delta})


def _tally_release_sql(session: KycSession) -> tuple[str, list]:
    """_tally_add(delta=-1) as SQL, for a statement sent with others (PostgreSQL)."""
    column = _tally_column(session.is_test)
    table = OpenSessionTally._meta.db_table
    return f"UPDATE {table} SET {column} = {column} - 1 WHERE client_id = %s", [session.client_id]  # noqa: S608 - names from the model


def _tally_reserve(*, client: Client, limit: int, session: KycSession, now) -> None:
    """Count `session` as open (in the live or the test count, by its key), or refuse
    it over the cap. One conditional UPDATE while under the cap (PostgreSQL re-checks
    the condition on the locked row, so the cap is exact under concurrent creates);
    the tally is locked and confirmed only when it is full or missing."""
    column = _tally_column(session.is_test)
    under_cap = OpenSessionTally.objects.filter(client=client, **{f"{column}__lt": limit})
    if under_cap.update(**{column: F(column) + 1}):
        return
    tally = _lock_tally(client)
    # The tally may include sessions already past expires_at; confirm before refusing.
    if getattr(tally, column) >= limit and (
        KycSession.objects.filter(
            client=client, is_test=session.is_test, status__in=KycSession.OPEN_STATUSES, expires_at__gt=now
        )
        .exclude(pk=session.pk)[:limit]
        .count()
        >= limit
    ):
        kind = "test " if session.is_test else ""
        raise ConcurrentSessionLimit(
            f"Too many open {kind}sessions: the limit is {limit} pending or processing {kind}sessions per client",
            headers={"Retry-After": "60"},
        )
    _tally_add(client_id=client.pk, delta=1, is_test=session.is_test)


class _Refused(Exception):
    """A statement sent with its COMMIT refused (a TrueStack database function raised):
    the transaction was rolled back, nothing was written."""


# What TrueStack's database functions raise to refuse (kyc/0012, billing/0005).
_REFUSALS = ("truestack: reservation refused", billing.CHARGE_REFUSED)


def _execute_with_commit(statements: list[tuple[str, list]]) -> tuple | None:
    """PostgreSQL, last in the outermost transaction: the statements and the COMMIT
    in one round trip (a psycopg pipeline), so no Python runs while the rows they
    lock are locked, however busy this process is. Returns the last statement's
    first row. A refusal raised by one of them turns the COMMIT into a rollback and
    raises _Refused."""
    raw = connection.connection
    try:
        # Without pipeline support in libpq (before 14) the COMMIT follows in its own round trip.
        pipeline = raw.pipeline() if psycopg.Pipeline.is_supported() else nullcontext()
        # Errors from the COMMIT and the pipeline's end come as Django's, as any query's
        # would (and mark the connection for Django's end-of-request check).
        with connection.wrap_database_errors, pipeline, connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
            raw.commit()
            return cursor.fetchone() if cursor.description else None
    except DatabaseError as exc:
        cause = exc.__cause__
        if not (isinstance(cause, psycopg.errors.RaiseException) and any(r in str(cause) for r in _REFUSALS)):
            raise
        raise _Refused from None


def _reserve_and_commit(*, client: Client, limit: int, amount: int) -> None:
    """PostgreSQL: the tally's and the credit account's conditional UPDATEs in one
    statement, sent in one round trip with the COMMIT (a psycopg pipeline), so the
    client's two hot rows are locked only while the server runs the statement and
    the commit; no Python runs in between, however busy this process is. Call it
    last in the outermost transaction: it commits.

    When either UPDATE finds nothing to do (cap reached, credit short, tally or
    account missing) the statement raises, the transaction is rolled back, and
    _Refused is raised: the locked path decides and explains.

    The statement turns synchronous_commit off for this transaction only, so its
    COMMIT releases the row locks without waiting for the WAL flush (which would
    otherwise serialize every create of a client behind one fsync). Nothing a client
    sees depends on it: the answer is sent only after a later, synchronous commit of
    this session (the provider ids, or the failure), and that flush covers this
    transaction's earlier WAL. A database crash before it loses the whole reservation
    (row, hold, tally, credit together), never a part of it."""
    tally_table = OpenSessionTally._meta.db_table
    credit_sql, credit_params = billing.credit_reserve_sql(
        client=client, amount=amount, only_if="EXISTS (SELECT 1 FROM tally)"
    )
    sql = (
        f"WITH tally AS (UPDATE {tally_table} SET open_count = open_count + 1 "  # noqa: S608 - names from models
        f"WHERE client_id = %s AND open_count < %s RETURNING 1), credit AS ({credit_sql}) "
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM credit) "
        "THEN set_config('synchronous_commit', 'off', true) = 'off' "
        "ELSE truestack_reservation_refused() END"
    )
    _execute_with_commit([(sql, [client.pk, limit, *credit_params])])


def _session_insert(*, client: Client, api_key: ApiKey, data: dict, now) -> KycSession:
    return row_insert(
        KycSession(
            client=client,
            api_key=api_key,
            is_test=api_key.is_test,
            ref_id=ref_id_generate(client=client),
            expires_at=now + settings.SESSION_TTL,
            **data,
        )
    )


def _reserve(*, client: Client, api_key: ApiKey, data: dict) -> KycSession:
    """Write the session row and its hold in one transaction, the open-session cap
    and the credit checked exactly under concurrent creates. The rows nobody else
    touches are written first; the client's hot rows (tally, then credit account:
    the lock order everywhere) last, by conditional UPDATEs right before the commit
    (on PostgreSQL one statement sent with the COMMIT), so their row locks are held
    briefly. A refusal there, or any other database, takes the locked path, which
    also counts out sessions past their expiry before refusing over the cap."""
    hold_amount = None if api_key.is_test else billing.hold_amount_for(client=client)
    limit = open_sessions_limit(client, is_test=api_key.is_test)
    now = timezone.now()
    if hold_amount is not None and connection.vendor == "postgresql" and not connection.in_atomic_block:
        try:
            with transaction.atomic():
                session = _session_insert(client=client, api_key=api_key, data=data, now=now)
                billing.hold_insert(session=session, amount=hold_amount)
                _reserve_and_commit(client=client, limit=limit, amount=hold_amount)
            return session
        except _Refused:
            pass  # rolled back: nothing was written
    with transaction.atomic():
        session = _session_insert(client=client, api_key=api_key, data=data, now=now)
        _tally_reserve(client=client, limit=limit, session=session, now=now)
        if hold_amount is not None:
            billing.hold_insert(session=session, amount=hold_amount)
            billing.credit_reserve(client=client, amount=hold_amount)
    return session


def _response_url(session: KycSession) -> str:
    return session.redirect_url or f"{settings.PUBLIC_BASE_URL}/r/{session.id}"


def _mark_failed(*, session: KycSession, error: str) -> None:
    with transaction.atomic():
        updated = KycSession.objects.filter(pk=session.pk, status=KycSession.Status.PENDING, provider_ref_id="").update(
            status=KycSession.Status.FAILED, provider_error=error[:255], updated_at=timezone.now()
        )
        if updated:
            _tally_add(client_id=session.client_id, delta=-1, is_test=session.is_test)
            billing.hold_release(session=session)


def session_create(*, client: Client, api_key: ApiKey, data: dict) -> KycSession:
    """Create a session: row and hold first, then the provider transaction.
    A provider failure leaves the row as `failed` (never billed) and raises 502.
    When this process already has its cap of provider calls in flight, raises
    ProviderBusy (503) before anything is written."""
    with provider_slot(is_test=api_key.is_test):
        return _create(client=client, api_key=api_key, data=data)


def _create(*, client: Client, api_key: ApiKey, data: dict) -> KycSession:
    session = _reserve(client=client, api_key=api_key, data=data)
    provider = client_for(is_test=session.is_test)
    try:
        created = provider.create_transaction(
            ref_id=session.ref_id,
            document_name=session.document_name,
            document_number=provider_document_number(
                document_type=session.document_type, document_number=session.document_number
            ),
            document_type=DOCUMENT_TYPE_TO_PROVIDER[session.document_type],
            platform=session.platform,
            response_url=_response_url(session),
            backend_url=f"{settings.PUBLIC_BASE_URL}/api/internal/webhooks/innovatif/ekyc",
        )
    except InnovatifError as exc:
        logger.warning("provider create-transaction failed ref_id=%s code=%s", session.ref_id, exc.code)
        _mark_failed(session=session, error=f"{exc.code}: {exc.description}")
        raise GatewayError("Failed to initiate KYC session") from None
    except Exception:  # any crash here is a 502; logged with its traceback
        logger.exception("provider create-transaction crashed ref_id=%s", session.ref_id)
        _mark_failed(session=session, error="unexpected error calling the provider")
        raise GatewayError("Failed to initiate KYC session") from None
    session.provider_ref_id = created.ref_id
    session.onboarding_id = created.onboarding_id
    session.onboarding_url = created.onboarding_url
    session.provider_expires_at = created.expired_at or ""
    KycSession.objects.filter(pk=session.pk).update(
        provider_ref_id=session.provider_ref_id,
        onboarding_id=session.onboarding_id,
        onboarding_url=session.onboarding_url,
        provider_expires_at=session.provider_expires_at,
    )
    return session


def _event_sequence_next(session_id) -> int:
    table = KycSession._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET event_sequence = event_sequence + 1 WHERE id = %s RETURNING event_sequence",  # noqa: S608 - table name from the model
            [KycSession._meta.pk.get_db_prep_value(session_id, connection)],
        )
        return cursor.fetchone()[0]


def session_event_record(*, session: KycSession, kind: str, first_of_kind: bool = False) -> Event | None:
    """Record the webhook event `kind` for `session` once (None if it already
    exists) with its body built here, and queue delivery after commit. Call
    inside the transaction that finalizes the session. `first_of_kind`: the caller
    holds the row lock, has just finalized the session and saved it with its
    event_sequence raised for this event (see webhooks.event_record)."""
    event_id = uuid.uuid4()
    now = timezone.now()
    if not first_of_kind:
        # The UPDATE takes the row lock (if the caller does not hold it yet), so
        # concurrent events of one session get increasing numbers; gaps are possible.
        session.event_sequence = _event_sequence_next(session.pk)
    return webhooks.event_record(
        event_id=event_id,
        client_id=session.client_id,
        session_id=session.pk,
        kind=kind,
        payload=presenters.session_webhook_payload(session=session, kind=kind, event_id=event_id, created_at=now),
        webhook_url=session.webhook_url,
        now=now,
        is_test=session.is_test,
        first_of_kind=first_of_kind,
    )


_RESULT_FIELDS = {
    "full_name": "ocr_full_name",
    "id_number": "ocr_id_number",
    "id_number_back": "ocr_id_number_back",
    "address": "ocr_address",
    "gender": "ocr_gender",
    "nationality": "ocr_nationality",
    "date_of_birth": "date_of_birth",
    "document_valid": "document_valid",
    "name_match": "name_match",
    "id_match": "id_match",
    "front_back_match": "front_back_match",
    "landmark_valid": "landmark_valid",
    "face_match": "face_match",
    "face_match_score": "face_match_score",
    "liveness_passed": "liveness_passed",
    "reject_message": "reject_message",
    "raw": "raw_result",
}


# The row every provider result is applied to, compiled once per process (truestack/prepared.py).
_SESSION_LOCKED = PreparedRead(lambda pk: KycSession.objects.select_for_update().filter(pk=pk)[:1], "pk")


def session_apply_provider_result(
    *, session: KycSession, result: ProviderResult, via: str, first: Callable[[], None] | None = None
) -> tuple[KycSession, bool]:
    """Apply a provider result to `session` (an instance read by the caller; it
    is re-read under a row lock here). Idempotent: a final session never changes,
    and the charge and the event are unique in the DB. Returns (session, changed).
    `first` runs first in the same transaction (a callback marks itself processed).

    Outside any transaction on PostgreSQL, a completion's last writes (the tally and
    the charge) are sent with the COMMIT in one round trip; should the charge refuse
    there (its ordinal moved off the quote), all of it is rolled back and applied
    again with the charge made statement by statement."""
    now = timezone.now()
    image_paths = {}
    if result.status == KycSession.Status.COMPLETED and result.images and not session.is_final:
        # Heavy I/O before taking the row lock; paths are deterministic, so a
        # concurrent or later writer overwrites the same files.
        image_paths = store_images(session=session, images=result.images)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        try:
            return _apply(session, result, via, now, image_paths, first, commit_hot_rows=True)
        except _Refused:
            pass  # rolled back: nothing was written
    return _apply(session, result, via, now, image_paths, first, commit_hot_rows=False)


def _apply(session, result, via, now, image_paths, first, *, commit_hot_rows: bool) -> tuple[KycSession, bool]:
    # No savepoint when the caller has a transaction: an error here rolls the
    # caller's whole transaction back anyway.
    with transaction.atomic(savepoint=False):
        if first is not None:
            first()
        locked = _SESSION_LOCKED.get(pk=session.pk)
        if locked is None:
            raise KycSession.DoesNotExist(f"session {session.pk} does not exist")
        session = locked
        touched = ["updated_at"]
        if result.provider_status:  # empty when TrueStack itself expires the session
            session.provider_status = result.provider_status
            session.provider_result = result.provider_result
            touched += ["provider_status", "provider_result"]
        if via == "callback":
            session.last_callback_at = now
            touched.append("last_callback_at")
        else:
            session.last_provider_check_at = now
            touched.append("last_provider_check_at")
        if session.is_final or session.redaction_started:
            if image_paths and (session.redaction_started or session.status != KycSession.Status.COMPLETED):
                # Written before the lock for a session that will never show them
                # (redaction started, or already expired): remove them again.
                transaction.on_commit(partial(images_delete, session=session, paths=image_paths))
            return session, False

        changed = False
        if result.status == KycSession.Status.PROCESSING and session.status == KycSession.Status.PENDING:
            session.status = KycSession.Status.PROCESSING
            touched.append("status")
            changed = True
        elif result.status == KycSession.Status.COMPLETED:
            session.status = KycSession.Status.COMPLETED
            session.result = result.result
            session.completed_at = now
            for source, target in _RESULT_FIELDS.items():
                setattr(session, target, getattr(result, source))
            for kind, path in image_paths.items():
                setattr(session, kind, path)
            touched += ["status", "result", "completed_at", *_RESULT_FIELDS.values(), *image_paths]
            changed = True
        elif result.status == KycSession.Status.EXPIRED:
            session.status = KycSession.Status.EXPIRED
            touched.append("status")
            changed = True
        charge_reads = None
        if session.is_final and changed:
            # The event recorded below takes the next number, saved with the row.
            session.event_sequence += 1
            touched.append("event_sequence")
        if session.status == KycSession.Status.COMPLETED and changed:
            # The row and the event show what the charge below will cost (its quote),
            # so the client's hot rows are locked last, right before the commit.
            charge_reads = billing.session_charge_reads(session=session)
            if charge_reads is not None:
                session.billed_credits, session.billed_tier = charge_reads.quote
                session.billed_at = now
                touched += ["billed_credits", "billed_tier", "billed_at"]
        fields_save(session, touched)

        # The row is locked and has just become final: this is its first such event,
        # numbered above.
        event = None
        if session.status == KycSession.Status.COMPLETED and changed:
            event = session_event_record(session=session, kind=Event.Kind.SESSION_COMPLETED, first_of_kind=True)
        elif session.status == KycSession.Status.EXPIRED and changed:
            session_event_record(session=session, kind=Event.Kind.SESSION_EXPIRED, first_of_kind=True)

        if session.is_final and changed:
            # Last, the client's hot rows, in the order used everywhere (the tally, then
            # the credit account, as create does) so that they never deadlock.
            charge_call = (
                billing.session_charge_sql(session=session, reads=charge_reads, at=now)
                if commit_hot_rows and charge_reads is not None
                else None
            )
            if charge_call is not None:
                # Sent with the COMMIT. It costs exactly its quote, which the row and
                # the event already show.
                row = _execute_with_commit([_tally_release_sql(session), (charge_call.sql, charge_call.params)])
                billing.charge_call_logged(call=charge_call, row=row)
            else:
                _tally_add(client_id=session.client_id, delta=-1, is_test=session.is_test)
                if session.status == KycSession.Status.EXPIRED:
                    billing.hold_release(session=session)
                elif charge_reads is not None:
                    charge = billing.session_charge(session=session, session_locked=True, reads=charge_reads, at=now)
                    if charge is not None and (-charge.amount, charge.tier_name) != charge_reads.quote:
                        _charge_correct(session=session, charge=charge, event=event)
    if changed:
        logger.info("session %s -> %s via %s", session.id, session.status, via)
    return session, changed


def _charge_correct(*, session: KycSession, charge, event: Event | None) -> None:
    """A concurrent charge of the same client took the ordinal the quote was priced
    at and this one fell in another tier: the row and the event show what it cost."""
    session.billed_credits, session.billed_tier = -charge.amount, charge.tier_name
    KycSession.objects.filter(pk=session.pk).update(
        billed_credits=session.billed_credits, billed_tier=session.billed_tier
    )
    if event is not None:
        payload = json.loads(bytes(event.body))
        payload["data"]["billing"] = presenters.session_billing(session)
        webhooks.event_body_replace(event_id=event.pk, payload=payload)


def session_expire(*, session: KycSession) -> tuple[KycSession, bool]:
    """Expire an open session (no provider answer needed)."""
    expired = ProviderResult(
        status=KycSession.Status.EXPIRED, result=None, provider_status="", provider_result="", reject_message=None
    )
    return session_apply_provider_result(session=session, result=expired, via="expiry")


@dataclass
class RefreshOutcome:
    session: KycSession
    refreshed: bool
    raw: dict = field(default_factory=dict)
    message: str | None = None
    error: str | None = None


PROVIDER_CHECKS_KEPT = timedelta(days=1)


def _fetch_provider_result(session: KycSession, *, via: str) -> ProviderResult:
    ok = False
    try:
        body = client_for(is_test=session.is_test).get_status(
            ref_id=session.provider_ref_id, onboarding_id=session.onboarding_id, platform=session.platform, mode="2"
        )
        ok = True
    finally:
        ProviderCheck.objects.create(checked_at=timezone.now(), via=via, ok=ok)
    return parse_result(body, document_type=session.document_type)


def session_refresh(*, session: KycSession) -> RefreshOutcome:
    """Ask the provider for the latest state and apply it (client's POST /:id)."""
    if session.is_final:
        return RefreshOutcome(session=session, refreshed=False, message="Session already finalized")
    try:
        with provider_slot(is_test=session.is_test):  # ProviderBusy (503) passes through
            result = _fetch_provider_result(session, via="refresh")
    except ProviderBusy:
        raise
    except InnovatifError as exc:
        logger.warning("provider get-status failed session=%s code=%s", session.id, exc.code)
        return RefreshOutcome(session=session, refreshed=False, error="Failed to fetch status from provider")
    except Exception:
        logger.exception("provider get-status crashed session=%s", session.id)
        return RefreshOutcome(session=session, refreshed=False, error="Failed to fetch status from provider")
    try:
        session, _ = session_apply_provider_result(session=session, result=result, via="refresh")
    except DocumentStorageError:
        # Nothing was applied: the session stays open and the next refresh, poll or
        # callback retries with its images.
        return RefreshOutcome(
            session=session, refreshed=False, error="Could not store the session's documents; try again shortly"
        )
    return RefreshOutcome(session=session, refreshed=True, raw=result.raw)


def _claim_for_check(session: KycSession, now) -> bool:
    """Conditional update so concurrent pollers never check one session twice."""
    return bool(
        KycSession.objects.filter(
            pk=session.pk, last_provider_check_at=session.last_provider_check_at, status__in=KycSession.OPEN_STATUSES
        ).update(last_provider_check_at=now)
    )


def sessions_poll_stale(*, limit: int | None = None) -> int:
    """Poll open sessions that have had no callback for KYC_POLL_AFTER, so a lost
    callback still completes (and bills, and notifies)."""
    now = timezone.now()
    quiet_since = now - settings.KYC_POLL_AFTER
    candidates = (
        KycSession.objects.filter(status__in=KycSession.OPEN_STATUSES, created_at__lte=quiet_since, expires_at__gt=now)
        .exclude(provider_ref_id="")
        .exclude(last_callback_at__gt=quiet_since)
        .exclude(last_provider_check_at__gt=quiet_since)
        .order_by("last_provider_check_at", "created_at")[: limit or settings.KYC_POLL_BATCH_SIZE]
    )
    polled = 0
    failures = 0
    for session in candidates:
        # One session's unexpected failure must not cost the rest of the batch.
        try:
            if not _claim_for_check(session, now):
                continue
            try:
                result = _fetch_provider_result(session, via="poll")
            except InnovatifError as exc:
                logger.warning("poll failed session=%s code=%s", session.id, exc.code)
                continue
            session_apply_provider_result(session=session, result=result, via="poll")
            polled += 1
        except Exception as exc:  # noqa: BLE001 - logged by class only (no personal data), retried next run
            failures += 1
            logger.error("poll crashed session=%s error=%s", session.id, type(exc).__name__)
    if failures:
        logger.warning("poll: %s of the batch failed and will be retried", failures)
    ProviderCheck.objects.filter(checked_at__lt=now - PROVIDER_CHECKS_KEPT).delete()
    return polled


def sessions_fail_orphans() -> int:
    """Sessions whose provider call never finished (process died) are failed and
    their hold released."""
    count = 0
    stale = KycSession.objects.filter(
        status=KycSession.Status.PENDING, provider_ref_id="", created_at__lte=timezone.now() - ORPHAN_AFTER
    )
    for session in stale:
        _mark_failed(session=session, error="provider transaction never confirmed")
        count += 1
    return count


def sessions_expire_due(*, limit: int = 100) -> int:
    """Sessions past expires_at: one last provider check, then `expired`. If the
    provider cannot be asked, try again next run, up to EXPIRY_GRACE."""
    now = timezone.now()
    expired = 0
    due = KycSession.objects.filter(status__in=KycSession.OPEN_STATUSES, expires_at__lte=now).order_by("expires_at")[
        :limit
    ]
    failures = 0
    for session in due:
        try:
            expired += int(_session_expire_due(session=session, now=now))
        except Exception as exc:  # noqa: BLE001 - one session's failure must not cost the rest of the batch
            failures += 1
            logger.error("expiry crashed session=%s error=%s", session.id, type(exc).__name__)
    if failures:
        logger.warning("expiry: %s of the batch failed and will be retried", failures)
    return expired


def _session_expire_due(*, session: KycSession, now) -> bool:
    if session.provider_ref_id:
        if not _claim_for_check(session, now):
            return False
        try:
            result = _fetch_provider_result(session, via="expiry")
        except InnovatifError as exc:
            if now - session.expires_at < EXPIRY_GRACE:
                logger.warning("last check before expiry failed session=%s code=%s", session.id, exc.code)
                return False
        else:
            session, changed = session_apply_provider_result(session=session, result=result, via="expiry")
            if session.is_final:
                return changed
    _, changed = session_expire(session=session)
    return changed
