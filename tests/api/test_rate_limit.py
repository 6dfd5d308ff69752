"""Per-client rate limit: 60 requests per minute by default, counted in the shared
cache, 429 RATE_LIMITED with Retry-After, X-RateLimit-* on every answer."""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient

from truestack import ratelimit

BASE_DIR = Path(django_settings.BASE_DIR)
NOW = 1_800_000_030.0  # 30 s into a window (1_800_000_000 is a multiple of 60)
WINDOW_END = 1_800_000_060


@pytest.fixture
def frozen_clock(monkeypatch):
    state = {"now": NOW}
    monkeypatch.setattr(ratelimit, "clock", lambda: state["now"])
    return state


def _detail_url() -> str:
    return f"/api/v1/kyc/sessions/{uuid.uuid4()}"


def _client_for(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def _headers(response) -> tuple[int, int, int]:
    return (
        int(response["X-RateLimit-Limit"]),
        int(response["X-RateLimit-Remaining"]),
        int(response["X-RateLimit-Reset"]),
    )


@pytest.mark.django_db
class TestWindow:
    def test_61st_request_in_a_minute_is_429_with_retry_after(self, api, frozen_clock):
        for number in range(1, 61):
            response = api.get(_detail_url())
            assert response.status_code == 404, response.content
            assert _headers(response) == (60, 60 - number, WINDOW_END)

        response = api.get(_detail_url())
        assert response.status_code == 429
        assert response["Content-Type"].startswith("application/json")
        assert response.json() == {
            "error": "RATE_LIMITED",
            "message": "Rate limit exceeded: 60 requests per minute; retry in 30 seconds",
        }
        assert response["Retry-After"] == "30"
        assert _headers(response) == (60, 0, WINDOW_END)

    def test_counter_lives_in_the_shared_cache_and_expires(self, api, acme, frozen_clock):
        from django.core.cache import cache

        for _ in range(3):
            api.get(_detail_url())
        key = f"{ratelimit.KEY_PREFIX}:{acme.pk}:{WINDOW_END - 60}"
        assert cache.get(key) == 3
        if hasattr(cache, "ttl"):
            assert 0 < cache.ttl(key) <= 65

    def test_next_window_is_allowed_again(self, api, frozen_clock):
        for _ in range(60):
            api.get(_detail_url())
        assert api.get(_detail_url()).status_code == 429
        frozen_clock["now"] = WINDOW_END + 0.5
        response = api.get(_detail_url())
        assert response.status_code == 404
        assert _headers(response) == (60, 59, WINDOW_END + 60)

    def test_retry_after_rounds_up_and_is_at_least_one_second(self, api, frozen_clock, settings):
        settings.API_RATE_LIMIT_PER_MINUTE = 1
        frozen_clock["now"] = WINDOW_END - 0.2
        api.get(_detail_url())
        response = api.get(_detail_url())
        assert response.status_code == 429 and response["Retry-After"] == "1"

    def test_every_client_api_operation_is_counted_and_carries_the_headers(self, api, frozen_clock):
        session_id = uuid.uuid4()
        answers = [
            api.get("/api/v1/kyc/sessions"),
            api.post("/api/v1/kyc/sessions", {}, format="json"),
            api.get(f"/api/v1/kyc/sessions/{session_id}"),
            api.post(f"/api/v1/kyc/sessions/{session_id}"),
            api.get(f"/api/v1/kyc/sessions/{session_id}/documents/face_image"),
            api.post("/api/v1/kyc/sessions", "x", content_type="text/plain"),
        ]
        assert [r.status_code for r in answers] == [200, 400, 404, 404, 404, 415]
        assert [_headers(r)[1] for r in answers] == [59, 58, 57, 56, 55, 54]


@pytest.mark.django_db
class TestPerClient:
    def test_default_is_configurable(self, api, frozen_clock, settings):
        settings.API_RATE_LIMIT_PER_MINUTE = 5
        codes = [api.get(_detail_url()).status_code for _ in range(6)]
        assert codes == [404] * 5 + [429]

    def test_per_client_override(self, api, acme, frozen_clock):
        acme.rate_limit_per_minute = 3
        acme.save(update_fields=["rate_limit_per_minute"])
        responses = [api.get(_detail_url()) for _ in range(4)]
        assert [r.status_code for r in responses] == [404, 404, 404, 429]
        assert _headers(responses[0])[0] == 3
        assert responses[3].json()["message"] == "Rate limit exceeded: 3 requests per minute; retry in 30 seconds"

    def test_clients_are_counted_separately(self, api, make_client, make_api_key, frozen_clock, settings):
        settings.API_RATE_LIMIT_PER_MINUTE = 2
        other = _client_for(make_api_key(make_client(code="OTHER"))[1])
        for _ in range(2):
            api.get(_detail_url())
        assert api.get(_detail_url()).status_code == 429
        response = other.get(_detail_url())
        assert response.status_code == 404 and _headers(response)[1] == 1

    def test_keys_of_one_client_share_its_limit(self, api, acme, make_api_key, frozen_clock, settings):
        settings.API_RATE_LIMIT_PER_MINUTE = 2
        second_key = _client_for(make_api_key(acme, environment="test")[1])
        api.get(_detail_url())
        second_key.get(_detail_url())
        assert api.get(_detail_url()).status_code == 429
        assert second_key.get(_detail_url()).status_code == 429


@pytest.mark.django_db
class TestNotCounted:
    def test_unauthenticated_requests_do_not_count_and_carry_no_headers(self, api, anon_api, frozen_clock, settings):
        settings.API_RATE_LIMIT_PER_MINUTE = 2
        bad = _client_for("ts_live_" + "x" * 40)
        for client in (bad, anon_api, bad):
            response = client.get(_detail_url())
            assert response.status_code == 401
            assert "X-RateLimit-Limit" not in response and "Retry-After" not in response
        response = api.get(_detail_url())
        assert response.status_code == 404 and _headers(response)[1] == 1

    def test_schema_and_docs_are_public_and_not_throttled(self, anon_api, settings):
        settings.API_RATE_LIMIT_PER_MINUTE = 1
        for _ in range(3):
            for path in ("/api/schema/", "/api/docs/"):
                response = anon_api.get(path)
                assert response.status_code == 200, path
                assert "X-RateLimit-Limit" not in response

    def test_provider_callback_is_not_throttled(self, anon_api, settings):
        settings.API_RATE_LIMIT_PER_MINUTE = 1
        for _ in range(3):
            response = anon_api.post("/api/internal/webhooks/innovatif/ekyc", b"{}", content_type="application/json")
            assert response.status_code != 429
            assert "X-RateLimit-Limit" not in response

    def test_cache_outage_serves_requests(self, api, monkeypatch):
        def down(key):
            raise ConnectionError("cache down")

        monkeypatch.setattr(ratelimit, "_count", down)
        response = api.get(_detail_url())
        assert response.status_code == 404
        assert "X-RateLimit-Limit" not in response


# --- across processes --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_server(port: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "truestack.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_ready(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server on {port} exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server on {port} did not start")


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_limit_holds_across_two_processes_sharing_redis(make_client, make_api_key, tmp_path):
    raw_key = make_api_key(make_client(code="TWOPROC"))[1]
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="truestack.settings.test",
        DATABASE_URL=_database_url(),
        REDIS_URL=django_settings.REDIS_URL,
        DATA_DIR=str(tmp_path),
        API_RATE_LIMIT_PER_MINUTE="60",
    )
    ports = [_free_port(), _free_port()]
    servers = [_start_server(port, env) for port in ports]
    try:
        for port, server in zip(ports, servers):
            _wait_ready(port, server)
        answers = []  # (port, status, remaining, reset)
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {raw_key}"
            for number in range(150):
                port = ports[number % 2]
                response = http.get(f"http://127.0.0.1:{port}/api/v1/kyc/sessions/{uuid.uuid4()}", timeout=10)
                answers.append(
                    (
                        port,
                        response.status_code,
                        int(response.headers["X-RateLimit-Remaining"]),
                        int(response.headers["X-RateLimit-Reset"]),
                    )
                )
                if response.status_code == 429:
                    assert int(response.headers["Retry-After"]) >= 1
                    assert response.json()["error"] == "RATE_LIMITED"
                    break
        assert answers[-1][1] == 429, "no request was refused"
        # Requests in the refused request's window (a minute boundary may fall inside the run).
        window = [answer for answer in answers if answer[3] == answers[-1][3]]
        served = window[:-1]
        assert len(served) == 60 and {status for _, status, _, _ in served} == {404}
        assert {port for port, _, _, _ in served} == set(ports)
        assert [remaining for _, _, remaining, _ in served] == list(range(59, -1, -1))
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
