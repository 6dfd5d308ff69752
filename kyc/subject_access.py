"""A data subject's access request: everything TrueStack holds about one ID
number, as a zip (JSON + images), with one access-log row per session."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Replace

from truestack.formats import iso_utc

from .models import KycSession, PersonalDataAccess
from .privacy import digits_only, personal_data_access_record


def _digits(field: str) -> Replace:
    return Replace(Replace(Replace(F(field), Value("-"), Value("")), Value(" "), Value("")), Value("/"), Value(""))


def sessions_for_id_number(*, id_number: str) -> QuerySet[KycSession]:
    """Sessions whose requested or read (OCR) document number equals `id_number`,
    comparing digits and letters only (dashes, spaces and slashes ignored)."""
    wanted = "".join(ch for ch in id_number if ch.isalnum()).upper()
    if not wanted:
        return KycSession.objects.none()
    return (
        KycSession.objects.annotate(_number=_digits("document_number"), _ocr=_digits("ocr_id_number"))
        .filter(Q(_number__iexact=wanted) | Q(_ocr__iexact=wanted))
        .select_related("client")
        .order_by("created_at")
    )


def _iso(value: Any) -> str | None:
    return iso_utc(value) if value else None


def _session_record(session: KycSession) -> dict[str, Any]:
    return {
        "session_id": str(session.id),
        "client": {"code": session.client.code, "name": session.client.name},
        "created_at": _iso(session.created_at),
        "completed_at": _iso(session.completed_at),
        "status": session.status,
        "result": session.result,
        "redaction": session.redaction_state or None,
        "redacted_at": _iso(session.redacted_at),
        "images_removed_at": _iso(session.images_removed_at),
        "requested": {
            "document_name": session.document_name,
            "document_number": session.document_number,
            "document_type": session.get_document_type_display(),
            "metadata": session.metadata,
        },
        "read_from_the_document": {
            "full_name": session.ocr_full_name,
            "id_number": session.ocr_id_number,
            "id_number_back": session.ocr_id_number_back,
            "address": session.ocr_address,
            "gender": session.ocr_gender,
            "nationality": session.ocr_nationality,
            "date_of_birth": session.date_of_birth.isoformat() if session.date_of_birth else None,
        },
        "verification": {
            "document_valid": session.document_valid,
            "name_match": session.name_match,
            "id_match": session.id_match,
            "front_back_match": session.front_back_match,
            "landmark_valid": session.landmark_valid,
            "face_match": session.face_match,
            "face_match_score": str(session.face_match_score) if session.face_match_score is not None else None,
            "liveness_passed": session.liveness_passed,
            "reject_message": session.reject_message,
        },
        "provider_result": session.raw_result,
        "images": [kind for kind in KycSession.DOCUMENT_KINDS if getattr(session, kind)],
        "accessed_by_staff": [
            {"at": _iso(row.at), "who": row.username or "(system)", "what": row.what}
            for row in session.personal_data_accesses.order_by("at")
        ],
    }


def subject_access_export(*, id_number: str, out: Path, operator: Any, reason: str = "") -> int:
    """Write the zip to `out`; returns the number of sessions found. Every session
    exported gets a `subject_access` row naming the operator."""
    sessions = list(sessions_for_id_number(id_number=id_number))
    masked = f"…{digits_only(id_number)[-4:]}"  # the log keeps no full number
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        records = []
        for session in sessions:
            records.append(_session_record(session))
            for kind in KycSession.DOCUMENT_KINDS:
                path = getattr(session, kind)
                if not path:
                    continue
                try:
                    with default_storage.open(path, "rb") as handle:
                        archive.writestr(f"sessions/{session.id}/{kind}.jpg", handle.read())
                except FileNotFoundError:
                    continue
        summary = {"id_number": id_number, "sessions": records}
        archive.writestr("subject.json", json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    detail = f"subject access export ({len(sessions)} sessions, number ending {masked})"
    if reason:
        detail += f": {reason}"
    for session in sessions:
        personal_data_access_record(
            user=operator, what=PersonalDataAccess.What.SUBJECT_ACCESS, session=session, detail=detail
        )
    if not sessions:
        personal_data_access_record(user=operator, what=PersonalDataAccess.What.SUBJECT_ACCESS, detail=detail)
    return len(sessions)
