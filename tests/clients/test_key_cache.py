"""The per-process API key cache (API_KEY_CACHE_SECONDS): repeated requests skip
the key lookup, and a revoked key or a suspended client is refused once the
remembered entry is older than the setting (at once when revoked in this process).
Time is moved with the cache's clock seam, not by sleeping."""

import pytest

from clients import keycache
from clients.models import ApiKey, Client
from clients.services import api_key_revoke

from .test_authentication import INVALID, _get

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.clients.urls_auth")]


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch, settings):
    settings.API_KEY_CACHE_SECONDS = 5
    fake = FakeClock()
    monkeypatch.setattr(keycache, "clock", fake)
    keycache.forget()
    yield fake
    keycache.forget()


def _warm(raw):
    """First request: the key lookup and the first last_used_at write."""
    assert _get(f"Bearer {raw}").status_code == 200


def test_a_remembered_key_costs_no_query(clock, acme_key, django_assert_num_queries):
    _warm(acme_key[1])
    with django_assert_num_queries(0):
        response = _get(f"Bearer {acme_key[1]}")
    assert response.json() == {"client": "ACME", "environment": "live"}


def test_the_key_is_looked_up_again_after_the_ttl(clock, acme_key, django_assert_num_queries):
    _warm(acme_key[1])
    clock.now += 5.1
    with django_assert_num_queries(1):
        assert _get(f"Bearer {acme_key[1]}").status_code == 200


def test_revoked_elsewhere_is_refused_within_the_ttl(clock, acme_key):
    api_key, raw = acme_key
    _warm(raw)
    # Another process revokes it: this process's memory is not told.
    ApiKey.objects.filter(pk=api_key.pk).update(status=ApiKey.Status.REVOKED)
    clock.now += 4.9
    assert _get(f"Bearer {raw}").status_code == 200  # still remembered, inside the TTL
    clock.now += 0.2
    response = _get(f"Bearer {raw}")
    assert response.status_code == 401 and response.json() == INVALID


def test_revoked_in_this_process_is_refused_at_once(clock, acme_key):
    api_key, raw = acme_key
    _warm(raw)
    api_key_revoke(api_key=ApiKey.objects.get(pk=api_key.pk))
    response = _get(f"Bearer {raw}")
    assert response.status_code == 401 and response.json() == INVALID


def test_suspended_client_is_refused_after_the_ttl(clock, acme_key):
    api_key, raw = acme_key
    _warm(raw)
    Client.objects.filter(pk=api_key.client_id).update(status=Client.Status.SUSPENDED)
    clock.now += 5.1
    assert _get(f"Bearer {raw}").status_code == 401


def test_refused_keys_are_not_remembered(clock, acme_key, django_assert_num_queries):
    api_key, raw = acme_key
    ApiKey.objects.filter(pk=api_key.pk).update(status=ApiKey.Status.REVOKED)
    assert _get(f"Bearer {raw}").status_code == 401
    ApiKey.objects.filter(pk=api_key.pk).update(status=ApiKey.Status.ACTIVE)
    with django_assert_num_queries(2):  # looked up again (and last_used_at written): nothing was cached
        assert _get(f"Bearer {raw}").status_code == 200


def test_last_used_at_still_written_at_most_once_a_minute(clock, acme_key, django_assert_num_queries):
    api_key, raw = acme_key
    _warm(raw)
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    for _ in range(3):
        clock.now += 5.1  # each request looks the key up again, sees the recent use
        with django_assert_num_queries(1):
            _get(f"Bearer {raw}")
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first
