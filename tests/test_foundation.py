"""Foundation: /healthz, the API error envelope, seed_demo and the runner's wiring."""

import json
import os
import stat
import uuid
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import OperationalError, connections
from django.test import override_settings

from billing.models import LedgerEntry
from clients.models import ApiKey, Client
from clients.selectors import api_key_get_for_auth
from clients.services import api_key_revoke

pytestmark = pytest.mark.django_db

TEST_URLS = "tests.clients.urls_auth"


def _envelope(response, status, code, message=None):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    if message is not None:
        assert body["message"] == message
    return body


# --- /healthz -----------------------------------------------------------------------


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_503_when_the_database_does_not_answer(client):
    with mock.patch.object(connections["default"], "cursor", side_effect=OperationalError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] != "ok"


# --- error envelope under /api/ -------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_path_is_json_404(client, debug):
    with override_settings(DEBUG=debug):
        for method in ("get", "post", "delete"):
            response = getattr(client, method)("/api/nope")
            _envelope(response, 404, "NOT_FOUND")
        _envelope(client.get("/api/v2/anything/at/all"), 404, "NOT_FOUND")


def test_http404_inside_an_api_view(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    _envelope(api.get("/api/test/missing"), 404, "NOT_FOUND", "Not found")


def test_405_is_json(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    body = _envelope(api.delete("/api/test/whoami"), 405, "METHOD_NOT_ALLOWED")
    assert "DELETE" in body["message"]


def test_405_on_the_session_collection(api):
    _envelope(api.delete("/api/v1/kyc/sessions"), 405, "METHOD_NOT_ALLOWED")


def test_415_for_non_json_body(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    response = api.post("/api/test/whoami", data="a=b", content_type="application/x-www-form-urlencoded")
    _envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_400_for_malformed_json(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    response = api.post("/api/test/whoami", data="{not json", content_type="application/json")
    _envelope(response, 400, "BAD_REQUEST", "Request body must be valid JSON")


def test_json_body_is_accepted(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    response = api.post("/api/test/whoami", data={"a": 1}, format="json")
    assert response.status_code == 200
    assert response.json() == {"received": {"a": 1}}


def test_400_validation_error_is_flattened(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    _envelope(api.get("/api/test/invalid"), 400, "BAD_REQUEST", "document_name: This field is required.")


def test_403_is_json(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    _envelope(api.get("/api/test/forbidden"), 403, "FORBIDDEN")


def test_429_has_retry_after(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    response = api.get("/api/test/throttled")
    _envelope(response, 429, "RATE_LIMITED")
    assert response["Retry-After"] == "30"


def test_application_error_keeps_its_code_and_extra(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    body = _envelope(api.get("/api/test/poor"), 402, "INSUFFICIENT_CREDITS", "Client credit balance exhausted")
    assert body["balance"] == 5


def test_500_is_json_and_hides_the_exception(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    body = _envelope(api.get("/api/test/broken"), 500, "SERVER_ERROR")
    assert "boom" not in json.dumps(body)


def test_413_for_oversize_body(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    settings.API_MAX_BODY_BYTES = 100
    response = api.post("/api/test/whoami", data={"x": "y" * 200}, format="json")
    _envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_api_never_answers_html_even_when_the_client_asks_for_it(api, settings):
    settings.ROOT_URLCONF = TEST_URLS
    response = api.get("/api/test/missing", HTTP_ACCEPT="text/html")
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] in ("NOT_FOUND", "NOT_ACCEPTABLE")


def test_non_api_404_is_not_json(client):
    response = client.get("/definitely-not-here")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_real_session_read_of_unknown_id_is_json_404(api):
    _envelope(api.get(f"/api/v1/kyc/sessions/{uuid.uuid4()}"), 404, "NOT_FOUND")


# --- seed_demo ------------------------------------------------------------------------


@pytest.fixture
def demo_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def _seed():
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def test_seed_demo_creates_everything(demo_dir, settings):
    summary = _seed()
    assert summary["username"] == "admin"
    assert summary["password"] == "truestack-demo"
    assert summary["admin_url"] == f"{settings.PUBLIC_BASE_URL}/admin/"
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password("truestack-demo")

    client = Client.objects.get(code="DEMO_CLI")
    assert client.name == "Demo Lender Sdn Bhd"
    assert client.allow_overdraft is False
    entry = LedgerEntry.objects.get(client=client)
    assert (entry.kind, entry.amount, entry.description) == ("topup", 1000, "Opening balance")

    live = api_key_get_for_auth(raw_key=summary["live_key"])
    test = api_key_get_for_auth(raw_key=summary["test_key"])
    assert (live.client, live.environment) == (client, "live")
    assert (test.client, test.environment) == (client, "test")

    keys_file = demo_dir / "demo-keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert json.loads(keys_file.read_text()) == {"live": summary["live_key"], "test": summary["test_key"]}


def test_seed_demo_is_idempotent(demo_dir):
    first = _seed()
    second = _seed()
    assert first == second
    assert User.objects.filter(username="admin").count() == 1
    assert Client.objects.filter(code="DEMO_CLI").count() == 1
    assert ApiKey.objects.filter(client__code="DEMO_CLI").count() == 2
    assert LedgerEntry.objects.filter(client__code="DEMO_CLI").count() == 1


def test_seed_demo_makes_new_keys_when_the_file_is_gone(demo_dir):
    first = _seed()
    (demo_dir / "demo-keys.json").unlink()
    second = _seed()
    assert second["live_key"] != first["live_key"]
    assert second["test_key"] != first["test_key"]
    assert api_key_get_for_auth(raw_key=second["live_key"]).status == ApiKey.Status.ACTIVE
    assert json.loads((demo_dir / "demo-keys.json").read_text())["live"] == second["live_key"]
    assert Client.objects.filter(code="DEMO_CLI").count() == 1
    assert LedgerEntry.objects.filter(client__code="DEMO_CLI").count() == 1


def test_seed_demo_replaces_a_revoked_key(demo_dir):
    first = _seed()
    api_key_revoke(api_key=api_key_get_for_auth(raw_key=first["test_key"]))
    second = _seed()
    assert second["live_key"] == first["live_key"]
    assert second["test_key"] != first["test_key"]
    assert api_key_get_for_auth(raw_key=second["test_key"]).status == ApiKey.Status.ACTIVE


def test_seed_demo_password_from_environment(demo_dir, monkeypatch):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "another-demo-pass")
    assert _seed()["password"] == "another-demo-pass"
    assert User.objects.get(username="admin").check_password("another-demo-pass")


def test_seed_demo_refuses_production_settings(demo_dir, settings):
    settings.SETTINGS_MODULE = "truestack.settings.production"
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()


# --- runner wiring (the processes themselves are exercised by `make run`) -----------


def test_runner_environment_defaults(monkeypatch):
    from truestack import runner

    for name in ("DATA_DIR", "PORT", "PUBLIC_BASE_URL", "DJANGO_SETTINGS_MODULE"):
        monkeypatch.delenv(name, raising=False)
    env = runner.build_env()
    assert env["DJANGO_SETTINGS_MODULE"] == "truestack.settings.local"
    assert env["PORT"] == "3001"
    assert env["PUBLIC_BASE_URL"] == "http://localhost:3001"
    assert Path(env["DATA_DIR"]) == runner.BASE_DIR / "var"

    monkeypatch.setenv("PORT", "47299")
    monkeypatch.setenv("DATA_DIR", "relative-dir")
    env = runner.build_env()
    assert env["PUBLIC_BASE_URL"] == "http://localhost:47299"
    assert os.path.isabs(env["DATA_DIR"])


def test_runner_commands():
    from truestack import runner

    commands = runner.process_commands({"PORT": "47299", "DATA_DIR": "/tmp/x"})
    web = " ".join(commands["web"])
    assert "gunicorn truestack.wsgi --bind 127.0.0.1:47299 --workers 1 --threads 8 --worker-class gthread" in web
    assert "celery -A truestack worker -Q celery,webhooks -P threads -c 8" in " ".join(commands["worker"])
    assert "celery -A truestack beat --schedule /tmp/x/celerybeat-schedule" in " ".join(commands["beat"])


def test_runner_banner_has_a_working_curl():
    from truestack import runner

    env = {"PORT": "47299", "PUBLIC_BASE_URL": "http://localhost:47299", "DATA_DIR": "/tmp/x"}
    text = runner.banner(env, {"username": "admin", "password": "pw", "live_key": "ts_live_L", "test_key": "ts_test_T"})
    assert "http://localhost:47299/admin/" in text
    assert "curl -s -X POST http://localhost:47299/api/v1/kyc/sessions" in text
    assert "Authorization: Bearer ts_live_L" in text and "ts_test_T" in text
    body = text.split("-d '", 1)[1].split("'", 1)[0]
    assert json.loads(body)["webhook_url"] == "http://localhost:8080/webhooks/kyc"
    assert "/api/docs/" in text
