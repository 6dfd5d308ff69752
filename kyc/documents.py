"""Session images: private storage paths, expiring URLs for clients."""

import logging

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse
from django.urls import reverse

from .models import KycSession, session_file_path

logger = logging.getLogger(__name__)

_SIGNING_SALT = "truestack.kyc.document"


class DocumentStorageError(Exception):
    """The images could not be written (disk full or unwritable, bucket down)."""


def store_images(*, session: KycSession, images: dict[str, bytes]) -> dict[str, str]:
    """Write images under the client's private prefix; returns kind -> path.
    Paths are deterministic, so a second writer overwrites the same file.
    Raises DocumentStorageError (logged, no personal data) when storage fails."""
    paths = {}
    for kind in KycSession.DOCUMENT_KINDS:
        data = images.get(kind)
        if not data:
            continue
        try:
            # Both storages overwrite (allow_overwrite / AWS_S3_FILE_OVERWRITE).
            paths[kind] = default_storage.save(session_file_path(session, kind), ContentFile(data))
        except Exception as exc:
            logger.error("document storage failed session=%s kind=%s error=%s", session.id, kind, type(exc).__name__)
            raise DocumentStorageError(type(exc).__name__) from exc
    return paths


def images_delete(*, session: KycSession, paths: dict[str, str] | None = None) -> int:
    """Delete a session's images from storage: the given paths, else the recorded
    ones plus the deterministic ones (a late writer may have left a file the row
    never recorded). Deleting a missing file is not an error. Returns paths tried."""
    if paths is None:
        candidates = {getattr(session, kind) for kind in KycSession.DOCUMENT_KINDS}
        candidates |= {session_file_path(session, kind) for kind in KycSession.DOCUMENT_KINDS}
    else:
        candidates = set(paths.values())
    candidates.discard("")
    for path in sorted(candidates):
        default_storage.delete(path)
    return len(candidates)


def uses_presigned_urls() -> bool:
    return "s3" in settings.STORAGES["default"]["BACKEND"].lower()


def expiring_url(path: str) -> str:
    """A URL valid for DOCUMENT_URL_TTL_SECONDS: presigned on S3, else signed by us."""
    if uses_presigned_urls():
        # S3Storage.url() takes the expiry; Django's base Storage.url() does not.
        return default_storage.url(path, expire=settings.DOCUMENT_URL_TTL_SECONDS)  # type: ignore[call-arg]
    token = signing.dumps(path, salt=_SIGNING_SALT, compress=True)
    return settings.PUBLIC_BASE_URL + reverse("kyc:signed-file", args=[token])


def path_from_token(token: str) -> str | None:
    try:
        return signing.loads(token, salt=_SIGNING_SALT, max_age=settings.DOCUMENT_URL_TTL_SECONDS)
    except signing.BadSignature:
        return None


def image_urls(session: KycSession) -> dict[str, str | None]:
    return {
        kind: (expiring_url(getattr(session, kind)) if getattr(session, kind) else None)
        for kind in KycSession.DOCUMENT_KINDS
    }


def document_endpoint_urls(session: KycSession) -> dict[str, str | None]:
    base = f"{settings.PUBLIC_BASE_URL}/api/v1/kyc/sessions/{session.id}/documents/"
    return {kind: (base + kind if getattr(session, kind) else None) for kind in KycSession.DOCUMENT_KINDS}


def image_response(path: str, *, cache_control: str) -> FileResponse | None:
    """The stored JPEG as a streamed response, or None when it is not there."""
    try:
        handle = default_storage.open(path, "rb")
    except FileNotFoundError:
        return None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = cache_control
    return response
