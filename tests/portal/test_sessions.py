"""The session list (columns, search, filters), the read-only review page with
its timeline and actions, and who may do what there."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from kyc.models import KycSession, PersonalDataAccess
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

LIST = "admin:kyc_kycsession_changelist"
# session + user, then: session (+client, key), callbacks, hold, ledger entries,
# events, deliveries, attempts (a superuser needs no permission query), and the
# personal-data access-log row written because the viewer may see personal data.
REVIEW_QUERIES = 10


def _found(browser, term):
    response = browser.get(reverse(LIST), {"q": term})
    assert response.status_code == 200
    return {s.pk for s in response.context["cl"].result_list}


def _page(browser, session):
    return browser.get(reverse("admin:kyc_kycsession_change", args=[session.pk]))


def test_list_columns_fit_and_show_the_end_user(admin_client, make_full_session):
    session = make_full_session(name="Siti Nurhaliza")
    response = admin_client.get(reverse(LIST))
    page = response.content.decode()
    assert response.context["cl"].list_display == [
        "action_checkbox",
        "short_id",
        "client_code",
        "end_user",
        "status_badge",
        "result_badge",
        "mode",
        "created",
    ]
    assert "Siti Nurhaliza" in page
    assert str(session.pk)[:8] in page
    assert "ts-badge-approved" in page
    assert "MYT" in page


def test_search_by_name_ic_ref_id_client_code_and_metadata(admin_client, make_full_session, make_client, make_api_key):
    siti = make_full_session(name="Siti Nurhaliza", number="880202-14-6789", metadata={"user_id": "cust-778"})
    ahmad = make_full_session(name="Ahmad bin Abdullah", number="900101015555")
    other = make_client(code="BETA")
    beta = make_full_session(
        client=other, api_key=make_api_key(other)[0], name="Lim Wei", number="770707-07-7777", with_history=False
    )

    assert _found(admin_client, "siti") == {siti.pk}  # case-insensitive, partial
    assert _found(admin_client, "Nurhal") == {siti.pk}
    assert _found(admin_client, "880202146789") == {siti.pk}  # stored with dashes, typed without
    assert _found(admin_client, "880202 14 6789") == {siti.pk}
    assert _found(admin_client, "900101-01-5555") == {ahmad.pk}  # stored without, typed with
    assert _found(admin_client, ahmad.ref_id) == {ahmad.pk}
    assert _found(admin_client, "beta") == {beta.pk}
    assert _found(admin_client, "cust-778") == {siti.pk}
    assert _found(admin_client, str(ahmad.pk)) == {ahmad.pk}
    assert _found(admin_client, "nobody-like-this") == set()


def test_filters_status_result_mode_client_and_date_range(admin_client, make_full_session):
    old = make_full_session(result=KycSession.Result.REJECTED)
    KycSession.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    new = make_full_session()
    test_session = make_full_session(with_history=False)
    KycSession.objects.filter(pk=test_session.pk).update(is_test=True)
    url = reverse(LIST)

    def ids(**params):
        response = admin_client.get(url, params)
        assert response.status_code == 200
        return {s.pk for s in response.context["cl"].result_list}

    assert ids(result__exact="rejected") == {old.pk}
    assert ids(status__exact="completed") == {old.pk, new.pk}
    assert ids(is_test__exact="1") == {test_session.pk}
    assert ids(client__id__exact=str(new.client_id)) == {old.pk, new.pk, test_session.pk}
    since = (timezone.now() - timedelta(days=5)).date().isoformat()
    until = (timezone.now() + timedelta(days=1)).date().isoformat()
    assert ids(created_at__range__gte=since, created_at__range__lte=until) == {new.pk, test_session.pk}


def test_review_page_is_read_only_with_timeline_and_words(admin_client, make_full_session, django_assert_num_queries):
    session = make_full_session(result=KycSession.Result.REJECTED)
    with django_assert_num_queries(REVIEW_QUERIES):
        response = _page(admin_client, session)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="_save"' not in page and "Save and continue" not in page
    assert "ts-badge-rejected" in page and "Face does not match" in page
    assert "2 — completed" in page and "0 — rejected" in page  # provider codes in words
    assert "Ocr full name" not in page
    texts = [item["text"] for item in response.context["timeline"]]
    assert texts[0].startswith("Session created")
    for expected in (
        "Provider transaction created",
        "Hold of",
        "Provider callback: completed",
        "Completed: Rejected",
        "Usage: -50 credits",
        "Webhook event kyc.session.completed",
        "Webhook attempt 1",
        "HTTP 500",
        "Webhook attempt 2",
    ):
        assert any(expected in text for text in texts), expected
    whens = [item["when"] for item in response.context["timeline"]]
    assert whens == sorted(whens)
    assert all(item["when_local"].endswith("MYT") for item in response.context["timeline"])
    assert admin_client.post(reverse("admin:kyc_kycsession_change", args=[session.pk])).status_code == 405


def test_personal_data_masked_without_the_permission(viewer, admin_client, make_full_session):
    session = make_full_session(number="880202-14-6789")
    page = _page(viewer, session).content.decode()
    assert "880202-14-6789" not in page and "8802••••6789" in page
    assert "12 JALAN AMPANG" not in page
    assert reverse("admin:kyc_kycsession_raw", args=[session.pk]) not in page
    assert viewer.get(reverse("admin:kyc_kycsession_raw", args=[session.pk])).status_code == 403

    full = _page(admin_client, session).content.decode()
    assert "880202-14-6789" in full and "12 JALAN AMPANG" in full
    raw = admin_client.get(reverse("admin:kyc_kycsession_raw", args=[session.pk]))
    assert raw.status_code == 200 and "full_name" in raw.content.decode()
    assert PersonalDataAccess.objects.filter(what="raw_provider_body", session=session).count() == 1


def test_images_only_on_click_with_the_permission_and_recorded(viewer, admin_client, make_full_session):
    session = make_full_session()
    path = f"kyc/{session.client_id}/{session.pk}/front_document.jpg"
    default_storage.save(path, ContentFile(b"\xff\xd8fake-jpeg"))
    KycSession.objects.filter(pk=session.pk).update(front_document=path)
    image_url = reverse("admin:kyc_kycsession_image", args=[session.pk, "front_document"])

    page = _page(admin_client, session).content.decode()
    assert image_url in page and "<img" not in page  # a button, not loaded with the page
    assert PersonalDataAccess.objects.filter(what="images").count() == 0
    image = admin_client.get(image_url)
    assert image.status_code == 200 and b"".join(image.streaming_content).endswith(b"fake-jpeg")
    assert PersonalDataAccess.objects.get(what="images").session_id == session.pk

    hidden = _page(viewer, session).content.decode()
    assert image_url not in hidden and "ID images are hidden" in hidden
    assert viewer.get(image_url).status_code == 403
    default_storage.delete(path)


def test_refresh_needs_the_change_permission(viewer, ops, make_full_session, provider_down):
    session = make_full_session(status=KycSession.Status.PENDING, with_history=False)
    url = reverse("admin:kyc_kycsession_refresh", args=[session.pk])
    assert "ts-refresh" not in _page(viewer, session).content.decode()
    assert viewer.post(url).status_code == 403
    # The list action is guarded the same way.
    response = viewer.post(
        reverse(LIST), {"action": "refresh_from_provider", "_selected_action": [str(session.pk)]}, follow=True
    )
    assert "refresh_from_provider" not in response.content.decode()

    assert "ts-refresh" in _page(ops, session).content.decode()
    answer = ops.post(url, follow=True)
    assert answer.status_code == 200
    assert "could not be asked" in answer.content.decode()


def test_refresh_applies_the_provider_answer(admin_client, provider, acme, test_api, valid_body):
    created = test_api.post("/api/v1/kyc/sessions", valid_body, format="json")
    assert created.status_code == 201, created.content
    session = KycSession.objects.get(pk=created.json()["id"])
    response = admin_client.post(reverse("admin:kyc_kycsession_refresh", args=[session.pk]), follow=True)
    assert "Refreshed from the provider" in response.content.decode()
    session.refresh_from_db()
    assert session.last_provider_check_at is not None


def test_resend_latest_webhook(ops, viewer, make_full_session, django_capture_on_commit_callbacks):
    session = make_full_session()
    delivery = Delivery.objects.get(event__session=session)
    url = reverse("admin:kyc_kycsession_resend_webhook", args=[session.pk])
    assert viewer.post(url).status_code == 403
    page = _page(ops, session).content.decode()
    assert "ts-resend" in page
    with django_capture_on_commit_callbacks():
        response = ops.post(url, follow=True)
    assert "queued for immediate resend" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING and delivery.next_attempt_at is not None


def test_list_query_count_is_pinned(admin_client, make_full_session, django_assert_num_queries):
    # session + user, clients for the client filter, the page's COUNT, the rows (with clients).
    make_full_session()
    with django_assert_num_queries(5):
        admin_client.get(reverse(LIST), {"q": "ahmad"})
    for _ in range(6):
        make_full_session(with_history=False)
    with django_assert_num_queries(5):
        response = admin_client.get(reverse(LIST), {"q": "ahmad"})
    assert len(response.context["cl"].result_list) == 7
