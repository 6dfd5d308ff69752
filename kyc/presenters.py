"""Every shape a client sees of a session, in one place: the API answers and the
webhook body (plain dicts: they are on the hot path). The webhooks app receives
the webhook body ready-made and only stores, signs and delivers it."""

import uuid
from datetime import datetime
from decimal import Decimal

from truestack.formats import iso_utc as iso
from truestack.formats import without_separators
from webhooks.models import Event

from .documents import document_endpoint_urls, image_urls
from .models import KycSession


def _score(value: Decimal | None):
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def session_created(session: KycSession) -> dict:
    return {
        "id": str(session.id),
        "onboarding_url": session.onboarding_url,
        "expires_at": iso(session.expires_at),
        "status": session.status,
    }


def session_summary(session: KycSession) -> dict:
    """The GET /:id shape without OCR and documents (also the listing item)."""
    return {
        "id": str(session.id),
        "status": session.status,
        "result": session.result,
        "document_name": session.document_name,
        "document_number": session.document_number,
        "document_type": session.document_type,
        "metadata": session.metadata,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
        "expires_at": iso(session.expires_at),
    }


# The columns session_detail reads (GET /:id loads only these). A field added to
# session_summary or session_detail goes here too; the pinned GET query count
# catches one that is missing (it would be loaded by a second query).
SESSION_DETAIL_FIELDS = (
    "id",
    "client_id",
    "status",
    "result",
    "document_name",
    "document_number",
    "document_type",
    "metadata",
    "created_at",
    "updated_at",
    "expires_at",
    "ocr_full_name",
    "ocr_id_number",
    "ocr_address",
    *KycSession.DOCUMENT_KINDS,
)


def session_detail(session: KycSession) -> dict:
    body = session_summary(session)
    if session.status == KycSession.Status.COMPLETED:
        body["ocr_result"] = {
            "name": session.ocr_full_name or None,
            "id_number": without_separators(session.ocr_id_number) if session.ocr_id_number else None,
            "address": session.ocr_address or None,
        }
        body["documents"] = document_endpoint_urls(session)
    return body


def _document(session: KycSession) -> dict:
    return {
        "full_name": session.ocr_full_name or None,
        "id_number": session.ocr_id_number or None,
        "id_number_back": session.ocr_id_number_back or None,
        "address": session.ocr_address or None,
        "gender": session.ocr_gender or None,
    }


def _verification(session: KycSession) -> dict:
    return {
        "document_valid": session.document_valid,
        "name_match": session.name_match,
        "id_match": session.id_match,
        "front_back_match": session.front_back_match,
        "landmark_valid": session.landmark_valid,
        "face_match": session.face_match,
        "face_match_score": _score(session.face_match_score),
        "liveness_passed": session.liveness_passed,
    }


def session_refreshed(outcome) -> dict:
    session = outcome.session
    body = {
        "id": str(session.id),
        "ref_id": session.ref_id,
        "status": session.status,
        "result": session.result,
        "reject_message": session.reject_message,
        "refreshed": outcome.refreshed,
    }
    if outcome.error:
        body["error"] = outcome.error
        return body
    if outcome.message:
        body["message"] = outcome.message
    body["document"] = _document(session)
    body["verification"] = _verification(session)
    body["images"] = image_urls(session)
    if outcome.refreshed:
        body["_raw"] = outcome.raw
    return body


# --- the webhook body ---------------------------------------------------------------


def _blank_to_none(value):
    return value if value not in ("", None) else None


def _face_match_score(value) -> float | None:
    if value is None:
        return None
    return float(round(Decimal(value) / 100, 4))


def _liveness_score(passed: bool | None) -> float | None:
    # The provider reports liveness as pass/fail, not a score.
    if passed is None:
        return None
    return 1.0 if passed else 0.0


def session_webhook_payload(*, session: KycSession, kind: str, event_id: uuid.UUID, created_at: datetime) -> dict:
    """The webhook body as in docs/client-api.md ("Webhook Payload"), plus a top-level `id`."""
    completed = kind == Event.Kind.SESSION_COMPLETED
    ocr_data = None
    if completed:
        ic_number = without_separators(session.ocr_id_number or "")
        ocr_data = {
            "name": _blank_to_none(session.ocr_full_name),
            "ic_number": _blank_to_none(ic_number),
            "address": _blank_to_none(session.ocr_address),
            "gender": _blank_to_none(session.ocr_gender),
            "nationality": _blank_to_none(session.ocr_nationality),
            "date_of_birth": session.date_of_birth.isoformat() if session.date_of_birth else None,
        }
    return {
        "id": str(event_id),
        "event": str(kind),
        "timestamp": iso(created_at),
        "data": {
            "session_id": str(session.id),
            "ref_id": session.ref_id,
            "status": session.status,
            "result": session.result if completed else None,
            "document_name": session.document_name,
            "document_number": session.document_number,
            "ocr_data": ocr_data,
            "face_match_score": _face_match_score(session.face_match_score) if completed else None,
            "liveness_score": _liveness_score(session.liveness_passed) if completed else None,
            "metadata": session.metadata if session.metadata is not None else {},
        },
    }
