"""What a 500 report (admin email, debug page, any reporter using Django's
filter) may show. Under the client API and the provider callback the request
carries personal data: its body, its parameters and every local variable of the
failing frames are left out entirely."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

# Paths whose requests carry personal data (client API bodies, provider callbacks).
PRIVATE_PREFIXES = ("/api/",)
HIDDEN = "[hidden: personal data]"


def carries_personal_data(request: HttpRequest | None) -> bool:
    return request is not None and request.path.startswith(PRIVATE_PREFIXES)


class PrivateBodyExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request: HttpRequest | None) -> bool:
        return True  # also with DEBUG on

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        if carries_personal_data(request):
            return {"(body)": HIDDEN}
        return super().get_post_parameters(request)

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        if carries_personal_data(request):
            return [(name, HIDDEN) for name in tb_frame.f_locals]
        return super().get_traceback_frame_variables(request, tb_frame)

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, Any]:
        meta = super().get_safe_request_meta(request)
        if carries_personal_data(request):
            # The query string of a listing can carry metadata values.
            meta = {key: (HIDDEN if key == "QUERY_STRING" else value) for key, value in meta.items()}
        return meta


class PrivateExceptionReporter(ExceptionReporter):
    """Also leaves out the query string items and the exception's message (it
    may quote a value) for requests that carry personal data."""

    def get_traceback_data(self) -> dict[str, Any]:
        data = super().get_traceback_data()
        if self.request is not None and carries_personal_data(self.request):
            data["request_GET_items"] = [("(query)", HIDDEN)] if self.request.GET else []
            if "request_insecure_uri" in data:
                data["request_insecure_uri"] = data["request_insecure_uri"].split("?", 1)[0]
            if "exception_value" in data:
                data["exception_value"] = HIDDEN
        return data
