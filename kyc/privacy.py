"""Privacy primitives shared by every staff-facing page: masking, the permission
that unlocks personal data, and the access log entry written for each look."""

from __future__ import annotations

import copy
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import PermissionsMixin
from django.http import HttpRequest

from .models import KycSession, PersonalDataAccess

BULLETS = "••••"
REDACTED = "[redacted]"
PERSONAL_DATA_PERMISSION = "kyc.view_session_images"


def digits_only(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isdigit())


def mask_id_number(value: str | None) -> str:
    """`901234-56-7890` → `9012••••7890`. Values with fewer than 9 digits (or
    passport numbers without enough digits) are masked completely."""
    if not value:
        return ""
    if value == REDACTED:
        return REDACTED
    digits = digits_only(value)
    if len(digits) < 9:
        return BULLETS
    return f"{digits[:4]}{BULLETS}{digits[-4:]}"


def mask_address(value: str | None) -> str:
    """First word of the address, then bullets: `12, Jalan Ampang…` → `12,••••`."""
    if not value:
        return ""
    if value == REDACTED:
        return REDACTED
    first = value.strip().split(maxsplit=1)
    return f"{first[0][:12]}{BULLETS}" if first else BULLETS


def mask_name(value: str | None) -> str:
    """`Ahmad bin Abu` → `A•••• b•••• A••••` (initials only)."""
    if not value:
        return ""
    if value == REDACTED:
        return REDACTED
    return " ".join(f"{word[0]}{BULLETS}" for word in value.split())


def can_view_personal_data(user: Any) -> bool:
    return isinstance(user, PermissionsMixin) and user.has_perm(PERSONAL_DATA_PERMISSION)


def _remote_addr(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def personal_data_access_record(
    *,
    user: Any,
    what: str,
    session: KycSession | None = None,
    request: HttpRequest | None = None,
    detail: str = "",
) -> PersonalDataAccess:
    """One row of the access log. `user` is a staff user or None (jobs, commands,
    client API requests); `detail` must not contain personal data."""
    if not isinstance(user, AbstractBaseUser):
        user = None  # a job, a command without operator, or an API client (not a staff user)
    if what not in PersonalDataAccess.What.values:
        raise ValueError(f"Unknown access kind: {what!r}")
    return PersonalDataAccess.objects.create(
        user=user,
        username=user.get_username() if user is not None else "",
        session=session,
        session_uuid=session.id if session is not None else None,
        what=what,
        remote_addr=_remote_addr(request),
        detail=detail[:2000],
    )


# --- redaction: what a redacted session looks like ----------------------------------

# Strings replaced by the marker (when they hold a value); dates become null; metadata
# keeps its keys; the provider's raw result and the image paths are emptied.
REDACTED_STRING_FIELDS = (
    "document_name",
    "document_number",
    "ocr_full_name",
    "ocr_id_number",
    "ocr_id_number_back",
    "ocr_address",
    "ocr_gender",
    "ocr_nationality",
)
REDACTED_NULL_FIELDS = ("date_of_birth",)


def redacted_values(session: KycSession) -> dict[str, Any]:
    """Field -> value that replaces the personal data of `session`. What billing,
    audit and statistics need (ids, client, status, result, timestamps,
    verification booleans and score) is kept."""
    loaded = session.__dict__  # never load a deferred field just to decide
    values: dict[str, Any] = {name: REDACTED for name in REDACTED_STRING_FIELDS if loaded.get(name, REDACTED)}
    values.update(dict.fromkeys(REDACTED_NULL_FIELDS))
    metadata = loaded.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    values["metadata"] = dict.fromkeys(metadata, REDACTED)
    values["raw_result"] = {}
    values.update(dict.fromkeys(KycSession.DOCUMENT_KINDS, ""))
    return values


def shown(session: KycSession) -> KycSession:
    """The session as it may be shown: once redaction has been asked for, its
    personal data is hidden at once, before the redaction job has run."""
    if not session.redaction_started or session.is_redacted:
        return session
    hidden = copy.copy(session)
    for name, value in redacted_values(session).items():
        if name in session.__dict__:  # deferred fields stay deferred (and unshown)
            setattr(hidden, name, value)
    return hidden
