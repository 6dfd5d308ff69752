"""Workers recover by themselves after a database restart: a pool thread's broken
connection is replaced around the next task, health checks are on by default, and
a delivery task that meets a database error is retried, not dropped."""

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from celery.signals import task_postrun, task_prerun
from django.db import DatabaseError, OperationalError, connection

import truestack.celery  # noqa: F401 - connects the task signal handlers, as the worker does
from clients.models import Client
from webhooks import services, tasks

ROOT = Path(__file__).resolve().parents[2]


def _in_a_pool_thread(work):
    """Run `work` in a fresh thread (as the threads pool does) and return its result."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# PostgreSQL: Django never closes SQLite's in-memory test database, so there is nothing to replace.
@pytest.mark.postgres
def test_a_broken_connection_is_replaced_before_the_next_task_in_the_same_thread(transactional_db, acme):
    def work():
        Client.objects.count()  # this thread's connection, reused across tasks
        connection.connection.close()  # the database restarted under it
        with pytest.raises(DatabaseError):
            Client.objects.count()  # the task that met the failover fails...
        task_postrun.send(sender=tasks.deliver, task_id="t1", task=tasks.deliver, args=(), kwargs={})
        task_prerun.send(sender=tasks.deliver, task_id="t2", task=tasks.deliver, args=(), kwargs={})
        return Client.objects.count()  # ...the next one in the same thread works

    assert _in_a_pool_thread(work) == 1


def test_connection_health_checks_are_on_by_default():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['CONN_HEALTH_CHECKS'])"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "truestack.settings.base",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_a_delivery_task_that_meets_a_database_error_is_retried(monkeypatch, db):
    calls = []

    def flaky(*, delivery_id):
        calls.append(delivery_id)
        if len(calls) < 3:
            raise OperationalError("server closed the connection unexpectedly")
        return "delivered"

    monkeypatch.setattr(services, "delivery_attempt", flaky)
    result = tasks.deliver.apply(args=["d-1"])
    assert result.get() == "delivered"
    assert calls == ["d-1", "d-1", "d-1"]
