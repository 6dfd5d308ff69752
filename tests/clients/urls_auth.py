"""A test-only URLconf: minimal API views behind the project's default
authentication, permission and exception handling (settings.REST_FRAMEWORK)."""

from django.http import Http404
from django.urls import path, re_path
from rest_framework import exceptions, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from truestack import views
from truestack.errors import InsufficientCredits


class WhoAmIApi(APIView):
    def get(self, request):
        return Response({"client": request.user.code, "environment": request.auth.environment})

    def post(self, request):
        return Response({"received": request.data})


class MissingApi(APIView):
    def get(self, request):
        raise Http404


class BrokenApi(APIView):
    def get(self, request):
        raise RuntimeError("boom")


class DenyAll(permissions.BasePermission):
    def has_permission(self, request, view):
        return False


class ForbiddenApi(APIView):
    permission_classes = [permissions.IsAuthenticated, DenyAll]

    def get(self, request):
        return Response({})


class ThrottledApi(APIView):
    def get(self, request):
        raise exceptions.Throttled(wait=30)


class PoorApi(APIView):
    def get(self, request):
        raise InsufficientCredits(balance=5)


class InvalidApi(APIView):
    def get(self, request):
        raise exceptions.ValidationError({"document_name": ["This field is required."]})


urlpatterns = [
    path("api/test/whoami", WhoAmIApi.as_view()),
    path("api/test/missing", MissingApi.as_view()),
    path("api/test/broken", BrokenApi.as_view()),
    path("api/test/forbidden", ForbiddenApi.as_view()),
    path("api/test/throttled", ThrottledApi.as_view()),
    path("api/test/poor", PoorApi.as_view()),
    path("api/test/invalid", InvalidApi.as_view()),
    re_path(r"^api/", views.api_not_found),
]

handler404 = "truestack.views.handler404"
handler500 = "truestack.views.handler500"
