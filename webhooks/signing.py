"""Webhook signatures.

Two independent signatures go on every request:
- `X-Webhook-Signature`: lowercase hex HMAC-SHA256 of the raw body, keyed with the
  API key that created the session (the public contract).
- Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with
  the client's `whsec_` signing secret; the timestamp is signed, so receivers can
  refuse replays. For a while after a rotation the previous secret signs too:
  `webhook-signature` then carries two space-separated `v1,` entries, and a
  receiver holding either secret accepts the request.
"""

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks.webhooks import Webhook

USER_AGENT = "TrueStack-Webhooks/1.0"


def sign_body(body: bytes, key: str) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def standard_webhooks_signature(*, secret: str, msg_id: str, timestamp: datetime, body: bytes) -> str:
    # The body is JSON with non-ASCII escaped, so decoding it is lossless.
    return Webhook(secret).sign(msg_id=msg_id, timestamp=timestamp, data=body.decode("utf-8"))


def signed_headers(
    *,
    body: bytes,
    api_key: str,
    secret: str,
    event_id: str,
    event_kind: str,
    delivery_id: str,
    timestamp: datetime,
    previous_secrets: Sequence[str] = (),
) -> dict[str, str]:
    signatures = [
        standard_webhooks_signature(secret=s, msg_id=event_id, timestamp=timestamp, body=body)
        for s in (secret, *previous_secrets)
    ]
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Webhook-Signature": sign_body(body, api_key),
        "X-TrueStack-Event": event_kind,
        "X-TrueStack-Delivery": delivery_id,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
