"""truestack.db.values_bound_on_server: a provider callback's body is sent to
PostgreSQL as a parameter, not escaped into the SQL text, and only inside the block."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kyc.callbacks import callback_record
from kyc.models import ProviderCallback
from truestack.db import values_bound_on_server

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

BODY = b'{"api_key": "k", "data": "' + b"QUJD" * 30_000 + b"'\\\\ \xc3\xa9\"}"


def test_the_callback_body_is_bound_as_a_parameter_and_stored_exactly():
    with CaptureQueriesContext(connection) as queries:
        callback = callback_record(body=BODY, remote_addr="127.0.0.1", attempts=1)
    (insert,) = queries.captured_queries
    assert "QUJDQUJD" not in insert["sql"]
    assert "$1" in insert["sql"]
    stored = ProviderCallback.objects.get(pk=callback.pk)
    assert stored.body == BODY.decode()
    assert stored.attempts == 1
    assert stored.remote_addr == "127.0.0.1"


def test_statements_outside_the_block_keep_client_side_binding():
    with values_bound_on_server():
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::text", ["inside"])
            assert cursor.fetchone() == ("inside",)
    assert connection.bind_on_server is False
    with CaptureQueriesContext(connection) as queries:
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::text", ["outside"])
    assert "'outside'" in queries.captured_queries[0]["sql"]
