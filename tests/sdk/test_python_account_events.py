"""Request construction of the account and events calls, whose endpoints are not
in this server yet: a tiny local HTTP server records what the library sends and
answers canned pages (the only stub in these tests)."""

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
import truestack_sdk


class Stub:
    def __init__(self):
        self.requests = []
        self.answers = {}  # (method, path, frozenset(query)) or (method, path) -> (status, body, content type)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query))
                stub.requests.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "query": query,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                status, payload, content_type = stub.answers.get(
                    (self.command, url.path, frozenset(query.items())),
                    stub.answers.get(
                        (self.command, url.path), (404, {"error": "NOT_FOUND", "message": "Not found"}, None)
                    ),
                )
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type or "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.close()


@pytest.fixture
def ts(stub):
    client = truestack_sdk.TrueStack("ts_test_abc", base_url=stub.url, sleep=lambda s: None)
    yield client
    client.close()


def test_account_get(ts, stub):
    stub.answers[("GET", "/api/v1/account")] = (200, {"client_code": "ACME", "balance": 950}, None)
    assert ts.account.get() == {"client_code": "ACME", "balance": 950}
    [request] = stub.requests
    assert request["headers"]["Authorization"] == "Bearer ts_test_abc"
    assert request["headers"]["User-Agent"].startswith("truestack-sdk-python/")


def test_statements_follow_the_cursor_and_statement_json_or_pdf(ts, stub):
    page2 = "http://elsewhere.example/api/v1/account/statements?cursor=abc&limit=1"
    stub.answers[("GET", "/api/v1/account/statements", frozenset())] = (
        200,
        {"next": page2, "previous": None, "results": [{"month": "2026-02"}]},
        None,
    )
    stub.answers[("GET", "/api/v1/account/statements", frozenset({("cursor", "abc"), ("limit", "1")}))] = (
        200,
        {"next": None, "previous": None, "results": [{"month": "2026-01"}]},
        None,
    )
    assert [item["month"] for item in ts.account.statements()] == ["2026-02", "2026-01"]
    # The second page is asked of this client's base URL, with the cursor's query.
    assert [r["query"] for r in stub.requests] == [{}, {"cursor": "abc", "limit": "1"}]

    stub.answers[("GET", "/api/v1/account/statements/2026-01", frozenset())] = (200, {"month": "2026-01"}, None)
    stub.answers[("GET", "/api/v1/account/statements/2026-01", frozenset({("format", "pdf")}))] = (
        200,
        b"%PDF-1.7 statement",
        "application/pdf",
    )
    assert ts.account.statement("2026-01") == {"month": "2026-01"}
    assert ts.account.statement("2026-01", pdf=True) == b"%PDF-1.7 statement"
    assert stub.requests[-1]["query"] == {"format": "pdf"}


def test_invoices(ts, stub):
    stub.answers[("GET", "/api/v1/account/invoices")] = (
        200,
        {"next": None, "previous": None, "results": [{"id": "INV-1"}, {"id": "INV-2"}]},
        None,
    )
    assert [item["id"] for item in ts.account.invoices()] == ["INV-1", "INV-2"]
    assert stub.requests[0]["method"] == "GET" and stub.requests[0]["path"] == "/api/v1/account/invoices"


def test_events_list_filters_and_get(ts, stub):
    stub.answers[("GET", "/api/v1/events")] = (200, {"next": None, "previous": None, "results": [{"id": "e1"}]}, None)
    after = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = list(
        ts.events.list(type="kyc.session.completed", session_id="s1", created_after=after, created_before="2026-02-01")
    )
    assert events == [{"id": "e1"}]
    assert stub.requests[0]["query"] == {
        "type": "kyc.session.completed",
        "session_id": "s1",
        "created_after": "2026-01-01T00:00:00+00:00",
        "created_before": "2026-02-01",
    }
    list(ts.events.list())
    assert stub.requests[1]["query"] == {}  # unset filters are not sent

    stub.answers[("GET", "/api/v1/events/e1")] = (200, {"id": "e1", "type": "kyc.session.completed"}, None)
    assert ts.events.get("e1")["type"] == "kyc.session.completed"


def test_redeliver_range_and_test_event(ts, stub):
    stub.answers[("POST", "/api/v1/events/e1/redeliver")] = (202, {"id": "e1", "queued": True}, None)
    assert ts.events.redeliver("e1") == {"id": "e1", "queued": True}
    assert stub.requests[-1]["body"] == b""

    stub.answers[("POST", "/api/v1/events/redeliver")] = (202, {"count": 3}, None)
    assert ts.events.redeliver_range("2026-01-01", "2026-01-02") == {"count": 3}
    request = stub.requests[-1]
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == {
        "created_after": "2026-01-01",
        "created_before": "2026-01-02",
        "status": "failed",
    }
    ts.events.redeliver_range("2026-01-01", "2026-01-02", status="delivered")
    assert json.loads(stub.requests[-1]["body"])["status"] == "delivered"

    stub.answers[("POST", "/api/v1/events/test")] = (202, {"url": "https://yourapp.example/hooks"}, None)
    assert ts.events.send_test("https://yourapp.example/hooks") == {"url": "https://yourapp.example/hooks"}
    assert json.loads(stub.requests[-1]["body"]) == {"url": "https://yourapp.example/hooks"}
    # POSTs other than create carry no Idempotency-Key and are not retried.
    assert all("Idempotency-Key" not in r["headers"] for r in stub.requests)


def test_post_errors_are_typed_and_not_retried(ts, stub):
    stub.answers[("POST", "/api/v1/events/nope/redeliver")] = (
        503,
        {"error": "SERVER_ERROR", "message": "Busy"},
        None,
    )
    with pytest.raises(truestack_sdk.ServerError) as caught:
        ts.events.redeliver("nope")
    assert caught.value.status == 503 and caught.value.code == "SERVER_ERROR"
    assert len(stub.requests) == 1
    with pytest.raises(truestack_sdk.NotFound):
        ts.events.get("missing")
