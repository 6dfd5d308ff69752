"""`Authorization: Bearer <key>`: every 401 case, one query per request, and
last_used_at written at most once a minute."""

import uuid
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from clients.models import ApiKey, Client
from clients.services import api_key_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.clients.urls_auth")]

URL = "/api/test/whoami"
INVALID = {"error": "UNAUTHORIZED", "message": "Invalid API key"}


def _get(authorization=None):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(URL)


def _assert_invalid(response):
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == INVALID
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_valid_key_authenticates_as_its_client(acme_key):
    response = _get(f"Bearer {acme_key[1]}")
    assert response.status_code == 200
    assert response.json() == {"client": "ACME", "environment": "live"}


def test_scheme_is_case_insensitive(acme_key):
    assert _get(f"bearer {acme_key[1]}").status_code == 200


def test_test_key_authenticates(acme, make_api_key):
    _, raw = make_api_key(acme, environment=ApiKey.Environment.TEST)
    assert _get(f"Bearer {raw}").json() == {"client": "ACME", "environment": "test"}


def test_missing_header():
    response = _get()
    assert response.status_code == 401
    assert response.json() == {"error": "UNAUTHORIZED", "message": "Missing or invalid Authorization header"}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "ts_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer not-a-truestack-key",
        "Bearer ts_prod_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ],
    ids=["scheme-only", "empty-token", "three-parts", "no-scheme", "not-a-key", "bad-prefix"],
)
def test_malformed_header(acme_key, header):
    _assert_invalid(_get(header))


@pytest.mark.parametrize("scheme", ["Basic", "Token", "Api-Key"])
def test_wrong_scheme(acme_key, scheme):
    _assert_invalid(_get(f"{scheme} {acme_key[1]}"))


def test_non_ascii_token(acme_key):
    client = APIClient()
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer ts_live_\u00e9t\u00e9".encode().decode("latin-1"))
    _assert_invalid(response)


def test_unknown_key(acme_key):
    raw = acme_key[1]
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    _assert_invalid(_get(f"Bearer {tampered}"))


def test_revoked_key(acme_key):
    api_key, raw = acme_key
    api_key_revoke(api_key=api_key)
    _assert_invalid(_get(f"Bearer {raw}"))


def test_suspended_client(acme, acme_key):
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.SUSPENDED)
    _assert_invalid(_get(f"Bearer {acme_key[1]}"))


def test_other_keys_of_the_client_still_work_after_one_is_revoked(acme, make_api_key):
    first, first_raw = make_api_key(acme)
    _, second_raw = make_api_key(acme)
    api_key_revoke(api_key=first)
    _assert_invalid(_get(f"Bearer {first_raw}"))
    assert _get(f"Bearer {second_raw}").status_code == 200


def test_real_session_endpoint_answers_401_envelope(acme_key):
    """The same answers on the client API itself (routing from truestack.urls)."""
    url = f"/api/v1/kyc/sessions/{uuid.uuid4()}"
    with override_settings(ROOT_URLCONF="truestack.urls"):
        missing = APIClient().get(url)
        unknown_client = APIClient()
        unknown_client.credentials(HTTP_AUTHORIZATION="Bearer ts_live_" + "A" * 32)
        unknown = unknown_client.get(url)
    assert missing.status_code == 401
    assert missing.json() == {"error": "UNAUTHORIZED", "message": "Missing or invalid Authorization header"}
    _assert_invalid(unknown)


def test_one_query_per_authenticated_request(api, django_assert_num_queries):
    api.get(URL)  # first use records last_used_at
    with django_assert_num_queries(1):
        response = api.get(URL)
    assert response.status_code == 200


def test_rejected_key_costs_one_query(django_assert_num_queries, acme_key):
    with django_assert_num_queries(1):
        _assert_invalid(_get("Bearer ts_live_" + "Z" * 32))


def test_malformed_header_costs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        _assert_invalid(_get("Basic dXNlcjpwYXNz"))


def test_last_used_at_written_at_most_once_a_minute(api, django_assert_num_queries):
    api_key = api.api_key
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None

    with django_assert_num_queries(2):  # lookup + the first last_used_at
        api.get(URL)
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None

    api.get(URL)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first

    stale = timezone.now() - timedelta(minutes=2)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=stale)
    api.get(URL)
    refreshed = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert refreshed > stale
    assert refreshed >= first
