"""Every shape a client sees of a session, in one place: the API answers and the
webhook body (plain dicts: they are on the hot path). The webhooks app receives
the webhook body ready-made and only stores, signs and delivers it."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from truestack.formats import iso_utc as iso
from truestack.formats import without_separators
from webhooks.models import Event

from .documents import document_endpoint_urls, image_urls
from .models import KycSession
from .privacy import shown


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


def session_billing(session: KycSession) -> dict | None:
    """What the session cost (`null`: test mode, not completed, or not billed)."""
    if session.billed_credits is None:
        return None
    return {"credits": session.billed_credits, "tier": session.billed_tier, "billed_at": iso(session.billed_at)}


def _redaction(session: KycSession) -> dict:
    """Present only once a redaction was asked for: the promised shapes stay as they were."""
    if not session.redaction_started:
        return {}
    return {"redacted": session.is_redacted, "redaction": session.redaction_state}


def session_summary(session: KycSession) -> dict:
    """The GET /:id shape without OCR and documents (also the listing item)."""
    session = shown(session)
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
        **_redaction(session),
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
    "is_test",
    "reject_message",
    "document_valid",
    "name_match",
    "id_match",
    "front_back_match",
    "landmark_valid",
    "face_match",
    "face_match_score",
    "liveness_passed",
    "billed_credits",
    "billed_tier",
    "billed_at",
    "redaction_state",
)


def session_detail(session: KycSession) -> dict:
    session = shown(session)
    body = session_summary(session)
    body["billing"] = session_billing(session)
    if session.status == KycSession.Status.COMPLETED:
        body["ocr_result"] = {
            "name": session.ocr_full_name or None,
            "id_number": without_separators(session.ocr_id_number) if session.ocr_id_number else None,
            "address": session.ocr_address or None,
        }
        body["documents"] = document_endpoint_urls(session)
        # The same two fields refresh gives, so a client learns why without asking the provider.
        body["reject_message"] = session.reject_message
        body["verification"] = _verification(session)
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
    session = shown(outcome.session)
    body = {
        "id": str(session.id),
        "ref_id": session.ref_id,
        "status": session.status,
        "result": session.result,
        "reject_message": session.reject_message,
        "refreshed": outcome.refreshed,
        **_redaction(session),
    }
    if outcome.error:
        body["error"] = outcome.error
        return body
    body["billing"] = session_billing(session)
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
    """The webhook body as in docs/client-api.md ("Webhook Payload"), plus a top-level `id`,
    `sequence` and `data.updated_at` (ordering, docs/webhooks.md), `data.billing` and, once
    redacted, `data.redacted`. After a redaction the stored bodies are rebuilt from the redacted session."""
    session = shown(session)
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
    payload: dict[str, Any] = {
        "id": str(event_id),
        "event": str(kind),
        "timestamp": iso(created_at),
        "data": {
            "session_id": str(session.id),
            "ref_id": session.ref_id,
            "status": session.status,
            "result": session.result if completed or kind == Event.Kind.SESSION_REDACTED else None,
            "document_name": session.document_name,
            "document_number": session.document_number,
            "ocr_data": ocr_data,
            "face_match_score": _face_match_score(session.face_match_score) if completed else None,
            "liveness_score": _liveness_score(session.liveness_passed) if completed else None,
            "metadata": session.metadata if session.metadata is not None else {},
            # Additive (docs/webhooks.md "Ordering"): the session's last change.
            "updated_at": iso(session.updated_at),
        },
        # Additive: per-session event number, increasing; a receiver ignores lower ones.
        "sequence": session.event_sequence,
    }
    _add_billing(payload["data"], session=session, completed=completed)
    if kind == Event.Kind.SESSION_REDACTED or session.is_redacted:
        payload["data"]["redacted"] = True  # absent before: the promised bodies stay as they were
    return payload


def session_webhook_payload_redacted(
    *, session: KycSession, event_kind: str, event_id: uuid.UUID, created_at: datetime, current: dict
) -> dict:
    """A stored event's body rebuilt from the redacted session. What describes the
    event rather than the person (its `sequence`, the session's `updated_at` and
    `billing` as they were then) is kept from the body first recorded."""
    payload = session_webhook_payload(session=session, kind=event_kind, event_id=event_id, created_at=created_at)
    for key in ("sequence",):
        if key in current:
            payload[key] = current[key]
        else:
            payload.pop(key, None)
    for key in ("updated_at", "billing"):
        if key in current.get("data", {}):
            payload["data"][key] = current["data"][key]
        else:
            payload["data"].pop(key, None)
    return payload


def _add_billing(data: dict, *, session: KycSession, completed: bool) -> None:
    """`billing`: what a completed session cost; null for test mode and expiry.
    Left out for a live session completed without a recorded charge (sessions
    finished before charges were stored on them), so those bodies are unchanged."""
    if completed and session.billed_credits is not None:
        data["billing"] = session_billing(session)
    elif session.is_test or not completed:
        data["billing"] = None


SAMPLE_SESSION_ID = "00000000-0000-0000-0000-000000000000"


def session_webhook_sample(*, event_id: uuid.UUID, created_at: datetime) -> dict:
    """A `kyc.session.completed` body for POST /api/v1/events/test: the real shape,
    invented values, marked `"sample": true` (no session, nothing billed)."""
    return {
        "id": str(event_id),
        "event": str(Event.Kind.SESSION_COMPLETED),
        "timestamp": iso(created_at),
        "data": {
            "session_id": SAMPLE_SESSION_ID,
            "ref_id": "SAMPLE",
            "status": KycSession.Status.COMPLETED.value,
            "result": KycSession.Result.APPROVED.value,
            "document_name": "SAMPLE PERSON",
            "document_number": "000000-00-0000",
            "ocr_data": {
                "name": "SAMPLE PERSON",
                "ic_number": "000000000000",
                "address": "SAMPLE ADDRESS",
                "gender": None,
                "nationality": None,
                "date_of_birth": None,
            },
            "face_match_score": 0.95,
            "liveness_score": 1.0,
            "metadata": {"sample": True},
            "updated_at": iso(created_at),
            "billing": None,
        },
        "sequence": 1,
        "sample": True,
    }
