from django.conf import settings
from django.middleware import csrf as middleware_csrf
from django.middleware.locale import LocaleMiddleware
from django.utils import timezone, translation

from .errors import json_error_response

# The client API and the operator portal are English only.
_ENGLISH_ONLY_PREFIXES = ("/api/", "/admin/")


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


class EndUserLocaleMiddleware(LocaleMiddleware):
    """The language of end-user pages: `?lang=ms` (remembered in the language
    cookie, so it works without JavaScript), else that cookie, else the browser's
    Accept-Language. Paths under /api/ and /admin/ stay English."""

    def process_request(self, request):
        if request.path_info.startswith(_ENGLISH_ONLY_PREFIXES):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = translation.get_language()
            return
        chosen = request.GET.get("lang", "")
        if chosen in dict(settings.LANGUAGES):
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
            request.language_chosen = chosen
            return
        super().process_request(request)

    def process_response(self, request, response):
        if request.path_info.startswith(_ENGLISH_ONLY_PREFIXES):
            return response
        response = super().process_response(request, response)
        chosen = getattr(request, "language_chosen", None)
        if chosen:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response


class PortalTimeZoneMiddleware:
    """The operator portal works in PORTAL_TIME_ZONE: dates typed in its filters
    and times it shows are Kuala Lumpur times, like billing months."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith("/admin/"):
            return self.get_response(request)
        with timezone.override(settings.PORTAL_TIME_ZONE):
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
