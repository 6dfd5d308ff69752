from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.views.defaults import page_not_found, server_error

from .errors import json_error_response


def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # noqa: BLE001 - any database failure means "unavailable"
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


def _is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def handler404(request, exception=None):
    if _is_api(request):
        return json_error_response(404, "Not found")
    return page_not_found(request, exception)


def handler500(request):
    if _is_api(request):
        return json_error_response(500, "Internal server error")
    return server_error(request)


def api_not_found(request, *args, **kwargs):
    return json_error_response(404, "Not found")


def favicon(request):
    # Browsers ask for /favicon.ico on pages that do not link an icon (and on JSON answers).
    response = HttpResponseRedirect(static("favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"
    return response
