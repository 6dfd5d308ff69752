"""The provider sandbox: an imitation of the Innovatif gateway over the real
protocol (kyc/innovatif/crypto.py), with transactions in its own table.

Codes here are the provider's (status 0..3, result "0"/"1"/"2", provider document
types). Callbacks are sent synchronously after the sandbox's own write commits.
"""

from __future__ import annotations

import base64
import hmac
import io
import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from django.conf import settings
from django.db import IntegrityError, connection
from django.db import transaction as db_transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from kyc.innovatif.client import ProcessSession
from kyc.innovatif.credentials import Credentials, credentials_sandbox
from kyc.innovatif.crypto import (
    PROVIDER_TIME_ZONE,
    REQUEST_TIME_FORMAT,
    EnvelopeError,
    open_envelope,
    request_time_now,
    seal,
)
from truestack.prepared import PreparedRead

from . import specimens
from .models import SandboxTransaction

logger = logging.getLogger(__name__)

URL_EXPIRY = timedelta(minutes=300)
CALLBACK_TIMEOUT = (5.0, 15.0)
# A callback is safe to send again (TrueStack stores each and applies it once), so one
# that failed on the way, such as on a kept-alive connection the receiver closed just
# as it was reused, is sent once more rather than lost. One pooled connection per
# sending thread (gunicorn's 16 in the benchmark), so none is opened and dropped.
CALLBACK_RETRY = Retry(total=1, connect=1, read=1, redirect=0, status=0, other=0, allowed_methods=None)
callback_session = ProcessSession(lambda: HTTPAdapter(pool_maxsize=32, max_retries=CALLBACK_RETRY))
MAX_CALLBACKS_PER_CALL = 20
MAX_UPLOAD_BYTES = 10 * 1024 * 1024

PLATFORMS = ("Web", "iOS", "Android")
DOCUMENT_TYPES = tuple(str(code) for code in range(1, 15))
OUTCOMES = ("approved", "rejected", "expired")

ERROR_MESSAGES = {
    "100": "Missing Parameter",
    "101": "Invalid API Key",
    "102": "Invalid Package Name",
    "103": "Invalid Ref ID",
    "104": "Invalid Security Token",
    "105": "Service not available, please try again later",
    "400": "Bad request. Encrypt Failed",
    "401": "Invalid Credential",
}
EXPIRED_MESSAGE = "Session expired and onboarding process not finished"
DEFAULT_REJECT_MESSAGE = "Step 2 failed"

CREATE_REQUIRED = (
    "api_key",
    "package_name",
    "ref_id",
    "document_name",
    "document_number",
    "platform",
    "signature",
    "response_url",
    "callback_mode",
    "request_time",
)
STATUS_REQUIRED = (
    "api_key",
    "package_name",
    "ref_id",
    "onboarding_id",
    "platform",
    "signature",
    "request_time",
    "mode",
)


class SandboxRefusal(Exception):
    def __init__(self, code: str, detail: str | None = None):
        self.code = code
        self.description = ERROR_MESSAGES[code] + (f": {detail}" if detail else "")
        super().__init__(self.description)

    def as_body(self) -> dict:
        return {"message": "Failed", "error_code": self.code, "description": self.description}


class TransactionFinished(Exception):
    """The transaction already reached a final status."""


class ServiceUnavailable(Exception):
    """SANDBOX_REFUSE_CONNECTIONS: answer like a gateway that is down."""


def ref_prefix(credentials: Credentials | None = None) -> str:
    """The package's "username", prepended to our ref ids by the provider."""
    return (credentials or credentials_sandbox()).package_name.replace(".", "_")


def provider_time(value) -> str:
    return timezone.localtime(value, PROVIDER_TIME_ZONE).strftime(REQUEST_TIME_FORMAT)


# --- gateway (create-transaction / get-status) ------------------------------------


def gateway_faults() -> None:
    """Apply the fault knobs, read at request time."""
    if settings.SANDBOX_REFUSE_CONNECTIONS:
        raise ServiceUnavailable()
    latency_ms = settings.SANDBOX_LATENCY_MS
    if latency_ms > 0:
        time.sleep(min(latency_ms, 120_000) / 1000)
    rate = settings.SANDBOX_FAILURE_RATE
    if rate > 0 and random.random() < rate:  # noqa: S311 - fault injection, not security
        raise SandboxRefusal("105")


def _open_request(envelope) -> tuple[dict, Credentials]:
    credentials = credentials_sandbox()
    if not isinstance(envelope, dict):
        raise SandboxRefusal("400")
    if envelope.get("api_key") in (None, ""):
        raise SandboxRefusal("100", "api_key")
    if not isinstance(envelope["api_key"], str) or not hmac.compare_digest(
        envelope["api_key"].encode(), credentials.api_key.encode()
    ):
        raise SandboxRefusal("101")
    try:
        params = open_envelope(envelope, credentials)
    except EnvelopeError:
        raise SandboxRefusal("400") from None
    if not hmac.compare_digest(str(params.get("api_key", "")).encode(), credentials.api_key.encode()):
        raise SandboxRefusal("101") if params.get("api_key") else SandboxRefusal("100", "api_key")
    return params, credentials


def _require(params: dict, names: tuple[str, ...]) -> None:
    missing = [name for name in names if params.get(name) in (None, "")]
    if missing:
        raise SandboxRefusal("100", ", ".join(missing))


def _check_package_and_signature(params: dict, credentials: Credentials, *, ref_id: str) -> None:
    if params["package_name"] != credentials.package_name:
        raise SandboxRefusal("102")
    expected = credentials.sign(ref_id=ref_id, request_time=str(params["request_time"]))
    if not hmac.compare_digest(expected.encode(), str(params["signature"]).encode()):
        raise SandboxRefusal("104")


def gateway_create_transaction(*, envelope) -> dict:
    params, credentials = _open_request(envelope)
    _require(params, CREATE_REQUIRED)
    _check_package_and_signature(params, credentials, ref_id=str(params["ref_id"]))

    ref_id = str(params["ref_id"])
    if len(ref_id) > 32:
        raise SandboxRefusal("103", "ref_id longer than 32 characters")
    document_type = str(params.get("document_type") or "1")
    platform = str(params["platform"])
    callback_mode = str(params["callback_mode"])
    response_mode = str(params.get("response_mode") or "0")
    response_url = str(params["response_url"])
    backend_url = str(params.get("backend_url") or "")
    if document_type not in DOCUMENT_TYPES:
        raise SandboxRefusal("100", "document_type")
    if platform not in PLATFORMS:
        raise SandboxRefusal("100", "platform")
    if callback_mode not in ("0", "1", "2"):
        raise SandboxRefusal("100", "callback_mode")
    if response_mode not in ("0", "1"):
        raise SandboxRefusal("100", "response_mode")
    if not response_url.startswith(("http://", "https://")):
        raise SandboxRefusal("100", "response_url")
    if len(str(params["document_name"])) > 100 or len(str(params["document_number"])) > 32:
        raise SandboxRefusal("100", "document_name or document_number too long")

    provider_ref_id = ref_prefix(credentials) + ref_id
    now = timezone.now()
    try:
        with db_transaction.atomic():
            txn = SandboxTransaction.objects.create(
                provider_ref_id=provider_ref_id,
                ref_id=ref_id,
                document_name=str(params["document_name"]),
                document_number=str(params["document_number"]),
                document_type=document_type,
                platform=platform,
                response_url=response_url,
                backend_url=backend_url,
                callback_mode=callback_mode,
                response_mode=response_mode,
                expired_at=now + URL_EXPIRY,
            )
    except IntegrityError:
        raise SandboxRefusal("103", "duplicate ref_id") from None
    logger.info("sandbox create-transaction ref_id=%s onboarding_id=%s", ref_id, txn.onboarding_id)
    return {
        "api_key": credentials.api_key,
        "package_name": credentials.package_name,
        "ref_id": txn.provider_ref_id,
        "onboarding_id": txn.onboarding_id,
        "onboarding_url": onboarding_url(txn),
        "expired_at": provider_time(txn.expired_at),
    }


def gateway_get_status(*, envelope) -> dict:
    params, credentials = _open_request(envelope)
    _require(params, STATUS_REQUIRED)
    _check_package_and_signature(params, credentials, ref_id=str(params["ref_id"]))
    mode = str(params["mode"])
    if mode not in ("1", "2"):
        raise SandboxRefusal("100", "mode")
    txn = SandboxTransaction.objects.filter(
        provider_ref_id=str(params["ref_id"]), onboarding_id=str(params["onboarding_id"])
    ).first()
    if txn is None:
        raise SandboxRefusal("103")
    if transaction_expire_if_due(transaction=txn):
        txn.refresh_from_db()
    return result_body(txn, detail=mode == "2", credentials=credentials, mode=int(mode))


def sealed_answer(data: dict) -> dict:
    credentials = credentials_sandbox()
    return {"success": True, "data": seal(data, credentials)["data"]}


# --- results -------------------------------------------------------------------------


def onboarding_url(txn: SandboxTransaction) -> str:
    return f"{settings.PUBLIC_BASE_URL}/sandbox/innovatif/onboarding/{txn.onboarding_id}"


def _ocr(txn: SandboxTransaction) -> dict:
    number = txn.document_number
    is_mykad = txn.document_type == "1"
    last = number.strip()[-1:] if number.strip() else ""
    gender = ""
    if is_mykad and last.isdigit():
        gender = "LELAKI" if int(last) % 2 else "PEREMPUAN"
    ocr = {
        "full_name": txn.document_name.upper(),
        "front_document_number": number,
        "address": "NO 12, JALAN SANDBOX 3/1, TAMAN CONTOH, 50000 KUALA LUMPUR, W.P. KUALA LUMPUR",
        "gender": gender,
        "back_document_number": f"{number}-04-01" if is_mykad else "",
        "nationality": "WARGANEGARA" if is_mykad else "MYS",
    }
    return ocr


def _steps(txn: SandboxTransaction) -> tuple[dict | None, dict | None]:
    if txn.status != SandboxTransaction.Status.COMPLETED:
        return None, None
    approved = txn.result == SandboxTransaction.Result.APPROVED
    step1 = {
        "status": approved,
        "ocr_result": _ocr(txn),
        "text_similarity_result": {
            "name_similarity_status": True,
            "document_number_similarity_status": approved,
            "front_back_number_similarity_status": approved,
        },
        "landmark_status": {
            "landmark_is_valid": approved,
            "labelcheck_result": True,
            "materialcheck_result": approved,
        },
        "attempt": 1,
        "updated_at": int(txn.finished_at.timestamp()) if txn.finished_at else None,
    }
    step2 = {
        "status": True,
        "is_identical": approved,
        "percentage": "95.12" if approved else "41.30",
        "attempt": 1,
        "updated_at": int(txn.finished_at.timestamp()) if txn.finished_at else None,
    }
    return step1, step2


def transaction_images(txn: SandboxTransaction) -> dict[str, bytes]:
    """The four images of a finished transaction: uploads if given, else specimens."""
    back_number = f"{txn.document_number}-04-01" if txn.document_type == "1" else txn.document_number
    return {
        "front_document_image": bytes(txn.front_image)
        if txn.front_image
        else specimens.front_document(txn.document_name, txn.document_number),
        "back_document_image": bytes(txn.back_image) if txn.back_image else specimens.back_document(back_number),
        "face_image": specimens.face_image(),
        "best_frame": specimens.best_frame(),
    }


def result_body(
    txn: SandboxTransaction, *, detail: bool, credentials: Credentials | None = None, mode: int = 1
) -> dict:
    """The get-status shape, signed over the prefixed ref id (callbacks use it too)."""
    credentials = credentials or credentials_sandbox()
    request_time = request_time_now()
    step1, step2 = _steps(txn)
    body = {
        "api_key": credentials.api_key,
        "package_name": credentials.package_name,
        "ref_id": txn.provider_ref_id,
        "mode": mode,
        "onboarding_id": txn.onboarding_id,
        "request_time": request_time,
        "signature": credentials.sign(ref_id=txn.provider_ref_id, request_time=request_time),
        "status": int(txn.status),
        "result": int(txn.result) if txn.result is not None else None,
        "reject_message": txn.reject_message,
        "step1": step1,
        "step2": step2,
    }
    if detail and txn.status == SandboxTransaction.Status.COMPLETED:
        for name, data in transaction_images(txn).items():
            body[name] = base64.b64encode(data).decode("ascii")
    return body


def redirect_url(txn: SandboxTransaction) -> str:
    """response_url, with the status in the query when response_mode is 1."""
    if txn.response_mode != "1":
        return txn.response_url
    parts = urlsplit(txn.response_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [
        ("status", str(int(txn.status))),
        ("result", txn.result if txn.result is not None else ""),
        ("ref_id", txn.provider_ref_id),
        ("onboarding_id", txn.onboarding_id),
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


# --- transaction life cycle ------------------------------------------------------------


def transaction_open(*, transaction: SandboxTransaction) -> bool:
    """URL opened: 0 -> 1, once; a status-1 callback follows the commit."""
    with db_transaction.atomic():
        changed = SandboxTransaction.objects.filter(
            pk=transaction.pk, status=SandboxTransaction.Status.NOT_OPENED
        ).update(status=SandboxTransaction.Status.PROCESSING, opened_at=timezone.now())
        if changed:
            db_transaction.on_commit(lambda: callbacks_send(transaction_id=transaction.pk))
    return bool(changed)


# The reads of every completion, compiled once per process (truestack/prepared.py).
_BY_PK = PreparedRead(lambda pk: SandboxTransaction.objects.filter(pk=pk)[:1], numbers=("pk",))
_BY_ONBOARDING_ID = PreparedRead(
    lambda onboarding_id: SandboxTransaction.objects.filter(onboarding_id=onboarding_id)[:1], text=("onboarding_id",)
)


def transaction_by_onboarding_id(onboarding_id: str) -> SandboxTransaction | None:
    return _BY_ONBOARDING_ID.get(onboarding_id=onboarding_id)


def transaction_expire_if_due(*, transaction: SandboxTransaction) -> bool:
    """Past expired_at and still open: -> 3 with an expiry callback."""
    now = timezone.now()
    if transaction.expired_at > now:
        # expired_at never changes, so the row just read tells: not due, nothing to write.
        return False
    with db_transaction.atomic():
        changed = SandboxTransaction.objects.filter(
            pk=transaction.pk, status__in=SandboxTransaction.OPEN_STATUSES, expired_at__lte=now
        ).update(
            status=SandboxTransaction.Status.EXPIRED,
            result=SandboxTransaction.Result.NOT_AVAILABLE,
            reject_message=EXPIRED_MESSAGE,
            finished_at=now,
        )
        if changed:
            db_transaction.on_commit(lambda: callbacks_send(transaction_id=transaction.pk))
    return bool(changed)


def transaction_finish(
    *,
    transaction: SandboxTransaction,
    outcome: str,
    reject_message: str | None = None,
    callbacks: int = 1,
    send_callback: bool = True,
    front_image: bytes | None = None,
    back_image: bytes | None = None,
) -> SandboxTransaction:
    """Finish an open transaction with the tester's outcome, then (after commit)
    send `callbacks` identical-in-substance callbacks, or none to simulate a lost one."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    now = timezone.now()
    if outcome == "expired":
        values = {
            "status": SandboxTransaction.Status.EXPIRED,
            "result": SandboxTransaction.Result.NOT_AVAILABLE,
            "reject_message": EXPIRED_MESSAGE,
        }
    elif outcome == "approved":
        values = {
            "status": SandboxTransaction.Status.COMPLETED,
            "result": SandboxTransaction.Result.APPROVED,
            "reject_message": None,
        }
    else:
        values = {
            "status": SandboxTransaction.Status.COMPLETED,
            "result": SandboxTransaction.Result.REJECTED,
            "reject_message": (reject_message or "").strip()[:255] or DEFAULT_REJECT_MESSAGE,
        }
    if front_image:
        values["front_image"] = front_image
    if back_image:
        values["back_image"] = back_image
    count = max(0, min(int(callbacks), MAX_CALLBACKS_PER_CALL)) if send_callback else 0

    with db_transaction.atomic():
        changed = SandboxTransaction.objects.filter(
            pk=transaction.pk, status__in=SandboxTransaction.OPEN_STATUSES
        ).update(finished_at=now, **values)
        if not changed:
            raise TransactionFinished()
        if count:
            db_transaction.on_commit(lambda: callbacks_send(transaction_id=transaction.pk, count=count))
        elif send_callback is False:
            SandboxTransaction.objects.filter(pk=transaction.pk).update(
                callback_last_error="not sent: send_callback was false (lost callback rehearsal)"
            )
    # As it now stands: with the callbacks just sent (on commit) recorded.
    return _BY_PK.get(pk=transaction.pk) or transaction


# --- callbacks --------------------------------------------------------------------------


def callback_target_allowed(url: str) -> bool:
    """Only URLs under SANDBOX_CALLBACK_URL_PREFIX (the sandbox must not become an open relay)."""
    prefix = settings.SANDBOX_CALLBACK_URL_PREFIX.rstrip("/")
    if not prefix or not url:
        return False
    return url == prefix or url.startswith((prefix + "/", prefix + "?"))


def _record_callback(txn_id: int, *, status_code: int | None, error: str, sent: bool) -> None:
    # One statement written once (every callback sent records itself); the count is
    # raised in the database, so concurrent sends of one transaction all count.
    table = SandboxTransaction._meta.db_table
    at = SandboxTransaction._meta.get_field("callback_last_at").get_db_prep_value(timezone.now(), connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET callback_last_status = %s, callback_last_error = %s, callback_last_at = %s, "  # noqa: S608 - table name from the model
            "callback_count = callback_count + %s WHERE id = %s",
            [status_code, error[:255], at, 1 if sent else 0, txn_id],
        )


@dataclass
class CallbackOutcome:
    status_code: int | None
    error: str


def callbacks_send(*, transaction_id: int, count: int = 1) -> list[CallbackOutcome]:
    """POST the encrypted, signed callback `count` times to backend_url (in the
    transaction's callback_mode), recording each outcome on the transaction."""
    txn = _BY_PK.get(pk=transaction_id)
    if txn is None:
        return []
    if txn.callback_mode == "0" or not txn.backend_url:
        _record_callback(txn.pk, status_code=None, error="not sent: callback_mode 0 or no backend_url", sent=False)
        return []
    if not callback_target_allowed(txn.backend_url):
        _record_callback(
            txn.pk, status_code=None, error="not sent: backend_url outside SANDBOX_CALLBACK_URL_PREFIX", sent=False
        )
        logger.warning("sandbox callback not sent (target not allowed) onboarding_id=%s", txn.onboarding_id)
        return []

    credentials = credentials_sandbox()
    outcomes = []
    for _ in range(count):
        body = result_body(txn, detail=txn.callback_mode == "2", credentials=credentials, mode=int(txn.callback_mode))
        envelope = seal(body, credentials)
        try:
            response = callback_session().post(
                txn.backend_url, json=envelope, timeout=CALLBACK_TIMEOUT, allow_redirects=False
            )
            outcome = CallbackOutcome(
                response.status_code, "" if response.status_code < 400 else f"HTTP {response.status_code}"
            )
        except requests.RequestException as exc:
            outcome = CallbackOutcome(None, f"not delivered: {type(exc).__name__}")
        _record_callback(txn.pk, status_code=outcome.status_code, error=outcome.error, sent=True)
        logger.info(
            "sandbox callback onboarding_id=%s status=%s http=%s", txn.onboarding_id, txn.status, outcome.status_code
        )
        outcomes.append(outcome)
    return outcomes


# --- uploads ----------------------------------------------------------------------------


def upload_to_jpeg(upload) -> bytes | None:
    """A tester's uploaded picture re-encoded as a small JPEG; None if unusable."""
    if upload is None or getattr(upload, "size", 0) > MAX_UPLOAD_BYTES:
        return None
    try:
        with Image.open(upload) as image:
            image.thumbnail((1024, 1024))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=75)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
