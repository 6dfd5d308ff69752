"""The Innovatif credential sets (live and sandbox) and the one an inbound
envelope belongs to. Used by the HTTP client, callback verification and the
sandbox; the crypto functions take a `Credentials`."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings

from .crypto import sign


@dataclass(frozen=True, repr=False)
class Credentials:
    api_key: str
    md5_key: str
    package_name: str
    ciphertext: str

    def __repr__(self) -> str:
        # Only the public half; api_key/md5_key/ciphertext never reach logs or tracebacks.
        return f"Credentials(package_name={self.package_name!r})"

    __str__ = __repr__

    def sign(self, *, ref_id: str, request_time: str) -> str:
        return sign(
            api_key=self.api_key,
            md5_key=self.md5_key,
            package_name=self.package_name,
            ref_id=ref_id,
            request_time=request_time,
        )


def credentials_live() -> Credentials:
    return Credentials(
        api_key=settings.INNOVATIF_API_KEY,
        md5_key=settings.INNOVATIF_MD5_KEY,
        package_name=settings.INNOVATIF_PACKAGE_NAME,
        ciphertext=settings.INNOVATIF_CIPHERTEXT,
    )


def credentials_sandbox() -> Credentials:
    return Credentials(
        api_key=settings.SANDBOX_API_KEY,
        md5_key=settings.SANDBOX_MD5_KEY,
        package_name=settings.SANDBOX_PACKAGE_NAME,
        ciphertext=settings.SANDBOX_CIPHERTEXT,
    )


def credentials_for_api_key(api_key: object) -> Credentials | None:
    """The credential set an inbound envelope's ``api_key`` belongs to. Live is
    checked first (in the embedded default both sets are the same)."""
    if not isinstance(api_key, str) or not api_key:
        return None
    candidates = [credentials_live()]
    if settings.SANDBOX_ENABLED:
        candidates.append(credentials_sandbox())
    for credentials in candidates:
        if hmac.compare_digest(credentials.api_key.encode(), api_key.encode()):
            return credentials
    return None
