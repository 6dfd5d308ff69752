"""Privacy primitives shared by every staff-facing page: masking, the permission
that unlocks personal data, and the access log entry written for each look."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
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
    return bool(isinstance(user, AbstractBaseUser) and user.has_perm(PERSONAL_DATA_PERMISSION))


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
