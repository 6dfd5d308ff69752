"""Mounted at /sandbox/innovatif/ when settings.SANDBOX_ENABLED."""

from django.urls import path

from . import views

app_name = "sandbox"

urlpatterns = [
    path("v1/gateway/create-transaction", views.create_transaction, name="create-transaction"),
    path("v1/gateway/get-status", views.get_status, name="get-status"),
    path("onboarding/<str:onboarding_id>", views.onboarding, name="onboarding"),
    path("onboarding/<str:onboarding_id>/complete", views.complete, name="complete"),
    path("specimen/<str:kind>.jpg", views.specimen, name="specimen"),
]
