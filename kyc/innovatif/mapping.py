"""Translation between TrueStack's vocabulary and the provider's.

``parse_result`` turns a get-status / callback body into a ``ProviderResult``.
It is deliberately forgiving (missing keys, ``"true"``/``"1"`` strings, numbers as
strings) because the same body arrives by callback, by refresh and by polling and a
malformed field must not lose the whole result; only a body that is not a JSON
object raises ``ResultFormatError``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from .crypto import PROVIDER_TIME_ZONE

# Our document_type -> provider document_type (provider "2" is MyTentera).
DOCUMENT_TYPE_TO_PROVIDER = {"1": "1", "2": "3"}

STATUS_MAP = {"0": "pending", "1": "processing", "2": "completed", "3": "expired"}
# On a completed transaction; "2" (not available) is a rejection for us.
RESULT_MAP = {"1": "approved", "0": "rejected", "2": "rejected"}

# Provider image field -> our document kind.
IMAGE_FIELDS = {
    "front_document_image": "front_document",
    "back_document_image": "back_document",
    "face_image": "face_image",
    "best_frame": "best_frame",
}
# Strings longer than this in the raw copy are image data under some other name.
_RAW_STRING_LIMIT = 4096

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class ResultFormatError(ValueError):
    """The provider body is not a JSON object."""


@dataclass
class ProviderResult:
    status: str
    result: str | None
    provider_status: str
    provider_result: str
    reject_message: str | None
    full_name: str = ""
    id_number: str = ""
    id_number_back: str = ""
    address: str = ""
    gender: str = ""
    nationality: str = ""
    date_of_birth: date | None = None
    document_valid: bool | None = None
    name_match: bool | None = None
    id_match: bool | None = None
    front_back_match: bool | None = None
    landmark_valid: bool | None = None
    face_match: bool | None = None
    liveness_passed: bool | None = None
    face_match_score: Decimal | None = None
    images: dict[str, bytes] = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


def to_bool(value) -> bool | None:
    """True/False for booleans, 1/0 and their usual spellings; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def _code(value) -> str:
    """A provider status/result code as a string ("2", not 2 or 2.0); "" if absent."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (int, str)):
        return str(value).strip()[:8]
    return ""


def _text(value) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return str(value).strip()


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _score(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        score = Decimal(str(value).strip().rstrip("%"))
    except (InvalidOperation, ValueError):
        return None
    if not score.is_finite() or score < 0 or score > 100:
        return None
    return score


def mykad_date_of_birth(number, *, today: date | None = None) -> date | None:
    """Date of birth from a MyKad number's YYMMDD, or None if it is not 12 digits
    or the date does not exist. Two-digit years above this year's are 1900s."""
    digits = re.sub(r"[\s-]", "", _text(number))
    if not re.fullmatch(r"\d{12}", digits):
        return None
    today = today or datetime.now(PROVIDER_TIME_ZONE).date()
    yy, mm, dd = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    century = 1900 if yy > today.year % 100 else 2000
    try:
        return date(century + yy, mm, dd)
    except ValueError:
        return None


def _iso_date(value) -> date | None:
    text = _text(value)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _decode_image(value) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        decoded = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded or None


def _strip_images(value):
    """A deep copy without image data (known image keys and any very long string)."""
    if isinstance(value, dict):
        return {
            key: _strip_images(item)
            for key, item in value.items()
            if key not in IMAGE_FIELDS and not (isinstance(item, str) and len(item) > _RAW_STRING_LIMIT)
        }
    if isinstance(value, list):
        return [_strip_images(item) for item in value if not (isinstance(item, str) and len(item) > _RAW_STRING_LIMIT)]
    return copy.copy(value)


def _all_reported(*flags: bool | None) -> bool | None:
    reported = [flag for flag in flags if flag is not None]
    if not reported:
        return None
    return all(reported)


def parse_result(body: dict, *, document_type: str = "1") -> ProviderResult:
    """Map a decrypted get-status / callback body to a ``ProviderResult``.

    ``document_type`` is OUR code ("1" MyKad, "2" Passport).

    - status: 0 pending, 1 processing, 2 completed, 3 expired; anything else is
      treated as pending (nothing final is concluded from an unknown code).
    - result: only on completed: 1 approved, 0 and 2 (not available) rejected; an
      unknown or missing result on a completed transaction is rejected too.
    - document_valid: None when step1 reports none of the checks below; otherwise
      True only if every check it reports is true: ``step1.status``, the three
      ``text_similarity_result`` flags (name, document number, front/back number)
      and the three ``landmark_status`` flags (landmark_is_valid, labelcheck_result,
      materialcheck_result). A check the provider omits (e.g. front/back on a
      passport) does not count against it.
    - date_of_birth: the OCR ``date_of_birth`` (YYYY-MM-DD) when given, else for a
      MyKad derived from the OCR front number's YYMMDD; an impossible date is None.
    - face_match_score: ``step2.percentage`` as a Decimal within 0-100, else None.
    """
    if not isinstance(body, dict):
        raise ResultFormatError("provider result is not a JSON object")

    provider_status = _code(body.get("status"))
    provider_result = _code(body.get("result"))
    status = STATUS_MAP.get(provider_status, "pending")
    result = RESULT_MAP.get(provider_result, "rejected") if status == "completed" else None
    reject_message = _text(body.get("reject_message")) or None

    step1 = _dict(body.get("step1"))
    step2 = _dict(body.get("step2"))
    ocr = _dict(step1.get("ocr_result"))
    similarity = _dict(step1.get("text_similarity_result"))
    landmark = _dict(step1.get("landmark_status"))

    id_number = _text(ocr.get("front_document_number"))
    date_of_birth = _iso_date(ocr.get("date_of_birth"))
    if date_of_birth is None and str(document_type) == "1":
        date_of_birth = mykad_date_of_birth(id_number)

    name_match = to_bool(similarity.get("name_similarity_status"))
    id_match = to_bool(similarity.get("document_number_similarity_status"))
    front_back_match = to_bool(similarity.get("front_back_number_similarity_status"))
    landmark_valid = to_bool(landmark.get("landmark_is_valid"))
    label_ok = to_bool(landmark.get("labelcheck_result"))
    material_ok = to_bool(landmark.get("materialcheck_result"))
    checks = _all_reported(name_match, id_match, front_back_match, landmark_valid, label_ok, material_ok)
    document_valid = None if checks is None else checks and to_bool(step1.get("status")) is not False

    images: dict[str, bytes] = {}
    for source in (body, step1, step2):
        for provider_field, kind in IMAGE_FIELDS.items():
            if kind not in images:
                decoded = _decode_image(source.get(provider_field))
                if decoded:
                    images[kind] = decoded

    return ProviderResult(
        status=status,
        result=result,
        provider_status=provider_status,
        provider_result=provider_result,
        reject_message=reject_message,
        full_name=_text(ocr.get("full_name")),
        id_number=id_number,
        id_number_back=_text(ocr.get("back_document_number")),
        address=_text(ocr.get("address") or ocr.get("front_document_address")),
        gender=_text(ocr.get("gender") or ocr.get("front_document_gender")),
        nationality=_text(ocr.get("nationality") or ocr.get("citizenship")),
        date_of_birth=date_of_birth,
        document_valid=document_valid,
        name_match=name_match,
        id_match=id_match,
        front_back_match=front_back_match,
        landmark_valid=landmark_valid,
        face_match=to_bool(step2.get("is_identical")),
        liveness_passed=to_bool(step2.get("status")),
        face_match_score=_score(step2.get("percentage")),
        images=images,
        raw={
            "innovatif_status": provider_status,
            "innovatif_result": provider_result,
            "step1": _strip_images(body.get("step1")) if isinstance(body.get("step1"), dict) else None,
            "step2": _strip_images(body.get("step2")) if isinstance(body.get("step2"), dict) else None,
        },
    )
