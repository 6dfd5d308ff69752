"""A webhook receiver using the TrueStack Python library (standard library server).

    TRUESTACK_API_KEY=ts_test_... TRUESTACK_WEBHOOK_SECRET=whsec_... python webhook_receiver.py 8080

Verify on the raw body before parsing; answer 2xx fast; deduplicate on the event id."""

import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from truestack_sdk import WebhookVerificationError, verify_webhook

API_KEY = os.environ.get("TRUESTACK_API_KEY")
SECRET = os.environ.get("TRUESTACK_WEBHOOK_SECRET")
seen: set = set()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            event = verify_webhook(body, self.headers, api_key=API_KEY, secret=SECRET)
        except WebhookVerificationError as exc:
            self.send_response(400)
            self.end_headers()
            self.wfile.write(str(exc).encode())
            return
        if event["id"] not in seen:
            seen.add(event["id"])
            print(event["event"], event["data"]["session_id"], event["data"]["result"], flush=True)
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8080), Handler).serve_forever()
