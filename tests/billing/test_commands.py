from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from billing import services
from billing.models import CreditAccount, LedgerEntry

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_topup_prints_the_new_balance(make_client):
    acme = make_client(code="ACME")
    assert run("topup", "ACME", "1000", "--description", "INV-7") == "ACME: topup +1000 credits; balance 1000 credits\n"
    assert "balance 1100" in run("topup", "ACME", "100", "--kind", "included")
    assert "balance 1075" in run("topup", "ACME", "-25", "--kind", "adjustment", "--description", "correction")
    kinds = list(LedgerEntry.objects.filter(client=acme).order_by("id").values_list("kind", "description"))
    assert kinds == [("topup", "INV-7"), ("included", ""), ("adjustment", "correction")]


def test_topup_errors_are_command_errors(make_client):
    make_client(code="ACME")
    with pytest.raises(CommandError, match="No client"):
        run("topup", "NOPE", "10")
    with pytest.raises(CommandError, match="positive"):
        run("topup", "ACME", "-10")
    with pytest.raises(CommandError, match="Adjustment refused"):
        run("topup", "ACME", "-10", "--kind", "adjustment")
    with pytest.raises(CommandError):
        run("topup", "ACME", "10", "--kind", "usage")
    assert not LedgerEntry.objects.exists()


def test_check_ledger_ok_then_fails_after_a_raw_corruption(funded, make_session):
    acme = funded(500, code="ACME")
    session = make_session(acme)
    services.hold_place(session=session)
    services.session_charge(session=session)
    services.hold_place(session=make_session(acme))
    assert run("check_ledger") == "OK\n"

    account = CreditAccount.objects.get(client=acme)
    table = connection.ops.quote_name(CreditAccount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET balance = balance + 1000 WHERE id = %s", [account.pk])
    out = StringIO()
    with pytest.raises(CommandError, match="1 ledger problem") as failed:
        call_command("check_ledger", stdout=out)
    # manage.py turns a CommandError into this exit status.
    assert failed.value.returncode == 1
    assert "ACME: balance 1450 != sum of ledger entries 450" in out.getvalue()
