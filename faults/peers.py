"""The stack's neighbours, run in threads of the fault suite: a mock Innovatif
gateway (speaks the encrypted protocol, can be slow for one tenant, sends
callbacks on request) and webhook receivers (a healthy one that records every
event, and one that drips its answer a byte at a time)."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from kyc.innovatif.crypto import decrypt, encrypt, request_time_now, sign

API_KEY = "SANDBOXapikey0123456789abcdefXYZ"
MD5_KEY = "SANDBOXmd5key0123456789abcdefXYZ"
PACKAGE = "truestack.gateway.sandbox"
CIPHERTEXT = "MTIzNDU2Nzg5MDEy"
PREFIX = PACKAGE.replace(".", "_")


def _seal(payload: dict) -> dict:
    return {"api_key": API_KEY, "data": encrypt(json.dumps(payload), api_key=API_KEY, ciphertext=CIPHERTEXT)}


def _signed(ref_id: str) -> dict:
    request_time = request_time_now()
    return {
        "api_key": API_KEY,
        "package_name": PACKAGE,
        "request_time": request_time,
        "signature": sign(
            api_key=API_KEY, md5_key=MD5_KEY, package_name=PACKAGE, ref_id=ref_id, request_time=request_time
        ),
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MockProvider:
    """create-transaction / get-status, plus `complete()` that finishes a transaction
    and POSTs the encrypted callback to its backend_url."""

    def __init__(self, port: int):
        self.port = port
        self.transactions: dict[str, dict] = {}
        self.slow_prefix = ""  # document names starting with it are answered slowly
        self.slow_seconds = 0.0
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                envelope = json.loads(self.rfile.read(length) or b"{}")
                params = json.loads(decrypt(envelope["data"], api_key=API_KEY, ciphertext=CIPHERTEXT))
                endpoint = self.path.rstrip("/").rsplit("/", 1)[-1]
                answer = provider._create(params) if endpoint == "create-transaction" else provider._status(params)
                body = json.dumps({"success": True, "data": _seal(answer)["data"]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _create(self, params: dict) -> dict:
        if self.slow_prefix and str(params["document_name"]).startswith(self.slow_prefix):
            time.sleep(self.slow_seconds)
        ref_id = PREFIX + params["ref_id"]
        txn = {
            "ref_id": ref_id,
            "onboarding_id": uuid.uuid4().hex,
            "backend_url": params.get("backend_url", ""),
            "status": 0,
            "result": None,
        }
        with self.lock:
            self.transactions[ref_id] = txn
        return {
            **_signed(ref_id),
            "ref_id": ref_id,
            "onboarding_id": txn["onboarding_id"],
            "onboarding_url": f"http://127.0.0.1:{self.port}/onboarding/{txn['onboarding_id']}",
            "expired_at": "2099-01-01 00:00:00",
        }

    def _result(self, txn: dict) -> dict:
        done = txn["status"] == 2
        return {
            **_signed(txn["ref_id"]),
            "ref_id": txn["ref_id"],
            "onboarding_id": txn["onboarding_id"],
            "mode": 2,
            "status": txn["status"],
            "result": txn["result"],
            "reject_message": None,
            "step1": {
                "status": True,
                "ocr_result": {"full_name": "FAULT SUITE", "front_document_number": "900101015555"},
            }
            if done
            else None,
            "step2": {"status": True, "is_identical": True, "percentage": "95.00"} if done else None,
        }

    def _status(self, params: dict) -> dict:
        with self.lock:
            txn = dict(self.transactions[params["ref_id"]])
        return self._result(txn)

    def complete(self, provider_ref_id: str, *, callback: bool = True) -> int | None:
        with self.lock:
            txn = self.transactions[provider_ref_id]
            txn.update(status=2, result=1)
            snapshot = dict(txn)
        if not callback:
            return None
        body = json.dumps(_seal(self._result(snapshot)))
        return requests.post(
            snapshot["backend_url"], data=body, headers={"Content-Type": "application/json"}, timeout=30
        ).status_code

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class HealthyReceiver:
    """Answers 200 at once (or `status` while set) and records when each event arrived."""

    def __init__(self, port: int):
        self.port = port
        self.status = 200
        self.arrivals: dict[str, list[float]] = defaultdict(list)  # session_id -> arrival times
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.status
                if status == 200:
                    session_id = json.loads(body)["data"]["session_id"]
                    with receiver.lock:
                        receiver.arrivals[session_id].append(time.monotonic())
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def received(self, session_ids) -> int:
        with self.lock:
            return sum(1 for sid in session_ids if self.arrivals.get(sid))

    def duplicates(self, session_ids) -> int:
        with self.lock:
            return sum(max(0, len(self.arrivals.get(sid, [])) - 1) for sid in session_ids)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class DrippingReceiver:
    """Reads the request, then sends an answer one byte every `interval` seconds, for ever."""

    def __init__(self, port: int, interval: float = 1.0):
        self.interval = interval
        self.stopping = threading.Event()
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
        self.listener.settimeout(0.5)
        self.port = port
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slow-hooks"

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            try:
                conn.settimeout(5)
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 10_000:
                    if self.stopping.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(self.interval)
            except OSError:
                return

    def close(self):
        self.stopping.set()
        self.listener.close()
