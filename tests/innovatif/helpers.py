"""Test helpers shared by tests/innovatif and tests/sandbox: a tiny HTTP server
that records what it receives (stands in for a callback target), and a requests
adapter that plays canned provider answers (the far side of the network)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from requests.adapters import BaseAdapter

from kyc.innovatif.credentials import Credentials


def sandbox_credentials() -> Credentials:
    return Credentials(
        api_key="SANDBOXapikey0123456789abcdefXYZ",
        md5_key="SANDBOXmd5key0123456789abcdefXYZ",
        package_name="truestack.gateway.sandbox",
        ciphertext="MTIzNDU2Nzg5MDEy",
    )


class Recorder:
    """Records POST bodies on 127.0.0.1; answers with `status_code`, except that the
    next `drop_next` requests are read and their connection closed unanswered (as a
    server closing a kept-alive connection just as the client reuses it)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status_code = 200
        self.drop_next = 0
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                recorder.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if recorder.drop_next > 0:
                    recorder.drop_next -= 1
                    self.close_connection = True
                    return
                self.send_response(recorder.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def bodies(self) -> list[bytes]:
        return [item["body"] for item in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CannedAdapter(BaseAdapter):
    """Answers every request with the next canned (status, body) or raises the
    next canned exception; records the requests it saw."""

    def __init__(self, answers):
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        response = requests.Response()
        response.status_code = status
        response.request = request
        response.url = request.url
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        response._content = body
        response.headers["Content-Type"] = "application/json"
        return response

    def close(self):
        pass


def canned_session(*answers) -> tuple[requests.Session, CannedAdapter]:
    session = requests.Session()
    adapter = CannedAdapter(answers)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session, adapter


import pytest  # noqa: E402


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.close()


def use_sandbox(settings, *, callback_prefix: str, live_credentials_too: bool = False):
    """A fault-free sandbox with its test credentials, calling back under callback_prefix."""
    settings.SANDBOX_ENABLED = True
    settings.SANDBOX_CALLBACK_URL_PREFIX = callback_prefix
    settings.SANDBOX_LATENCY_MS = 0
    settings.SANDBOX_FAILURE_RATE = 0.0
    settings.SANDBOX_REFUSE_CONNECTIONS = False
    for name, value in vars(sandbox_credentials()).items():
        setattr(settings, f"SANDBOX_{name.upper()}", value)
        if live_credentials_too:
            setattr(settings, f"INNOVATIF_{name.upper()}", value)
    return settings


@pytest.fixture
def sandbox_env(settings, provider, recorder, transactional_db):
    """The sandbox served over real HTTP by live_server, calling back the recorder."""
    use_sandbox(settings, callback_prefix=recorder.url, live_credentials_too=True)
    settings.INNOVATIF_CONNECT_TIMEOUT = 2.0
    settings.INNOVATIF_READ_TIMEOUT = 10.0
    return settings
