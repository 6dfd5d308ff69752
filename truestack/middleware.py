from django.conf import settings
from django.utils import timezone

from .errors import json_error_response


class ApiBodySizeLimitMiddleware:
    """Refuse oversize bodies under /api/ with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith("/api/") and not path.startswith("/api/internal/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > settings.API_MAX_BODY_BYTES:
                return json_error_response(413, f"Request body exceeds {settings.API_MAX_BODY_BYTES} bytes")
        return self.get_response(request)


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
