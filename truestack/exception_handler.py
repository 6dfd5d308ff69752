"""The DRF exception handler: every error under /api/ is JSON
`{"error": CODE, "message": text}` (the envelope is built in truestack/errors.py)."""

import logging

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError, error_body

logger = logging.getLogger(__name__)


def _message(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, dict):
        key, value = next(iter(detail.items()), ("", ""))
        value = value[0] if isinstance(value, list) and value else value
        return f"{key}: {value}" if key not in ("", "non_field_errors", "detail") else str(value)
    if isinstance(detail, list):
        return str(detail[0]) if detail else "Bad request"
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        response = Response(
            error_body(exc.status_code, exc.message, exc.code, **exc.body_extra()), status=exc.status_code
        )
        for name, value in exc.headers.items():
            response[name] = value
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found")
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        message = str(exc.detail)
        if isinstance(exc, exceptions.NotAuthenticated):
            message = "Missing or invalid Authorization header"
        response = Response(error_body(401, message), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if isinstance(exc, exceptions.ParseError):
        return Response(error_body(400, "Request body must be valid JSON"), status=400)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return Response(error_body(415, "Content-Type must be application/json"), status=415)
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 60)  # type: ignore[attr-defined]  # set by Throttled.__init__, absent from the stubs
        response = Response(error_body(429, f"Rate limit exceeded; retry in {wait} seconds"), status=429)
        response["Retry-After"] = str(wait)
        return response
    handled = drf_exception_handler(exc, context)
    if handled is not None:
        handled.data = error_body(handled.status_code, _message(exc))
        return handled
    logger.error("Unhandled API error", exc_info=exc)
    return Response(error_body(500, "Internal server error"), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
