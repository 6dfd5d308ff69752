"""500 reports (admin emails, the debug page) carry no request body, parameters,
frame variables or exception text of client API and provider callback requests."""

import json
import logging
import sys

import pytest
from django.core import mail
from django.core.handlers.exception import response_for_exception
from django.test import RequestFactory
from django.utils.log import AdminEmailHandler
from django.views.debug import get_default_exception_reporter_filter, get_exception_reporter_class

from truestack.error_reports import PrivateBodyExceptionReporterFilter

IC = "901234-56-7890"
BODY = {"document_name": "Ahmad bin Abdullah", "document_number": IC, "webhook_url": "https://x.example/h"}


@pytest.fixture
def admin_mail(settings):
    """Django's own `mail_admins` handler (configured by default) plus one with the
    HTML report attached, as production error mail is often set up."""
    settings.ADMINS = [("Ops", "ops@truestack.example")]
    settings.DEBUG = False
    handler = AdminEmailHandler(include_html=True)
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield mail.outbox
    logger.removeHandler(handler)


def report_texts(message) -> str:
    return message.body + "".join(content for content, _ in message.alternatives)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/kyc/sessions", "/api/internal/webhooks/innovatif/ekyc", "/api/v1/kyc/sessions?metadata_value=usr_secret"],
)
def test_500_email_for_api_and_callback_hides_body_locals_and_message(admin_mail, path):
    request = RequestFactory().post(
        path, data=json.dumps(BODY), content_type="application/json", HTTP_AUTHORIZATION="Bearer ts_live_supersecretkey"
    )
    try:
        crash(request)
    except ValueError as exc:
        response = response_for_exception(request, exc)  # what Django does for an uncaught error
    assert response.status_code == 500
    assert len(admin_mail) == 2
    report = "".join(report_texts(message) for message in admin_mail)
    assert "ValueError" in report and "crash" in report  # still useful: type and where
    for secret in (IC, "901234", "Ahmad", "ts_live_supersecretkey", "usr_secret"):
        assert secret not in report, secret


def test_other_pages_keep_the_usual_report(admin_mail):
    request = RequestFactory().post("/admin/login/", data={"username": "ops"})
    try:
        note = "visible-local"  # noqa: F841
        raise RuntimeError("admin crash")
    except RuntimeError as exc:
        response_for_exception(request, exc)
    report = "".join(report_texts(message) for message in admin_mail)
    assert "admin crash" in report and "visible-local" in report and "username" in report


def test_settings_use_the_private_filter_even_with_debug(settings, rf):
    settings.DEBUG = True
    reporter_filter = get_default_exception_reporter_filter()
    assert isinstance(reporter_filter, PrivateBodyExceptionReporterFilter)
    request = rf.post("/api/v1/kyc/sessions", data=json.dumps(BODY), content_type="application/json")
    try:
        crash(request)
    except ValueError:
        html = get_exception_reporter_class(request)(request, *sys.exc_info()).get_traceback_html()
    assert [secret for secret in (IC, BODY["document_name"]) if secret in html] == []


# Far from the constants above: the debug page shows source lines around each frame.
def crash(request):
    data = json.loads(request.body)  # a local variable holding personal data
    number = data["document_number"]
    raise ValueError(f"could not process {number}")
