"""A real Celery worker process killed in the middle of a delivery attempt: the
event is still delivered after a restart (PostgreSQL + Redis, as in CI)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from kyc.services import session_event_record as event_record
from truestack.celery import app as celery_app
from webhooks.models import Attempt, Delivery, Event
from webhooks.tasks import sweep_due_deliveries

BASE_DIR = Path(__file__).resolve().parents[2]
CONNECT_TIMEOUT = "1"
READ_TIMEOUT = "3"


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] or "postgres"
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _start_worker(log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "truestack.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "WEBHOOK_CONNECT_TIMEOUT": CONNECT_TIMEOUT,
        "WEBHOOK_READ_TIMEOUT": READ_TIMEOUT,
        "DATA_DIR": tempfile.mkdtemp(prefix="hooks-worker-"),
        "LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "truestack",
        "worker",
        "-Q",
        "celery,webhooks",
        "-P",
        "threads",
        "-c",
        "2",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"hooks-test-{uuid.uuid4().hex[:8]}@%h",
        "--loglevel",
        "WARNING",
    ]
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _kill(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)


def _purge_queues() -> None:
    with celery_app.connection_for_write() as conn:
        for queue in ("celery", "webhooks"):
            conn.default_channel.queue_purge(queue)


def _wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_attempt_still_delivers_after_restart(settings, make_session, make_receiver, tmp_path):
    settings.WEBHOOK_CONNECT_TIMEOUT = float(CONNECT_TIMEOUT)
    settings.WEBHOOK_READ_TIMEOUT = float(READ_TIMEOUT)
    receiver = make_receiver([("hang", 30)], default=200)
    log_path = tmp_path / "worker.log"
    _purge_queues()
    first = second = None
    try:
        first = _start_worker(log_path)
        session = make_session(receiver.url)
        with transaction.atomic():
            event = event_record(session=session, kind=Event.Kind.SESSION_COMPLETED)
        delivery = Delivery.objects.get(event=event)

        # The worker picked the task up and is waiting for the receiver's answer.
        assert receiver.got_request.wait(30), log_path.read_text(errors="replace")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        receiver.release.set()

        delivery.refresh_from_db()
        assert delivery.state == Delivery.State.PENDING
        assert delivery.attempt_count == 1
        assert delivery.locked_until > timezone.now()

        second = _start_worker(log_path)
        # Nothing is sent while the dead worker's lease holds; once it lapses the
        # sweep (beat, every few seconds in production) queues the delivery again.
        lapse = (delivery.locked_until - timezone.now()).total_seconds()
        assert lapse < 15
        time.sleep(max(lapse, 0) + 0.2)

        def delivered():
            sweep_due_deliveries()
            delivery.refresh_from_db()
            return delivery.state == Delivery.State.DELIVERED

        assert _wait_for(delivered, timeout=25, interval=0.5), log_path.read_text(errors="replace")

        assert [r.body for r in receiver.requests] == [bytes(event.body)] * 2
        attempts = list(Attempt.objects.filter(delivery=delivery).order_by("number"))
        assert [a.number for a in attempts] == [1, 2]
        assert attempts[0].error.startswith("interrupted")
        assert attempts[1].status_code == 200
    finally:
        receiver.release.set()
        _kill(first)
        _kill(second)
