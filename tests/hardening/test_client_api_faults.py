"""Client API under faults and probing: test keys see test sessions only (and have
their own open-session cap), a full provider bulkhead answers 503 at once,
crafted cursors and private webhook targets are 400, an unwritable media folder
or one bad session never turns into a 500 or a lost batch, the rate limit holds
while Redis is down, and unknown /api/ paths are JSON 404s for every method."""

import base64
import socket
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from kyc import services
from kyc.innovatif.concurrency import provider_slot
from kyc.models import KycSession
from kyc.validation import validate_session_create
from truestack import outbound, ratelimit

from ..kyc.helpers import create_session, sandbox_complete

pytestmark = pytest.mark.django_db(transaction=True)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code and body["message"]
    return body


@pytest.fixture
def live_session(api, funded, provider, valid_body):
    return KycSession.objects.get(pk=create_session(api, valid_body)["id"])


# --- test keys and live data -------------------------------------------------------------


def test_a_test_key_cannot_read_refresh_list_or_download_live_sessions(test_api, live_session):
    sandbox_complete(live_session, outcome="approved")
    base = f"/api/v1/kyc/sessions/{live_session.id}"
    assert_error(test_api.get(base), 404, "NOT_FOUND")
    assert_error(test_api.post(base), 404, "NOT_FOUND")
    for kind in KycSession.DOCUMENT_KINDS:
        assert_error(test_api.get(f"{base}/documents/{kind}"), 404, "NOT_FOUND")
    assert test_api.get("/api/v1/kyc/sessions").json()["results"] == []


def test_each_key_lists_and_reads_its_own_environment(api, test_api, live_session, valid_body):
    test_session = create_session(test_api, valid_body)
    assert [row["id"] for row in test_api.get("/api/v1/kyc/sessions").json()["results"]] == [test_session["id"]]
    assert [row["id"] for row in api.get("/api/v1/kyc/sessions").json()["results"]] == [str(live_session.id)]
    assert test_api.get(f"/api/v1/kyc/sessions/{test_session['id']}").status_code == 200
    assert_error(api.get(f"/api/v1/kyc/sessions/{test_session['id']}"), 404, "NOT_FOUND")


def test_test_sessions_have_their_own_cap_and_never_block_live_creates(
    settings, api, test_api, funded, provider, valid_body
):
    settings.MAX_OPEN_TEST_SESSIONS = 2
    funded.max_open_sessions = 1
    funded.save()
    for _ in range(2):
        create_session(test_api, valid_body)
    body = assert_error(
        test_api.post("/api/v1/kyc/sessions", valid_body, format="json"), 429, "CONCURRENT_SESSION_LIMIT"
    )
    assert "test sessions" in body["message"]
    create_session(api, valid_body)  # the live cap (1) is untouched by two open test sessions
    assert_error(api.post("/api/v1/kyc/sessions", valid_body, format="json"), 429, "CONCURRENT_SESSION_LIMIT")


# --- provider bulkhead ---------------------------------------------------------------------


def test_a_full_provider_bulkhead_answers_503_at_once_and_writes_nothing(
    settings, api, test_api, funded, provider, valid_body
):
    settings.PROVIDER_MAX_CONCURRENT_CALLS = 1
    settings.PROVIDER_CALL_WAIT_SECONDS = 0.05
    existing = create_session(api, valid_body)
    with provider_slot(is_test=False):  # a slow live provider call holds the only slot
        response = api.post("/api/v1/kyc/sessions", valid_body, format="json")
        assert_error(response, 503, "PROVIDER_BUSY")
        assert int(response["Retry-After"]) > 0
        assert KycSession.objects.count() == 1
        assert_error(api.post(f"/api/v1/kyc/sessions/{existing['id']}"), 503, "PROVIDER_BUSY")
        assert api.get(f"/api/v1/kyc/sessions/{existing['id']}").status_code == 200  # reads need no slot
        create_session(test_api, valid_body)  # the sandbox has slots of its own
    create_session(api, valid_body)


# --- cursors -------------------------------------------------------------------------------


@pytest.mark.parametrize("position", ["x", "2026-13-45", "' OR 1=1 --", ""])
def test_a_crafted_cursor_is_400(api, position):
    cursor = base64.b64encode(f"p={position}".encode()).decode()
    assert_error(api.get("/api/v1/kyc/sessions", {"cursor": cursor}), 400, "BAD_REQUEST")


def test_a_real_cursor_still_pages(api, funded, provider, valid_body):
    for _ in range(3):
        create_session(api, valid_body)
    first = api.get("/api/v1/kyc/sessions", {"limit": 2}).json()
    assert first["next"]
    second = api.get(first["next"])
    assert second.status_code == 200 and len(second.json()["results"]) == 1


# --- webhook_url vetting at create -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://localhost/hook",
        "ftp://example.com/hook",
    ],
)
def test_private_or_unroutable_webhook_urls_are_refused_at_create(settings, api, funded, url, valid_body):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    outbound._target_checks.clear()
    body = assert_error(
        api.post("/api/v1/kyc/sessions", dict(valid_body, webhook_url=url), format="json"), 400, "BAD_REQUEST"
    )
    assert "webhook_url" in body["message"]
    assert not KycSession.objects.exists()


def test_webhook_url_resolutions_are_cached(settings, monkeypatch, valid_body):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    outbound._target_checks.clear()
    lookups = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        lookups.append(host)
        address = "10.0.0.5" if host == "internal.example" else "93.184.215.14"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fake_getaddrinfo)
    for _ in range(3):
        assert validate_session_create(dict(valid_body, webhook_url="https://hooks.example/a"))
    assert lookups == ["hooks.example"]
    with pytest.raises(Exception, match="non-public"):
        validate_session_create(dict(valid_body, webhook_url="https://internal.example/hook"))


# --- storage and job failures ------------------------------------------------------------


def test_an_unwritable_media_folder_makes_refresh_answer_not_500(settings, tmp_path, api, live_session):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media folder should be")
    good_media = settings.MEDIA_ROOT
    settings.MEDIA_ROOT = str(blocker / "media")
    sandbox_complete(live_session, outcome="approved", send_callback=False)

    response = api.post(f"/api/v1/kyc/sessions/{live_session.id}")
    assert response.status_code == 200
    body = response.json()
    assert body["refreshed"] is False and "documents" in body["error"]
    assert KycSession.objects.get(pk=live_session.pk).status == "pending"  # nothing billed without its images

    settings.MEDIA_ROOT = good_media
    body = api.post(f"/api/v1/kyc/sessions/{live_session.id}").json()
    assert body["refreshed"] is True and body["status"] == "completed"
    assert all(body["images"][kind] for kind in KycSession.DOCUMENT_KINDS)


def _make_stale(sessions):
    past = timezone.now() - timedelta(hours=1)
    KycSession.objects.filter(pk__in=[s.pk for s in sessions]).update(created_at=past)


def test_one_failing_session_does_not_stop_the_poll_batch(monkeypatch, api, funded, provider, valid_body):
    sessions = [KycSession.objects.get(pk=create_session(api, valid_body)["id"]) for _ in range(3)]
    _make_stale(sessions)
    for session in sessions:
        sandbox_complete(session, outcome="approved", send_callback=False)
    real_fetch = services._fetch_provider_result
    poisoned = sessions[0].pk

    def fetch(session, **kwargs):
        if session.pk == poisoned:
            raise RuntimeError("unexpected provider answer")
        return real_fetch(session, **kwargs)

    monkeypatch.setattr(services, "_fetch_provider_result", fetch)
    assert services.sessions_poll_stale() == 2
    statuses = dict(KycSession.objects.values_list("pk", "status"))
    assert statuses.pop(poisoned) == "pending"
    assert set(statuses.values()) == {"completed"}


def test_one_failing_session_does_not_stop_the_expiry_batch(monkeypatch, api, funded, provider, valid_body):
    sessions = [KycSession.objects.get(pk=create_session(api, valid_body)["id"]) for _ in range(3)]
    KycSession.objects.update(expires_at=timezone.now() - timedelta(hours=2))
    poisoned = sessions[1].pk
    real_expire = services.session_expire

    def expire(*, session):
        if session.pk == poisoned:
            raise RuntimeError("unexpected")
        return real_expire(session=session)

    monkeypatch.setattr(services, "session_expire", expire)
    assert services.sessions_expire_due() == 2
    statuses = dict(KycSession.objects.values_list("pk", "status"))
    assert statuses.pop(poisoned) == "pending"
    assert set(statuses.values()) == {"expired"}


# --- rate limit while Redis is down --------------------------------------------------------


def test_the_rate_limit_holds_per_process_while_redis_is_down(settings, api, monkeypatch):
    monkeypatch.setattr(ratelimit, "_shared_down_until", [0.0])  # this test's outage ends with it
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    url = f"/api/v1/kyc/sessions/{uuid.uuid4()}"
    codes = [api.get(url).status_code for _ in range(3)]
    assert codes == [404, 404, 429]


# --- unknown paths under /api/ -------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "get"])
@pytest.mark.parametrize("path", ["/api/v1/nonexistent", "/api/v2/kyc/sessions", "/api/"])
def test_unknown_api_paths_are_json_404_for_every_method(method, path):
    client = APIClient(enforce_csrf_checks=True)
    response = getattr(client, method)(path, {"a": 1}, format="json")
    assert_error(response, 404, "NOT_FOUND")
