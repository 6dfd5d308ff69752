import pytest
from django.db import connection
from rest_framework.test import APIClient

from clients.models import ApiKey
from clients.services import api_key_create, client_create


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need real row locks; on SQLite they are reported
    as skipped with the reason, and CI runs them on PostgreSQL."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        marker = pytest.mark.skipif(True, reason="needs PostgreSQL: set DATABASE_URL (CI does)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(marker)
    if not settings.REDIS_URL:
        marker = pytest.mark.skipif(True, reason="needs Redis: set REDIS_URL (CI does)")
        for item in items:
            if "redis" in item.keywords:
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
