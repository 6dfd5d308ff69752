"""Webhook verification for both of TrueStack's signature schemes, standard library only."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from .errors import WebhookVerificationError

DEFAULT_TOLERANCE = 300


def _lower(headers: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(value) if value else ""
        out[str(name).lower()] = str(value)
    return out


def _check_api_key_signature(body: bytes, headers: dict[str, str], api_key: str) -> None:
    received = headers.get("x-webhook-signature", "").strip()
    if not received:
        raise WebhookVerificationError("missing X-Webhook-Signature header")
    expected = hmac.new(api_key.encode(), body, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(expected, received.encode("utf-8", "replace")):
        raise WebhookVerificationError("X-Webhook-Signature does not match the body")


def _secret_bytes(secret: str) -> bytes:
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("secret must be a whsec_ secret (base64 after the prefix)") from exc


def _check_standard_webhooks(
    body: bytes, headers: dict[str, str], secret: str, tolerance: float, now: float | None
) -> None:
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and timestamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a Unix time") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance (stale or replayed)")
    signed = f"{msg_id}.{sent_at}.".encode() + body
    expected = base64.b64encode(hmac.new(_secret_bytes(secret), signed, hashlib.sha256).digest())
    matched = False
    for candidate in signatures.split(" "):
        version, _, value = candidate.partition(",")
        # Compare every candidate (no early exit), so timing says nothing about which matched.
        if version == "v1" and hmac.compare_digest(expected, value.encode("utf-8", "replace")):
            matched = True
    if not matched:
        raise WebhookVerificationError("no webhook-signature matches the body")


def verify_webhook(
    body: bytes,
    headers: Mapping[str, Any],
    *,
    api_key: str | None = None,
    secret: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify a webhook on its exact raw body and return the parsed event.

    - `api_key`: checks `X-Webhook-Signature` (hex HMAC-SHA256 of the body keyed
      with the API key that created the session).
    - `secret`: checks the Standard Webhooks headers with your `whsec_` secret and
      refuses timestamps more than `tolerance` seconds from now (replays).
    Give one or both; every scheme given must pass. Raises WebhookVerificationError.
    """
    if api_key is None and secret is None:
        raise ValueError("give api_key, secret or both")
    if isinstance(body, str):
        raise TypeError("body must be the raw request bytes, not text")
    raw = bytes(body)
    lowered = _lower(headers)
    if secret is not None:
        _check_standard_webhooks(raw, lowered, secret, tolerance, now)
    if api_key is not None:
        _check_api_key_signature(raw, lowered, api_key)
    try:
        event = json.loads(raw)
    except ValueError:
        raise WebhookVerificationError("body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("body is not a JSON object")
    return event
