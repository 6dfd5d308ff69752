"""A minimal TrueStack webhook receiver (Python standard library only).

    python examples/webhook_receiver.py --port 8080 --api-key ts_live_... --secret whsec_...

It verifies each request (both signatures when both keys are given), answers 200
quickly, ignores repeats of an event it has already handled (deliveries are
at-least-once) and prints the events. Use `verify()` in your own code.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60


def verify_api_key_signature(headers: dict, body: bytes, api_key: str) -> bool:
    """`X-Webhook-Signature`: lowercase hex HMAC-SHA256 of the raw body, keyed with your API key."""
    received = _header(headers, "x-webhook-signature")
    if not received:
        return False
    expected = hmac.new(api_key.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.strip().lower())


def verify_standard_webhooks(headers: dict, body: bytes, secret: str, *, now: float | None = None) -> bool:
    """Standard Webhooks: `webhook-signature` is `v1,<base64 HMAC-SHA256>` of
    `"{webhook-id}.{webhook-timestamp}.{body}"`, keyed with the base64-decoded part
    of your `whsec_` secret. Timestamps more than 5 minutes away are refused."""
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not (msg_id and timestamp and signatures):
        return False
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # The header may carry several space-separated signatures (e.g. during a secret rotation).
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected, value):
            return True
    return False


def verify(headers: dict, body: bytes, api_key: str | None = None, whsec: str | None = None) -> bool:
    """True when every signature you have a key for is valid (at least one key needed)."""
    if not api_key and not whsec:
        raise ValueError("give api_key, whsec or both")
    if api_key and not verify_api_key_signature(headers, body, api_key):
        return False
    if whsec and not verify_standard_webhooks(headers, body, whsec):
        return False
    return True


def _header(headers, name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def make_handler(api_key: str | None, whsec: str | None, seen: set | None = None):
    seen = set() if seen is None else seen

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)  # verify the raw bytes, before any JSON parsing
            if not verify(dict(self.headers.items()), body, api_key=api_key, whsec=whsec):
                self._answer(401, b"invalid signature")
                return
            try:
                event = json.loads(body)
                data = event["data"]
            except (ValueError, KeyError, TypeError):
                self._answer(400, b"unexpected body")
                return
            # Deduplicate on the event id (or session_id + event): the same event may arrive more than once.
            key = event.get("id") or f"{data['session_id']}:{event['event']}"
            if key in seen:
                self._answer(200, b"duplicate ignored")
                return
            seen.add(key)
            print(
                f"{event['event']} session={data['session_id']} status={data['status']} result={data['result']}",
                flush=True,
            )
            self._answer(200, b"ok")

        def _answer(self, status: int, text: bytes):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    return Handler


def main(argv=None):
    parser = argparse.ArgumentParser(description="Receive and verify TrueStack webhooks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-key", help="the API key that created the sessions (ts_live_... / ts_test_...)")
    parser.add_argument("--secret", help="your webhook signing secret (whsec_...)")
    args = parser.parse_args(argv)
    if not args.api_key and not args.secret:
        parser.error("give --api-key, --secret or both")
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.api_key, args.secret))
    print(f"listening on http://{args.host}:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
