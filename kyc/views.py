"""Non-API views: the provider callback endpoint, the end-user status page and
signed image downloads."""

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from .callbacks import CallbackRefused, callback_process, callback_record
from .documents import image_response, path_from_token
from .models import KycSession


@csrf_exempt
@require_POST
def innovatif_callback(request):
    callback = callback_record(body=request.body, remote_addr=request.META.get("REMOTE_ADDR"))
    try:
        callback_process(callback=callback)
    except CallbackRefused as exc:
        return JsonResponse({"success": False, "message": exc.reason}, status=exc.status_code)
    except Exception:  # noqa: BLE001 - stored durably; the reprocess job retries it
        # Tell the provider it was received.
        return JsonResponse({"success": True, "message": "Received"}, status=202)
    return JsonResponse({"success": True, "message": "OK"})


_STATUS_PAGE: dict[str, tuple[str, str]] = {
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
