"""Non-API views: the provider callback endpoint, the end-user status page (and
the client's logo on it) and signed image downloads."""

import mimetypes
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .callbacks import CallbackRefused, callback_process, callback_record, callback_source_check
from .documents import image_response, path_from_token, uses_presigned_urls
from .models import KycSession


def _source_address(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or the rightmost entry of the header a
    trusted proxy sets (INNOVATIF_CALLBACK_CLIENT_IP_HEADER) when configured."""
    header = settings.INNOVATIF_CALLBACK_CLIENT_IP_HEADER
    if header:
        forwarded = [part.strip() for part in request.META.get(header, "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR")


def _refused(exc: CallbackRefused) -> JsonResponse:
    response = JsonResponse({"success": False, "message": exc.reason}, status=exc.status_code)
    for name, value in exc.headers.items():
        response[name] = value
    return response


@csrf_exempt
@require_POST
def innovatif_callback(request):
    # Size was checked before the body was read (truestack/middleware.py).
    source = _source_address(request)
    try:
        callback_source_check(source=source)
    except CallbackRefused as exc:
        return _refused(exc)
    # Stored with its first attempt counted, before anything else (a failure to store is a 500).
    callback = callback_record(body=request.body, remote_addr=source, attempts=1)
    try:
        callback_process(callback=callback, attempt_counted=True)
    except CallbackRefused as exc:
        return _refused(exc)
    except Exception:  # noqa: BLE001 - stored durably; the reprocess job retries it
        # Tell the provider it was received.
        return JsonResponse({"success": True, "message": "Received"}, status=202)
    return JsonResponse({"success": True, "message": "OK"})


# The status page's noscript fallback reloads after 5, 10, 20, 40, 80 and 160 seconds
# (about five minutes), then stops and offers "Check again"; the inline script backs off
# the same way up to 2 minutes between checks and stops after 10 minutes.
NOSCRIPT_CHECKS = 6
FIRST_CHECK_SECONDS = 5
MAX_CHECK_INTERVAL_SECONDS = 120
STOP_CHECKING_AFTER_SECONDS = 600


@dataclass(frozen=True)
class EndUserStatus:
    state: str  # in_progress | verified | not_verified | expired (stable: `data-state`)
    progress: str  # not_started | started | done (`data-progress`)
    title: str

    @property
    def icon(self) -> str:
        return self.progress if self.state == "in_progress" else self.state


def end_user_status(session: KycSession, *, now: datetime) -> EndUserStatus:
    """What the end user is told about a session, in words."""
    if session.status == KycSession.Status.COMPLETED:
        if session.result == KycSession.Result.APPROVED:
            return EndUserStatus("verified", "done", gettext("Identity verified"))
        return EndUserStatus("not_verified", "done", gettext("Identity not verified"))
    if session.status == KycSession.Status.FAILED:
        return EndUserStatus("expired", "done", gettext("Verification could not be started"))
    if session.status == KycSession.Status.EXPIRED:
        return EndUserStatus("expired", "done", gettext("Verification link expired"))
    # Pending with no provider status (or "0", link not opened) means the user has not begun.
    not_started = session.status == KycSession.Status.PENDING and session.provider_status in ("", "0")
    if not_started and session.expires_at <= now:
        return EndUserStatus("expired", "done", gettext("Verification link expired"))
    if not_started:
        return EndUserStatus("in_progress", "not_started", gettext("Your verification has not started yet"))
    return EndUserStatus("in_progress", "started", gettext("Verification in progress"))


def _check_number(request) -> int:
    try:
        check = int(request.GET.get("check", "0"))
    except ValueError:
        return 0
    return min(max(check, 0), NOSCRIPT_CHECKS)


@require_GET
def status_page(request, session_id):
    session = (
        KycSession.objects.select_related("client")
        .only(
            "id",
            "status",
            "result",
            "provider_status",
            "onboarding_url",
            "expires_at",
            "client__name",
            "client__display_name",
            "client__logo",
        )
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise Http404
    status = end_user_status(session, now=timezone.now())
    open_ = status.state == "in_progress"
    check = _check_number(request)
    context = {
        "session_id": session.id,
        "status": status,
        "state": status.state,
        "title": status.title,
        "client_name": session.client.public_name,
        "has_logo": bool(session.client.logo),
        "continue_url": session.onboarding_url if status.progress == "not_started" else "",
        "polling": open_,
        "stopped": open_ and check >= NOSCRIPT_CHECKS,
        "noscript_delay": FIRST_CHECK_SECONDS * 2**check,
        "noscript_next": check + 1,
        "first_delay_ms": FIRST_CHECK_SECONDS * 1000,
        "max_delay_ms": MAX_CHECK_INTERVAL_SECONDS * 1000,
        "stop_after_ms": STOP_CHECKING_AFTER_SECONDS * 1000,
    }
    response = render(request, "kyc/status.html", context)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def status_logo(request, session_id):
    """The client's logo for its status page (staff upload it in the portal)."""
    session = KycSession.objects.select_related("client").only("id", "client__logo").filter(pk=session_id).first()
    logo = session.client.logo if session is not None else None
    if not logo or not logo.name:
        raise Http404
    if uses_presigned_urls():
        return HttpResponseRedirect(logo.url)
    try:
        handle = logo.storage.open(logo.name, "rb")
    except FileNotFoundError:
        raise Http404 from None
    content_type = mimetypes.guess_type(logo.name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
def signed_file(request, token):
    path = path_from_token(token)
    response = image_response(path, cache_control="private, max-age=300") if path else None
    if response is None:
        raise Http404
    return response
