"""The client API's response shapes (plain dicts: they are on the hot path)."""

from decimal import Decimal

from truestack.formats import iso_utc as iso
from truestack.formats import without_separators

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


def session_billing(session: KycSession) -> dict | None:
    """What the session cost (`null`: test mode, not completed, or not billed)."""
    if session.billed_credits is None:
        return None
    return {"credits": session.billed_credits, "tier": session.billed_tier, "billed_at": iso(session.billed_at)}


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


def session_detail(session: KycSession) -> dict:
    body = session_summary(session)
    body["billing"] = session_billing(session)
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
    body["billing"] = session_billing(session)
    if outcome.message:
        body["message"] = outcome.message
    body["document"] = _document(session)
    body["verification"] = _verification(session)
    body["images"] = image_urls(session)
    if outcome.refreshed:
        body["_raw"] = outcome.raw
    return body
