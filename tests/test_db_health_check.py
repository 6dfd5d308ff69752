"""The PostgreSQL health check (truestack/db/postgresql): no round trip for a quiet
idle connection, and a connection the server dropped is replaced before use."""

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def checked(monkeypatch):
    """Health checks on, and a count of the `SELECT 1` checks Django sends."""
    sent = []
    wrapper = connections["default"]
    real = wrapper.is_usable
    monkeypatch.setattr(wrapper, "health_check_enabled", True)
    monkeypatch.setattr(wrapper, "is_usable", lambda: sent.append(1) or real())
    connection.ensure_connection()
    return sent


def new_request():
    # What Django's request_started does for a persistent connection.
    connection.health_check_done = False


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_quiet_idle_connection_is_reused_without_a_round_trip(checked):
    pid = backend_pid()
    for _ in range(3):
        new_request()
        assert backend_pid() == pid
    assert checked == []


def test_a_connection_the_server_dropped_is_replaced_before_the_request_uses_it(checked):
    pid = backend_pid()
    database = settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"],
        dbname=connection.settings_dict["NAME"],
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        admin.execute("SELECT pg_sleep(0.2)")  # the termination notice reaches the socket

    new_request()
    assert backend_pid() != pid  # no error: the dead connection was closed and replaced
    assert checked == [1]  # the socket was suspect, so Django's SELECT 1 decided
