"""Sandbox HTTP surface: the two gateway calls (provider protocol), the hosted
onboarding page, and a JSON /complete endpoint for scripts and tests."""

import json

from csp.decorators import csp_exempt
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import services, specimens
from .models import SandboxTransaction

REJECT_REASONS = (
    "Step 2 failed",
    "OCR failed",
    "Exceed maximum number of retries",
    "Face does not match the document photo",
)


def _gateway(request, handler):
    try:
        services.gateway_faults()
        try:
            envelope = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise services.SandboxRefusal("400") from None
        data = handler(envelope=envelope)
    except services.ServiceUnavailable:
        # Closest a Django view gets to a refused connection; a real refusal is
        # rehearsed by pointing INNOVATIF_BASE_URL at a closed port.
        return HttpResponse(status=503)
    except services.SandboxRefusal as exc:
        return JsonResponse(exc.as_body())
    return JsonResponse(services.sealed_answer(data))


@csrf_exempt
@require_POST
def create_transaction(request):
    return _gateway(request, services.gateway_create_transaction)


@csrf_exempt
@require_POST
def get_status(request):
    return _gateway(request, services.gateway_get_status)


def _transaction_or_404(onboarding_id: str) -> SandboxTransaction:
    txn = services.transaction_by_onboarding_id(onboarding_id)
    if txn is None:
        raise Http404("Unknown onboarding id")
    return txn


# The imitation of the provider's own page (inline script and style, as a provider
# page would have): outside TrueStack's Content-Security-Policy.
# django-csp types views as taking only the request; its wrapper passes URL arguments on.
@csp_exempt()  # type: ignore[arg-type]
@never_cache
@require_http_methods(["GET", "POST"])
def onboarding(request, onboarding_id: str):
    txn = _transaction_or_404(onboarding_id)
    if services.transaction_expire_if_due(transaction=txn):
        txn.refresh_from_db()

    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        if outcome not in services.OUTCOMES:
            return _page(request, txn, error="Choose an outcome.", status=400)
        reason = request.POST.get("reject_message_other", "").strip() or request.POST.get("reject_message", "")
        try:
            txn = services.transaction_finish(
                transaction=txn,
                outcome=outcome,
                reject_message=reason,
                front_image=services.upload_to_jpeg(request.FILES.get("front_upload")),
                back_image=services.upload_to_jpeg(request.FILES.get("back_upload")),
            )
        except services.TransactionFinished:
            txn.refresh_from_db()
        return HttpResponseRedirect(services.redirect_url(txn))

    if services.transaction_open(transaction=txn):
        txn.refresh_from_db()
    return _page(request, txn)


# What whoever revisits a finished link reads, instead of the provider's codes.
OUTCOME_WORDS = {
    "approved": ("Approved", "The identity was verified."),
    "rejected": ("Rejected", "The identity could not be verified."),
    "expired": ("Not finished", "The link expired before the verification was completed."),
}


def _outcome(txn: SandboxTransaction) -> str:
    if txn.status == SandboxTransaction.Status.COMPLETED:
        return "approved" if txn.result == SandboxTransaction.Result.APPROVED else "rejected"
    return "expired"


def _page(request, txn, *, error: str = "", status: int = 200):
    outcome = "" if txn.is_open else _outcome(txn)
    context = {
        "txn": txn,
        "outcome": outcome,
        "outcome_words": OUTCOME_WORDS.get(outcome),
        "finished": not txn.is_open,
        "continue_url": services.redirect_url(txn),
        "reject_reasons": REJECT_REASONS,
        "error": error,
    }
    return render(request, "sandbox/onboarding.html", context, status=status)


@csrf_exempt
@require_POST
def complete(request, onboarding_id: str):
    txn = services.transaction_by_onboarding_id(onboarding_id)
    if txn is None:
        return JsonResponse({"error": "NOT_FOUND", "message": "Unknown onboarding id"}, status=404)
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": "BAD_REQUEST", "message": "Body must be JSON"}, status=400)
    if not isinstance(data, dict):
        return JsonResponse({"error": "BAD_REQUEST", "message": "Body must be a JSON object"}, status=400)
    outcome = data.get("outcome")
    callbacks = data.get("callbacks", 1)
    send_callback = data.get("send_callback", True)
    reject_message = data.get("reject_message")
    if outcome not in services.OUTCOMES:
        return JsonResponse(
            {"error": "BAD_REQUEST", "message": "outcome must be approved, rejected or expired"}, status=400
        )
    if (
        isinstance(callbacks, bool)
        or not isinstance(callbacks, int)
        or not 1 <= callbacks <= services.MAX_CALLBACKS_PER_CALL
    ):
        return JsonResponse(
            {"error": "BAD_REQUEST", "message": f"callbacks must be an integer 1..{services.MAX_CALLBACKS_PER_CALL}"},
            status=400,
        )
    if not isinstance(send_callback, bool):
        return JsonResponse({"error": "BAD_REQUEST", "message": "send_callback must be true or false"}, status=400)
    if reject_message is not None and not isinstance(reject_message, str):
        return JsonResponse({"error": "BAD_REQUEST", "message": "reject_message must be a string"}, status=400)

    if services.transaction_expire_if_due(transaction=txn):
        txn.refresh_from_db()
    try:
        txn = services.transaction_finish(
            transaction=txn,
            outcome=outcome,
            reject_message=reject_message,
            callbacks=callbacks,
            send_callback=send_callback,
        )
    except services.TransactionFinished:
        txn.refresh_from_db()
        return JsonResponse(
            {"error": "CONFLICT", "message": "Transaction already finished", **_summary(txn)}, status=409
        )
    return JsonResponse(_summary(txn))


def _summary(txn: SandboxTransaction) -> dict:
    return {
        "onboarding_id": txn.onboarding_id,
        "ref_id": txn.provider_ref_id,
        "status": int(txn.status),
        "result": int(txn.result) if txn.result is not None else None,
        "reject_message": txn.reject_message,
        "callback_count": txn.callback_count,
        "callback_last_status": txn.callback_last_status,
        "callback_last_error": txn.callback_last_error,
        "redirect_url": services.redirect_url(txn),
    }


@require_GET
def specimen(request, kind: str):
    if kind not in specimens.KINDS:
        raise Http404("Unknown specimen")
    response = HttpResponse(specimens.specimen(kind), content_type="image/jpeg")
    response["Cache-Control"] = "public, max-age=86400"
    return response
