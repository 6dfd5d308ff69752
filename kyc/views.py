"""Non-API views: the provider callback endpoint, the end-user status page and
signed image downloads."""

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .callbacks import CallbackRefused, callback_process, callback_record, callback_source_check
from .documents import image_response, path_from_token
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
    callback = callback_record(body=request.body, remote_addr=source)
    try:
        callback_process(callback=callback)
    except CallbackRefused as exc:
        return _refused(exc)
    except Exception:
        # Stored durably; the reprocess job retries it. Tell the provider it was received.
        return JsonResponse({"success": True, "message": "Received"}, status=202)
    return JsonResponse({"success": True, "message": "OK"})


_STATUS_PAGE = {
    KycSession.Status.PENDING: ("in_progress", "Verification in progress"),
    KycSession.Status.PROCESSING: ("in_progress", "Verification in progress"),
    KycSession.Status.EXPIRED: ("expired", "Verification expired"),
    KycSession.Status.FAILED: ("expired", "Verification could not be started"),
}


@require_GET
def status_page(request, session_id):
    session = KycSession.objects.filter(pk=session_id).only("id", "status", "result").first()
    if session is None:
        raise Http404
    if session.status == KycSession.Status.COMPLETED:
        state, title = (
            ("verified", "Identity verified")
            if session.result == KycSession.Result.APPROVED
            else ("not_verified", "Identity not verified")
        )
    else:
        state, title = _STATUS_PAGE[session.status]
    return render(request, "kyc/status.html", {"state": state, "title": title, "refresh": state == "in_progress"})


@require_GET
def signed_file(request, token):
    path = path_from_token(token)
    response = image_response(path, cache_control="private, max-age=300") if path else None
    if response is None:
        raise Http404
    return response
