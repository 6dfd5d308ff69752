"""Nothing personal in any log line at any level: a whole session lifecycle over
real HTTP with every logger at DEBUG, and everything logged is scanned."""

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.conf import settings as django_settings
from django.core.files.storage import default_storage

from clients.services import client_webhook_secret
from kyc import tasks
from kyc.models import KycSession
from webhooks.models import Delivery
from webhooks.services import delivery_attempt

from .helpers import sandbox_complete
from .test_callbacks import CALLBACK_PATH

pytestmark = pytest.mark.django_db(transaction=True)


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record):
        text = self.format(record)  # message, args and any traceback
        extras = {
            k: v for k, v in record.__dict__.items() if k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__
        }
        self.lines.append(text + " " + " ".join(f"{k}={v!r}" for k, v in extras.items() if k != "message"))


@pytest.fixture
def everything_logged():
    handler = Capture()
    root = logging.getLogger()
    names = [
        "",
        "django",
        "django.request",
        "django.server",
        "django.db.backends",
        "celery",
        "celery.app.trace",
        "urllib3",
        "requests",
        "kyc",
        "webhooks",
        "billing",
        "sandbox",
        "clients",
        "truestack",
    ]
    names += list(logging.root.manager.loggerDict)
    saved = []
    for name in set(names):
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, logger.disabled))
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if not logger.propagate or name == "":
            logger.addHandler(handler)
    yield handler
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled
        logger.removeHandler(handler)
    root.removeHandler(handler)


@pytest.fixture
def hook_receiver():
    bodies = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    for port in range(47260, 47280):
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    server.bodies = bodies
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield server
    server.shutdown()
    server.server_close()


def deliver_all():
    for delivery in Delivery.objects.exclude(state=Delivery.State.DELIVERED):
        assert delivery_attempt(delivery_id=delivery.pk) == Delivery.State.DELIVERED


def test_full_lifecycle_logs_nothing_personal(
    everything_logged, api, acme, funded, provider, valid_body, hook_receiver
):
    base = provider.url
    headers = {"Authorization": f"Bearer {api.raw_key}"}
    body = {**valid_body, "webhook_url": hook_receiver.url}
    # A refused create (bad URL) with personal data in its body, then the real one.
    refused = requests.post(
        f"{base}/api/v1/kyc/sessions", json={**body, "webhook_url": "nope"}, headers=headers, timeout=30
    )
    assert refused.status_code == 400
    created = requests.post(f"{base}/api/v1/kyc/sessions", json=body, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    session = KycSession.objects.get(pk=created.json()["id"])
    # A forged callback (refused) carrying personal data in clear.
    forged = requests.post(
        f"{base}{CALLBACK_PATH}",
        data=json.dumps({"ref_id": session.provider_ref_id, "name": "Ahmad bin Abdullah", "ic": "901234-56-7890"}),
        timeout=30,
    )
    assert forged.status_code >= 400
    sandbox_complete(session, outcome="approved")  # the callback, images included
    session.refresh_from_db()
    assert session.status == "completed" and session.front_document
    deliver_all()
    assert len(hook_receiver.bodies) == 1
    detail = requests.get(f"{base}/api/v1/kyc/sessions/{session.id}", headers=headers, timeout=30)
    refresh = requests.post(f"{base}/api/v1/kyc/sessions/{session.id}", headers=headers, timeout=30)
    document = requests.get(
        f"{base}/api/v1/kyc/sessions/{session.id}/documents/front_document", headers=headers, timeout=30
    )
    assert detail.status_code == refresh.status_code == document.status_code == 200
    # What must never appear, gathered before redaction removes it.
    with default_storage.open(session.front_document, "rb") as handle:
        image = base64.b64encode(handle.read()).decode()
    secrets = {
        "document number": "901234-56-7890",
        "document number, digits": "901234567890",
        "name": "Ahmad bin Abdullah",
        "OCR name": session.ocr_full_name,
        "address": session.ocr_address,
        "image (base64)": image[len(image) // 2 : len(image) // 2 + 40],
        "image start (base64)": image[:40],
        "API key": api.raw_key,
        "webhook secret": client_webhook_secret(client=acme),
        "provider API key": django_settings.SANDBOX_API_KEY,
        "provider md5 key": django_settings.SANDBOX_MD5_KEY,
        "decrypted provider JSON": json.dumps(session.raw_result)[:60],
        "metadata": "usr_12345",
    }
    redact = requests.post(f"{base}/api/v1/kyc/sessions/{session.id}/redact", headers=headers, timeout=30)
    assert redact.status_code == 202
    tasks.redact_session.apply(args=[str(session.id)])  # through Celery's task machinery (and its logging)
    deliver_all()
    assert len(hook_receiver.bodies) == 2
    gone = requests.get(
        f"{base}/api/v1/kyc/sessions/{session.id}/documents/front_document", headers=headers, timeout=30
    )
    assert gone.status_code == 410

    logged = "\n".join(everything_logged.lines)
    assert len(everything_logged.lines) > 20 and "urllib3" in logged and "django.request" in logged
    assert f"session {session.id} redacted" in logged
    leaks = {what: value for what, value in secrets.items() if value and value in logged}
    assert leaks == {}, leaks
    assert "ocr_result" not in logged and "step1" not in logged
