from django.urls import path

from . import apis, views

app_name = "kyc"

urlpatterns = [
    path("api/v1/kyc/sessions", apis.SessionListCreateApi.as_view(), name="sessions"),
    path("api/v1/kyc/sessions/<str:session_id>", apis.SessionDetailApi.as_view(), name="session-detail"),
    path("api/v1/kyc/sessions/<str:session_id>/redact", apis.SessionRedactApi.as_view(), name="session-redact"),
    path(
        "api/v1/kyc/sessions/<str:session_id>/documents/<str:kind>",
        apis.SessionDocumentApi.as_view(),
        name="session-document",
    ),
    # Before webhooks' /api/v1/events/<id>: the sample body is a session shape, built in kyc.
    path("api/v1/events/test", apis.EventTestApi.as_view(), name="events-test"),
    path("api/internal/webhooks/innovatif/ekyc", views.innovatif_callback, name="innovatif-callback"),
    path("r/<uuid:session_id>", views.status_page, name="status-page"),
    path("r/<uuid:session_id>/logo", views.status_logo, name="status-logo"),
    path("files/<str:token>", views.signed_file, name="signed-file"),
]
