"""The dashboard is the admin index: today's and this month's figures, stuck
sessions, failing endpoints, clients low on credit, provider health and two
charts, each figure linking to the list behind it, in a pinned number of queries."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.services import credit_add
from kyc.models import KycSession, ProviderCheck
from kyc.selectors import sessions_per_day
from truestack.localtime import local_today, portal_tz
from webhooks.models import Delivery
from webhooks.services import endpoint_health_record

from .conftest import build_session

pytestmark = pytest.mark.django_db

# session + user, then: session counts, per-day chart, last callback, provider
# checks, failing endpoints, low credit, credits per month, endpoint health (1),
# retention (policies twice, images due, redaction due, redaction states, images removed).
DASHBOARD_QUERIES = 16


def _index(browser):
    response = browser.get(reverse("admin:index"))
    assert response.status_code == 200
    return response


def test_figures_count_todays_sessions_and_link_to_the_list(admin_client, make_full_session):
    make_full_session()
    make_full_session(result=KycSession.Result.REJECTED)
    make_full_session(status=KycSession.Status.EXPIRED)
    make_full_session(status=KycSession.Status.PENDING)
    response = _index(admin_client)
    today = {name: (value, url) for name, value, url in response.context["today"]["figures"]}
    assert today["Created"][0] == 4
    assert today["Completed"][0] == 2
    assert today["Approved"][0] == 1
    assert today["Rejected"][0] == 1
    assert today["Expired"][0] == 1
    assert today["Open"][0] == 1
    assert response.context["today"]["approved_pct"] == 50

    # The link behind a figure lists exactly those sessions.
    listed = admin_client.get(today["Approved"][1])
    assert listed.status_code == 200
    assert [s.result for s in listed.context["cl"].result_list] == ["approved"]
    assert len(admin_client.get(today["Created"][1]).context["cl"].result_list) == 4


def test_stuck_sessions_failing_endpoints_low_credit_and_provider_health(
    admin_client, make_full_session, make_client, make_api_key, settings
):
    quiet = make_full_session(status=KycSession.Status.PENDING)
    KycSession.objects.filter(pk=quiet.pk).update(created_at=timezone.now() - settings.KYC_POLL_AFTER * 2)
    make_full_session(status=KycSession.Status.PENDING, with_history=False)  # fresh: not stuck
    failed = make_full_session(with_history=False)
    KycSession.objects.filter(pk=failed.pk).update(status=KycSession.Status.FAILED, provider_error="E01: refused")
    delivered = make_full_session()
    Delivery.objects.filter(event__session=delivered).update(state=Delivery.State.RETRYING, updated_at=timezone.now())
    poor = make_client(code="POOR", name="Poor Co")
    credit_add(client=poor, credits=60, description="a little")
    ProviderCheck.objects.create(checked_at=timezone.now(), via="poll", ok=True)
    ProviderCheck.objects.create(checked_at=timezone.now(), via="poll", ok=False)
    ProviderCheck.objects.create(checked_at=timezone.now() - timedelta(hours=2), via="poll", ok=False)

    response = _index(admin_client)
    stuck = {name: (value, url) for name, value, url in response.context["stuck"]}
    quiet_value, quiet_url = stuck["Open with no provider news past the poll threshold"]
    assert quiet_value == 1
    assert [s.pk for s in admin_client.get(quiet_url).context["cl"].result_list] == [quiet.pk]
    failed_value, failed_url = stuck["Failed creates (last 24 h)"]
    assert failed_value == 1
    assert [s.pk for s in admin_client.get(failed_url).context["cl"].result_list] == [failed.pk]

    [endpoint] = response.context["failing_endpoints"]
    assert endpoint["event__client__code"] == "ACME" and endpoint["retrying"] == 1
    assert admin_client.get(endpoint["url_admin"]).context["cl"].result_list[0].event.session_id == delivered.pk

    low = {row["client__code"]: row for row in response.context["low_credit"]}
    assert "POOR" in low and "ACME" not in low
    assert low["POOR"]["sessions_left"] == 1  # 60 credits at the default 50 per session

    provider = response.context["provider"]
    assert provider["checks"] == 2 and provider["failed"] == 1 and provider["failed_share"] == 50
    assert provider["last_callback"].endswith("MYT")
    page = response.content.decode()
    assert 'class="ts-chart"' in page and "Sessions per day" in page and "Credits added and used" in page


def test_query_count_is_pinned_and_does_not_grow(admin_client, make_full_session, django_assert_num_queries):
    make_full_session()
    with django_assert_num_queries(DASHBOARD_QUERIES):
        _index(admin_client)
    for _ in range(5):
        make_full_session()
        make_full_session(status=KycSession.Status.EXPIRED)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        _index(admin_client)


def test_months_and_days_are_kuala_lumpur_days(admin_client, funded_acme, acme_key):
    # 23:30 UTC is already the next day in Kuala Lumpur.
    now = timezone.now()
    late = now.replace(hour=23, minute=30, second=0, microsecond=0) - timedelta(days=2)
    build_session(client=funded_acme, api_key=acme_key[0], created_at=late, with_history=False)
    kl_day = (late + timedelta(hours=8)).date()
    per_day = sessions_per_day(since=late - timedelta(days=1), tz=portal_tz())
    assert list(per_day) == [kl_day]
    assert per_day[kl_day]["created"] == 1
    # The dashboard's link for today uses the Kuala Lumpur date too.
    response = _index(admin_client)
    created_url = response.context["today"]["figures"][0][2]
    assert f"created_at__range__gte={local_today().isoformat()}" in created_url


def test_no_dead_view_site_link_and_a_favicon(admin_client):
    page = _index(admin_client).content.decode()
    assert "View site" not in page
    assert 'rel="icon"' in page and "favicon.svg" in page
    assert "MYT" in page


def test_dashboard_shows_failing_hosts_and_retention_counts(admin_client, acme, make_full_session):
    endpoint_health_record(
        client=acme, url="https://down.acme.example/kyc", ok=False, error="HTTP 500", at=timezone.now()
    )
    make_full_session()
    response = _index(admin_client)
    page = response.content.decode()
    assert "down.acme.example" in page
    retention = response.context["retention"]
    assert set(retention) == {"images_due", "personal_data_due", "redaction_pending", "redacted", "images_removed"}
    assert 'id="ts-retention"' in page and "Personal data retention" in page
