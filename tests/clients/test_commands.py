"""create_client and create_api_key, as operators and scripts use them."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import CreditAccount, LedgerEntry
from clients.models import ApiKey, Client
from clients.selectors import api_key_get_for_auth
from clients.services import client_webhook_secret

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_client():
    out, _ = run("create_client", "ACME", "--name", "Acme Lending", "--email", "ops@acme.example")
    client = Client.objects.get(code="ACME")
    assert client.name == "Acme Lending"
    assert client.contact_email == "ops@acme.example"
    assert client.allow_overdraft is False
    assert client.status == Client.Status.ACTIVE
    assert client_webhook_secret(client=client).startswith("whsec_")
    assert "ACME" in out and str(client.id) in out
    assert not LedgerEntry.objects.filter(client=client).exists()


def test_create_client_with_overdraft():
    run("create_client", "OD", "--name", "Overdraft Co", "--allow-overdraft")
    assert Client.objects.get(code="OD").allow_overdraft is True


def test_create_client_with_opening_credits():
    run("create_client", "RICH", "--name", "Rich Co", "--credits", "500")
    client = Client.objects.get(code="RICH")
    entry = LedgerEntry.objects.get(client=client)
    assert (entry.kind, entry.amount, entry.balance_after, entry.description) == ("topup", 500, 500, "Opening balance")
    assert CreditAccount.objects.get(client=client).balance == 500


def test_create_client_refuses_negative_credits():
    with pytest.raises(CommandError, match="--credits"):
        run("create_client", "NEG", "--name", "Neg", "--credits", "-5")
    assert not Client.objects.filter(code="NEG").exists()


def test_duplicate_code_is_a_clear_error(acme):
    with pytest.raises(CommandError, match="already exists"):
        run("create_client", "ACME", "--name", "Another")
    assert Client.objects.filter(code="ACME").count() == 1


@pytest.mark.parametrize("code", ["A", "has-dash", "x" * 17, "spa ce"])
def test_bad_code_is_a_clear_error(code):
    with pytest.raises(CommandError, match="code"):
        run("create_client", code, "--name", "Bad")
    assert not Client.objects.exists()


def test_bad_email_is_a_clear_error():
    with pytest.raises(CommandError, match="contact_email"):
        run("create_client", "MAIL", "--name", "Mail", "--email", "not-an-email")


def test_create_api_key_prints_only_the_key(acme):
    out, _ = run("create_api_key", "ACME")
    assert re.fullmatch(r"ts_live_[A-Za-z0-9_-]{32}\n", out)
    api_key = api_key_get_for_auth(raw_key=out.strip())
    assert api_key.client == acme
    assert api_key.environment == ApiKey.Environment.LIVE


def test_create_api_key_test_environment_and_label(acme):
    out, _ = run("create_api_key", "ACME", "--environment", "test", "--label", "CI")
    assert re.fullmatch(r"ts_test_[A-Za-z0-9_-]{32}\n", out)
    api_key = api_key_get_for_auth(raw_key=out.strip())
    assert (api_key.environment, api_key.label) == ("test", "CI")


def test_create_api_key_unknown_client():
    with pytest.raises(CommandError, match="No client"):
        run("create_api_key", "NOPE")


def test_create_api_key_bad_environment(acme):
    with pytest.raises(CommandError):
        run("create_api_key", "ACME", "--environment", "prod")
    assert not acme.api_keys.exists()


def test_create_api_key_warns_for_suspended_client(acme):
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.SUSPENDED)
    out, err = run("create_api_key", "ACME")
    assert re.fullmatch(r"ts_live_[A-Za-z0-9_-]{32}\n", out)
    assert "suspended" in err
