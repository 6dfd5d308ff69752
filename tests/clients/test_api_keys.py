"""API key generation: format, lookup by hash, encryption at rest."""

import re

import pytest

from clients.models import ApiKey
from clients.selectors import api_key_get_for_auth
from clients.services import api_key_create, api_key_digest, api_key_plaintext, api_key_revoke
from truestack.errors import BadRequest

pytestmark = pytest.mark.django_db

KEY_FORMAT = re.compile(r"^ts_(live|test)_[A-Za-z0-9_-]{32}$")


@pytest.mark.parametrize("environment", ["live", "test"])
def test_key_format(acme, environment):
    api_key, raw = api_key_create(client=acme, environment=environment)
    assert KEY_FORMAT.match(raw)
    assert raw.startswith(f"ts_{environment}_")
    assert api_key.environment == environment


def test_keys_are_unique(acme):
    raws = {api_key_create(client=acme)[1] for _ in range(20)}
    assert len(raws) == 20


def test_raw_key_is_not_stored(acme):
    api_key, raw = api_key_create(client=acme, label="Backend")
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert all(raw not in str(value) for value in row.values())
    assert row["key_hash"] == api_key_digest(raw)
    assert len(row["key_hash"]) == 64


def test_lookup_by_hash(acme):
    api_key, raw = api_key_create(client=acme)
    found = api_key_get_for_auth(raw_key=raw)
    assert found.pk == api_key.pk
    assert found.client.code == "ACME"
    assert api_key_get_for_auth(raw_key=raw + "x") is None


def test_encryption_round_trip(acme):
    api_key, raw = api_key_create(client=acme)
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.key_encrypted != raw
    assert api_key_plaintext(api_key=stored) == raw


def test_encryption_survives_key_rotation(acme, settings):
    from cryptography.fernet import Fernet

    old_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    api_key, raw = api_key_create(client=acme)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    assert api_key_plaintext(api_key=ApiKey.objects.get(pk=api_key.pk)) == raw


def test_masked_form_hides_the_key(acme):
    api_key, raw = api_key_create(client=acme, environment="test")
    assert api_key.masked == f"{raw[:12]}…{raw[-4:]}"
    assert raw[12:-4] not in api_key.masked
    assert str(api_key) == api_key.masked


def test_unknown_environment_is_refused(acme):
    with pytest.raises(BadRequest):
        api_key_create(client=acme, environment="prod")


def test_revoke_is_idempotent(acme):
    api_key, _ = api_key_create(client=acme)
    api_key_revoke(api_key=api_key)
    revoked_at = ApiKey.objects.get(pk=api_key.pk).revoked_at
    api_key_revoke(api_key=ApiKey.objects.get(pk=api_key.pk))
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert stored.status == ApiKey.Status.REVOKED
    assert stored.revoked_at == revoked_at
