import gc
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from clients.models import ApiKey
from clients.services import api_key_create, client_create


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need real row locks; on SQLite they are reported
    as skipped with the reason, and CI runs them on PostgreSQL."""
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        marker = pytest.mark.skipif(True, reason="needs PostgreSQL: set DATABASE_URL (CI does)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(marker)
    if not settings.REDIS_URL:
        marker = pytest.mark.skipif(True, reason="needs Redis: set REDIS_URL (CI does)")
        for item in items:
            if "redis" in item.keywords:
                item.add_marker(marker)
    if not Path("/usr/bin/chromium").exists():
        marker = pytest.mark.skipif(
            True, reason="needs Chromium at /usr/bin/chromium: apt-get install chromium (CI does)"
        )
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(marker)


@pytest.fixture
def make_client(db):
    counter = {"n": 0}

    def _make(code=None, **kwargs):
        counter["n"] += 1
        code = code or f"CLI{counter['n']}"
        kwargs.setdefault("name", f"Client {code}")
        return client_create(code=code, **kwargs)

    return _make


@pytest.fixture
def make_api_key(db):
    def _make(client, environment=ApiKey.Environment.LIVE, label=""):
        return api_key_create(client=client, environment=environment, label=label)

    return _make


@pytest.fixture
def acme(make_client):
    return make_client(code="ACME", name="Acme Lending")


@pytest.fixture
def acme_key(acme, make_api_key):
    """(ApiKey, raw key) for a live key of ACME."""
    return make_api_key(acme)


@pytest.fixture
def api(acme_key):
    """An APIClient authenticated as ACME (live key)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {acme_key[1]}")
    client.api_key = acme_key[0]
    client.raw_key = acme_key[1]
    return client


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture
def provider(live_server, settings):
    """Point TrueStack (and its sandbox) at the live test server, so every
    provider call goes over real HTTP through the sandbox app."""
    base = live_server.url
    settings.PUBLIC_BASE_URL = base
    settings.SANDBOX_BASE_URL = f"{base}/sandbox/innovatif/v1/gateway"
    settings.INNOVATIF_BASE_URL = settings.SANDBOX_BASE_URL
    settings.SANDBOX_CALLBACK_URL_PREFIX = base
    yield live_server
    live_server_quiesce()


def live_server_quiesce():
    """Close the server's own keep-alive connections to itself (provider calls,
    sandbox callbacks) and let every request thread finish before the next test:
    a thread still running would share the (SQLite in-memory) database connection
    with the next test's setup and fail it with "database table is locked"."""
    from kyc.innovatif.client import shared_session
    from sandbox.services import callback_session

    shared_session().close()  # the provider client's
    callback_session().close()  # the sandbox's callbacks
    gc.collect()  # sockets of dropped responses still waiting in reference cycles
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        "process_request_thread" in thread.name and thread.is_alive() for thread in threading.enumerate()
    ):
        time.sleep(0.05)


@pytest.fixture
def provider_down(settings):
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox/innovatif/v1/gateway"
    settings.INNOVATIF_BASE_URL = settings.SANDBOX_BASE_URL
    settings.INNOVATIF_CONNECT_TIMEOUT = 0.5
    settings.INNOVATIF_READ_TIMEOUT = 0.5


@pytest.fixture
def test_api(acme, make_api_key):
    key, raw = make_api_key(acme, environment=ApiKey.Environment.TEST)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.api_key, client.raw_key = key, raw
    return client


@pytest.fixture
def funded(acme):
    """ACME with credit for many sessions."""
    from billing.services import credit_add

    credit_add(client=acme, credits=10_000, description="test funds")
    return acme


VALID = {
    "document_name": "Ahmad bin Abdullah",
    "document_number": "901234-56-7890",
    "webhook_url": "https://yourapp.example/webhooks/kyc",
    "metadata": {"user_id": "usr_12345"},
}


@pytest.fixture
def valid_body():
    return dict(VALID, metadata=dict(VALID["metadata"]))
