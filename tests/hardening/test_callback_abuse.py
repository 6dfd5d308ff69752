"""The unauthenticated provider callback endpoint: hostile bodies are refused
(400, never a crash or a 202), poison rows are counted, capped and parked,
refused bodies are purged on a schedule, and size, rate and source limits hold
before anything is stored."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from kyc import callbacks, tasks
from kyc.models import ProviderCallback
from truestack.formats import JsonTooDeep, json_loads_bounded, json_nesting_depth

pytestmark = pytest.mark.django_db

CALLBACK_PATH = "/api/internal/webhooks/innovatif/ekyc"


def post(body: bytes, *, source: str = "192.0.2.10", **extra):
    return Client().post(CALLBACK_PATH, data=body, content_type="application/json", REMOTE_ADDR=source, **extra)


# --- parsing (item: poison callbacks) -------------------------------------------------


def test_nesting_depth_is_measured_without_recursion_and_ignores_strings():
    assert json_nesting_depth(b'{"a": [1, {"b": "[[[[\\"[[{{"}]}') == 3
    assert json_nesting_depth(b"[" * 1_000_000) == 1_000_000
    with pytest.raises(JsonTooDeep):
        json_loads_bounded(b"[" * 100_000 + b"]" * 100_000)
    assert json_loads_bounded(b'{"a": [1, 2]}') == {"a": [1, 2]}


def test_bounded_loads_counts_brackets_before_scanning():
    # Few brackets in all: parsed without the scan, however deep they nest.
    assert json_loads_bounded(b"[" * 3 + b"]" * 3, max_depth=3) == [[[]]]
    with pytest.raises(JsonTooDeep):
        json_loads_bounded(b"[" * 4 + b"]" * 4, max_depth=3)
    # Many brackets, all inside a string: the scan decides, and lets it through.
    assert json_loads_bounded(b'{"s": "' + b"[{" * 100 + b'"}', max_depth=3) == {"s": "[{" * 100}


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"data": ' * 50_000 + b"1" + b"}" * 50_000,
        b'{"api_key": "x\x00", "data": "\x00\x00"}',
        b"\x00" * 1000,
        b"\xff\xfe garbage \x80\x81",
        b'{"data": "not-base64-at-all!!", "api_key": "SANDBOXapikey0123456789abcdefXYZ"}',
        b'{"data": {"ref_id": ["a"], "status": {}}}',
    ],
    ids=["deep-array", "deep-object", "nul-in-json", "nul-only", "garbage", "bad-envelope", "wrong-types"],
)
def test_hostile_bodies_are_refused_with_400_and_a_small_json_answer(body):
    response = post(body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["success"] is False and len(response.content) < 200
    row = ProviderCallback.objects.get()
    assert row.state == ProviderCallback.State.REJECTED and row.attempts == 1
    assert len(row.body) <= callbacks.REJECTED_BODY_KEEP


def test_a_callback_that_keeps_failing_is_parked_with_its_body_dropped(settings, monkeypatch):
    settings.CALLBACK_MAX_ATTEMPTS = 3
    row = callbacks.callback_record(body=b'{"some": "body"}', remote_addr="192.0.2.1")

    def crash(**kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr(callbacks, "parse_callback", crash)
    ProviderCallback.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(minutes=5))
    runs = 0
    while ProviderCallback.objects.get(pk=row.pk).state != ProviderCallback.State.PARKED:
        runs += 1
        assert runs <= settings.CALLBACK_MAX_ATTEMPTS + 1, "never parked"
        callbacks.callbacks_reprocess()
    row.refresh_from_db()
    assert row.attempts == settings.CALLBACK_MAX_ATTEMPTS
    assert row.body == "" and "parked" in row.error
    callbacks.callbacks_reprocess()  # parked rows are left alone
    assert ProviderCallback.objects.get(pk=row.pk).attempts == settings.CALLBACK_MAX_ATTEMPTS


def test_a_row_whose_attempts_were_used_up_by_crashes_is_parked_by_the_next_run(settings):
    settings.CALLBACK_MAX_ATTEMPTS = 2
    row = callbacks.callback_record(body=b"x" * 1000, remote_addr=None)
    # Two attempts that died with their process (counted before the work, never settled).
    ProviderCallback.objects.filter(pk=row.pk).update(attempts=2, received_at=timezone.now() - timedelta(hours=1))
    callbacks.callbacks_reprocess()
    row.refresh_from_db()
    assert row.state == ProviderCallback.State.PARKED and row.body == ""


def test_refused_callbacks_are_purged_after_the_retention(settings):
    old = post(b"not json", source="192.0.2.20")
    assert old.status_code == 400
    ProviderCallback.objects.update(
        received_at=timezone.now() - settings.CALLBACK_REFUSED_RETENTION - timedelta(hours=1)
    )
    assert post(b"not json either", source="192.0.2.20").status_code == 400
    applied = callbacks.callback_record(body=b"{}", remote_addr=None)
    ProviderCallback.objects.filter(pk=applied.pk).update(
        state=ProviderCallback.State.PROCESSED, received_at=timezone.now() - timedelta(days=30)
    )

    assert tasks.purge_refused_callbacks() == 1
    assert set(ProviderCallback.objects.values_list("state", flat=True)) == {"rejected", "processed"}
    entries = {entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()}
    assert "kyc.tasks.purge_refused_callbacks" in entries


# --- endpoint limits -----------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_it_is_read(settings):
    settings.PROVIDER_CALLBACK_MAX_BODY_BYTES = 1024
    response = post(b"{" + b" " * 2000 + b"}")
    assert response.status_code == 413
    assert response.json()["error"] == "PAYLOAD_TOO_LARGE"
    assert not ProviderCallback.objects.exists()


def test_the_default_body_limit_is_a_few_megabytes():
    assert 1024 * 1024 <= django_settings.PROVIDER_CALLBACK_MAX_BODY_BYTES <= 8 * 1024 * 1024


def test_callbacks_are_rate_limited_per_source_address(settings):
    settings.INNOVATIF_CALLBACK_RATE_LIMIT_PER_MINUTE = 3
    codes = [post(b"nope", source="198.51.100.7").status_code for _ in range(5)]
    assert codes == [400, 400, 400, 429, 429]
    assert ProviderCallback.objects.count() == 3
    limited = post(b"nope", source="198.51.100.7")
    assert int(limited["Retry-After"]) > 0
    assert post(b"nope", source="198.51.100.8").status_code == 400  # another source is unaffected


def test_the_source_allowlist_refuses_other_addresses_without_storing(settings):
    settings.INNOVATIF_CALLBACK_ALLOWED_IPS = ["203.0.113.0/24", "2001:db8::/32"]
    assert post(b"nope", source="192.0.2.50").status_code == 403
    assert not ProviderCallback.objects.exists()
    assert post(b"nope", source="203.0.113.9").status_code == 400
    assert post(b"nope", source="2001:db8::1").status_code == 400
    assert ProviderCallback.objects.count() == 2


def test_behind_a_proxy_the_configured_header_names_the_source(settings):
    settings.INNOVATIF_CALLBACK_ALLOWED_IPS = ["203.0.113.0/24"]
    settings.INNOVATIF_CALLBACK_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    # The proxy appends the address it saw: the rightmost entry; anything before it is the caller's claim.
    ok = post(b"nope", source="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.5")
    forged = post(b"nope", source="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.5, 192.0.2.1")
    assert ok.status_code == 400 and forged.status_code == 403
    assert ProviderCallback.objects.get().remote_addr == "203.0.113.5"


def test_parked_callbacks_are_listed_in_the_admin(admin_client):
    row = callbacks.callback_record(body=b"{}", remote_addr=None)
    ProviderCallback.objects.filter(pk=row.pk).update(state=ProviderCallback.State.PARKED, error="parked after 5")
    response = admin_client.get("/admin/kyc/providercallback/", {"state__exact": "parked"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Parked (attempts used up)" in html and "parked after 5" in html
