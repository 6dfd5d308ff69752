"""Real local HTTP receivers with scripted answers, and session factories."""

import importlib.util
import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone

from kyc.models import KycSession

PORT_RANGE = range(47100, 47200)
EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "examples" / "webhook_receiver.py"


def load_example_receiver():
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", EXAMPLE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bind_server(handler_class) -> ThreadingHTTPServer:
    """A server on the first free port of this helper's range."""
    last_error = None
    for port in PORT_RANGE:
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), handler_class)
        except OSError as exc:
            last_error = exc
            continue
        server.daemon_threads = True
        return server
    raise RuntimeError(f"no free port in {PORT_RANGE}: {last_error}")


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next scripted action, then with `default`.

    Actions: an int status; (status, body); ("redirect", status, location);
    ("hang", seconds) — accept the request and answer nothing until `release`
    is set or the seconds pass."""

    script: list = field(default_factory=list)
    default: object = 200
    requests: list = field(default_factory=list)
    got_request: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/kyc"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def next_action(self):
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                receiver.got_request.set()
                action = receiver.next_action()
                if isinstance(action, tuple) and action[0] == "hang":
                    receiver.release.wait(action[1])
                    action = 200
                headers = {}
                if isinstance(action, tuple) and action[0] == "redirect":
                    _, status, location = action
                    text = b""
                    headers["Location"] = location
                elif isinstance(action, tuple):
                    status, text = action
                else:
                    status, text = action, b"ok"
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(text)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass  # the client went away (timeout, killed worker)

            def log_message(self, *args):
                pass

        self.server = bind_server(Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self):
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def make_receiver():
    receivers = []

    def _make(script=None, default=200):
        receiver = Receiver(script=list(script or []), default=default).start()
        receivers.append(receiver)
        return receiver

    yield _make
    for receiver in receivers:
        receiver.stop()


@pytest.fixture
def receiver(make_receiver):
    return make_receiver()


_counter = itertools.count(1)


def create_session(*, client, api_key, webhook_url, status="completed", result="approved", **overrides):
    n = next(_counter)
    values = dict(
        client=client,
        api_key=api_key,
        ref_id=f"{client.code}_x_{n}_{uuid.uuid4().hex[:6]}",
        document_name="Ahmad bin Abdullah",
        document_number="900101-01-5555",
        webhook_url=webhook_url,
        expires_at=timezone.now() + timedelta(hours=24),
        status=status,
        result=result,
        metadata={"user_id": "usr_12345", "application_id": "app_67890"},
    )
    if status == "completed":
        values.update(
            ocr_full_name="AHMAD BIN ABDULLAH",
            ocr_id_number="900101-01-5555",
            ocr_address="123 JALAN EXAMPLE, 50000 KUALA LUMPUR",
            ocr_gender="LELAKI",
            ocr_nationality="WARGANEGARA",
            date_of_birth=date(1990, 1, 1),
            face_match_score=Decimal("95.50"),
            liveness_passed=True,
            completed_at=timezone.now(),
        )
    values.update(overrides)
    return KycSession.objects.create(**values)


@pytest.fixture
def make_session(acme, acme_key):
    def _make(webhook_url, *, client=None, api_key=None, **kwargs):
        return create_session(client=client or acme, api_key=api_key or acme_key[0], webhook_url=webhook_url, **kwargs)

    return _make


@pytest.fixture
def example_receiver():
    return load_example_receiver()


@pytest.fixture
def fast_timeouts(settings):
    settings.WEBHOOK_CONNECT_TIMEOUT = 1.0
    settings.WEBHOOK_READ_TIMEOUT = 0.5
    return settings
