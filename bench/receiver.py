"""Benchmark webhook receiver: verifies both signatures on every webhook and
records when each session's event arrived (wall clock, so the harness can compare
it with the time it fired the provider callback in another process).

    BENCH_RECEIVER_API_KEY=ts_live_... BENCH_RECEIVER_SECRET=whsec_... python -m bench.receiver --port 27403

Webhooks are POSTed to any path except the control ones:
- GET  /_stats              counts (received, valid, invalid, duplicates, distinct)
- GET  /_arrivals           {"arrivals": {session_id: [arrived, answered]}, ...}
- POST /_config {"delay_ms": 200}   sleep this long before answering each webhook
- POST /_reset              forget everything recorded

Threaded (one thread per connection) with a deep listen backlog, so a slow mode of
200 ms per request still serves many deliveries at once.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60


def valid_api_key_signature(headers, body: bytes, api_key: str) -> bool:
    received = headers.get("X-Webhook-Signature") or ""
    expected = hmac.new(api_key.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.strip().lower())


def valid_standard_signature(headers, body: bytes, secret: str, now: float) -> bool:
    msg_id = headers.get("webhook-id") or ""
    timestamp = headers.get("webhook-timestamp") or ""
    signatures = headers.get("webhook-signature") or ""
    if not (msg_id and timestamp.isdigit() and signatures):
        return False
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(
        hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256).digest()
    ).decode()
    return any(
        version == "v1" and hmac.compare_digest(expected, value)
        for version, _, value in (candidate.partition(",") for candidate in signatures.split())
    )


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.delay_ms = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.arrivals: dict[str, list[float]] = {}
            self.received = 0
            self.invalid = 0
            self.duplicates = 0
            self.in_flight = 0
            self.max_in_flight = 0

    def stats(self) -> dict:
        with self.lock:
            return {
                "received": self.received,
                "valid": self.received - self.invalid,
                "invalid": self.invalid,
                "duplicates": self.duplicates,
                "distinct": len(self.arrivals),
                "answered": sum(1 for times in self.arrivals.values() if times[1] is not None),
                "max_in_flight": self.max_in_flight,
                "delay_ms": self.delay_ms,
            }


def make_handler(recorder: Recorder, api_key: str, secret: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path == "/_stats":
                self._json(200, recorder.stats())
            elif self.path == "/_arrivals":
                with recorder.lock:
                    body = {"arrivals": dict(recorder.arrivals)}
                body.update(recorder.stats())
                self._json(200, body)
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self):
            arrived = time.time()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path == "/_config":
                recorder.delay_ms = int(json.loads(body or b"{}").get("delay_ms", 0))
                self._json(200, recorder.stats())
                return
            if self.path == "/_reset":
                recorder.reset()
                self._json(200, recorder.stats())
                return
            ok = valid_api_key_signature(self.headers, body, api_key) and valid_standard_signature(
                self.headers, body, secret, arrived
            )
            session_id = None
            if ok:
                try:
                    session_id = str(json.loads(body)["data"]["session_id"])
                except (ValueError, KeyError, TypeError):
                    ok = False
            with recorder.lock:
                recorder.received += 1
                if not ok:
                    recorder.invalid += 1
                elif session_id in recorder.arrivals:
                    recorder.duplicates += 1
                else:
                    recorder.arrivals[session_id] = [arrived, None]
                recorder.in_flight += 1
                recorder.max_in_flight = max(recorder.max_in_flight, recorder.in_flight)
                delay = recorder.delay_ms
            try:
                if not ok:
                    self._json(401, {"error": "invalid signature"})
                    return
                if delay:
                    time.sleep(delay / 1000)
                self._json(200, {"ok": True})
            finally:
                with recorder.lock:
                    recorder.in_flight -= 1
                    if ok and recorder.arrivals.get(session_id, [0, 0])[1] is None:
                        recorder.arrivals[session_id][1] = time.time()

        def _json(self, status: int, payload: dict):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark webhook receiver.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    # Also read from the environment, so the secrets stay out of `ps`.
    parser.add_argument(
        "--api-key", default=os.environ.get("BENCH_RECEIVER_API_KEY"), help="the API key that created the sessions"
    )
    parser.add_argument(
        "--secret", default=os.environ.get("BENCH_RECEIVER_SECRET"), help="the client's whsec_ signing secret"
    )
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.api_key or not args.secret:
        parser.error("give --api-key and --secret (or BENCH_RECEIVER_API_KEY / BENCH_RECEIVER_SECRET)")
    recorder = Recorder()
    recorder.delay_ms = args.delay_ms
    server = Server((args.host, args.port), make_handler(recorder, args.api_key, args.secret))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"receiver listening on http://{args.host}:{args.port}/", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
