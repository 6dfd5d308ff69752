from django.conf import settings
from django.middleware import csrf as middleware_csrf

from .errors import json_error_response


class ApiBodySizeLimitMiddleware:
    """Refuse oversize bodies under /api/ with 413 before anything reads them:
    API_MAX_BODY_BYTES for the client API, PROVIDER_CALLBACK_MAX_BODY_BYTES for
    the provider callbacks under /api/internal/. Only Content-Length bodies are
    read at all (Django reads nothing of a body without one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith("/api/"):
            limit = (
                settings.PROVIDER_CALLBACK_MAX_BODY_BYTES
                if path.startswith("/api/internal/")
                else settings.API_MAX_BODY_BYTES
            )
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                return json_error_response(413, f"Request body exceeds {limit} bytes")
        return self.get_response(request)


class CsrfViewMiddleware(middleware_csrf.CsrfViewMiddleware):
    """Django's CSRF protection for the cookie-authenticated pages (admin, portal),
    never for /api/: the API authenticates with Bearer keys only and never reads
    the session cookie, so CSRF cannot apply there. Without this, a POST to an
    unknown /api/ path (whose catch-all view is a plain Django view) got the CSRF
    403 page instead of the JSON 404."""

    def process_view(self, request, callback, callback_args, callback_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)
