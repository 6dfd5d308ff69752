"""Privacy primitives and the personal data access log admin."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from kyc.models import KycSession, PersonalDataAccess
from kyc.privacy import can_view_personal_data, mask_address, mask_id_number, personal_data_access_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(acme, acme_key):
    return KycSession.objects.create(
        client=acme,
        api_key=acme_key[0],
        ref_id=f"PRIV{uuid.uuid4().hex[:20]}",
        document_name="Ahmad bin Abdullah",
        document_number="901234-56-7890",
        webhook_url="https://example.com/h",
        expires_at=timezone.now() + timedelta(hours=1),
    )


@pytest.fixture
def staff_user(django_user_model):
    def _make(name, *, role="ops", superuser=False):
        user = django_user_model.objects.create_user(name, password="pw", is_staff=True, is_superuser=superuser)
        user.groups.add(Group.objects.get(name=role))
        return user

    return _make


@pytest.mark.parametrize(
    "value, masked",
    [
        ("901234-56-7890", "9012••••7890"),
        ("901234567890", "9012••••7890"),
        ("A1234", "••••"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_number(value, masked):
    assert mask_id_number(value) == masked


def test_mask_address():
    assert mask_address("12, Jalan Ampang, 50450 Kuala Lumpur") == "12,••••"
    assert mask_address("") == "" and mask_address(None) == ""
    assert "Ampang" not in mask_address("Jalan Ampang 12")


def test_permission_decides_who_sees_personal_data(staff_user, acme):
    ops, finance = staff_user("ops1"), staff_user("fin1", role="finance")
    assert can_view_personal_data(ops) is True  # ops holds kyc.view_session_images
    assert can_view_personal_data(finance) is False
    assert can_view_personal_data(None) is False
    assert can_view_personal_data(acme) is False  # an API client is never staff


def test_access_record_keeps_who_what_where_and_survives_the_session(staff_user, session):
    user = staff_user("ops2")
    request = RequestFactory().get("/admin/", REMOTE_ADDR="203.0.113.9")
    row = personal_data_access_record(user=user, what="images", session=session, request=request, detail="front")
    row.refresh_from_db()
    assert (row.username, row.what, row.remote_addr, row.detail) == ("ops2", "images", "203.0.113.9", "front")
    assert row.session_id == session.id and row.session_uuid == session.id and row.at is not None
    system = personal_data_access_record(user=None, what=PersonalDataAccess.What.REDACTION, session=session)
    assert system.user is None and system.username == "" and system.remote_addr is None
    with pytest.raises(ValueError):
        personal_data_access_record(user=user, what="gossip")


def test_access_log_admin_is_read_only_for_everyone_and_searchable(client, staff_user, session):
    admin_user = staff_user("root", superuser=True)
    ops = staff_user("ops3")
    personal_data_access_record(user=ops, what="images", session=session)
    personal_data_access_record(user=admin_user, what="id_number", session=session)
    other = personal_data_access_record(user=ops, what="export", detail="sessions.csv")
    client.force_login(admin_user)
    changelist = reverse("admin:kyc_personaldataaccess_changelist")
    assert client.get(reverse("admin:kyc_personaldataaccess_add")).status_code == 403
    change = reverse("admin:kyc_personaldataaccess_change", args=[other.pk])
    assert client.post(change, {"detail": "tampered"}).status_code == 403
    delete = reverse("admin:kyc_personaldataaccess_delete", args=[other.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    other.refresh_from_db()
    assert other.detail == "sessions.csv"
    by_session = client.get(changelist, {"q": str(session.id)})
    assert by_session.status_code == 200 and by_session.context["cl"].result_count == 2
    by_user = client.get(changelist, {"q": "ops3"})
    assert by_user.context["cl"].result_count == 2
    by_what = client.get(changelist, {"what__exact": "export"})
    assert [row.pk for row in by_what.context["cl"].result_list] == [other.pk]


def test_access_log_csv_export_follows_filters(client, staff_user, session):
    ops = staff_user("ops4")
    personal_data_access_record(user=ops, what="images", session=session, detail="front_document")
    personal_data_access_record(user=ops, what="export")
    client.force_login(ops)  # ops may view the log (granted by the migration)
    response = client.get(reverse("admin:kyc_personaldataaccess_export"), {"what__exact": "images"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == ["id", "at", "username", "session_id", "what", "remote_addr", "detail"]
    assert len(rows) == 2 and rows[1][2:5] == ["ops4", str(session.id), "images"]


def test_finance_cannot_read_the_access_log(client, staff_user):
    client.force_login(staff_user("fin2", role="finance"))
    assert client.get(reverse("admin:kyc_personaldataaccess_changelist")).status_code == 403
    assert client.get(reverse("admin:kyc_personaldataaccess_export")).status_code == 403


def test_ops_role_holds_redaction_and_log_permissions():
    ops = Group.objects.get(name="ops")
    codenames = set(ops.permissions.values_list("codename", flat=True))
    assert {"redact_session", "view_personaldataaccess", "change_retentionpolicy"} <= codenames
    assert not Permission.objects.filter(codename="delete_personaldataaccess", group__name="ops").exists()


# --- the session page -------------------------------------------------------------------


@pytest.fixture
def completed_session(session):
    from kyc.documents import store_images

    paths = store_images(session=session, images={"front_document": b"front-bytes", "face_image": b"face-bytes"})
    KycSession.objects.filter(pk=session.pk).update(
        status="completed",
        result="approved",
        completed_at=timezone.now(),
        ocr_id_number="901234-56-7890",
        ocr_address="12, Jalan Ampang, 50450 Kuala Lumpur",
        raw_result={"step1": {"secret_provider_field": "PROVIDER-RAW-VALUE"}},
        **paths,
    )
    session.refresh_from_db()
    return session


def test_finance_sees_masked_numbers_no_address_no_raw_body_and_no_images(client, staff_user, completed_session):
    client.force_login(staff_user("fin3", role="finance"))
    page = client.get(reverse("admin:kyc_kycsession_change", args=[completed_session.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "9012••••7890" in html and "12,••••" in html
    assert "901234-56-7890" not in html and "Jalan Ampang" not in html and "PROVIDER-RAW-VALUE" not in html
    assert "/files/" not in html and "X-Amz" not in html  # no image URLs
    images = client.get(reverse("admin:kyc_kycsession_image", args=[completed_session.pk, "front_document"]))
    assert images.status_code == 403
    assert not PersonalDataAccess.objects.exists()


def test_ops_sees_full_data_recorded_and_images_only_on_click(client, staff_user, completed_session):
    ops = staff_user("ops5")
    client.force_login(ops)
    page = client.get(reverse("admin:kyc_kycsession_change", args=[completed_session.pk]), REMOTE_ADDR="192.0.2.4")
    html = page.content.decode()
    assert "901234-56-7890" in html and "Jalan Ampang" in html
    assert "/files/" not in html and "Show images" in html  # images not on page load
    row = PersonalDataAccess.objects.get()
    assert (row.what, row.username, row.session_id, row.remote_addr) == (
        "id_number",
        "ops5",
        completed_session.id,
        "192.0.2.4",
    )
    for kind in ("front_document", "face_image"):
        image = client.get(reverse("admin:kyc_kycsession_image", args=[completed_session.pk, kind]))
        assert image.status_code == 200 and "no-store" in image["Cache-Control"]
    logged = PersonalDataAccess.objects.filter(what="images").order_by("id")
    assert [row.detail for row in logged] == ["front_document", "face_image"]
    assert {row.user for row in logged} == {ops}


def test_staff_redact_view_asks_a_reason_and_records_it(client, staff_user, completed_session):
    ops = staff_user("ops6")
    client.force_login(ops)
    url = reverse("admin:kyc_kycsession_redact", args=[completed_session.pk])
    assert client.get(url).status_code == 200
    missing = client.post(url, {"reason": ""})
    assert missing.status_code == 200 and "This field is required" in missing.content.decode()
    done = client.post(url, {"reason": "client ticket 981"}, REMOTE_ADDR="192.0.2.9")
    assert done.status_code == 302
    completed_session.refresh_from_db()
    assert completed_session.redaction_state == "pending"
    row = PersonalDataAccess.objects.get(what="redaction")
    assert (row.username, row.detail, row.remote_addr) == ("ops6", "staff: client ticket 981", "192.0.2.9")
    page = client.get(reverse("admin:kyc_kycsession_change", args=[completed_session.pk])).content.decode()
    assert "Redaction pending" in page


def test_redact_needs_the_permission_and_a_final_session(client, staff_user, session):
    client.force_login(staff_user("fin4", role="finance"))
    url = reverse("admin:kyc_kycsession_redact", args=[session.pk])
    assert client.post(url, {"reason": "x"}).status_code == 403
    client.force_login(staff_user("ops7"))
    response = client.post(url, {"reason": "x"}, follow=True)
    assert "Open sessions cannot be redacted" in response.content.decode()
    session.refresh_from_db()
    assert session.redaction_state == ""


def test_webhook_bodies_need_the_personal_data_permission(client, django_user_model, session):
    from kyc.services import session_event_record

    event = session_event_record(session=session, kind="kyc.session.expired")
    support = django_user_model.objects.create_user("support", is_staff=True)
    support.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="webhooks", codename__in=["view_event", "view_delivery"])
    )
    client.force_login(support)
    for url in (
        reverse("admin:webhooks_event_change", args=[event.pk]),
        reverse("admin:webhooks_delivery_change", args=[event.deliveries.get().pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert "901234-56-7890" not in page.content.decode() and "Ahmad" not in page.content.decode()
    support.user_permissions.add(Permission.objects.get(codename="view_session_images"))
    support = django_user_model.objects.get(pk=support.pk)  # fresh permission cache
    client.force_login(support)
    page = client.get(reverse("admin:webhooks_event_change", args=[event.pk]))
    assert "901234-56-7890" in page.content.decode()


def test_access_log_list_query_count_does_not_grow(client, staff_user, session, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ops = staff_user("ops8")
    client.force_login(ops)
    url = reverse("admin:kyc_personaldataaccess_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    personal_data_access_record(user=ops, what="images", session=session)
    few = queries()
    for _ in range(30):
        personal_data_access_record(user=ops, what="id_number", session=session)
    assert queries() == few
    with django_assert_max_num_queries(few):
        client.get(url)
