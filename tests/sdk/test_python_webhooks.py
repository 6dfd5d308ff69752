"""verify_webhook on webhooks really delivered by TrueStack, both schemes; and the
Standard Webhooks half checked against the `standardwebhooks` package."""

import base64
import json
import time
from datetime import datetime, timezone

import pytest
import truestack_sdk
from standardwebhooks.webhooks import Webhook
from truestack_sdk import WebhookVerificationError, verify_webhook

pytestmark = pytest.mark.django_db(transaction=True)


def test_real_webhook_verifies_with_each_scheme_and_both(delivered_webhook):
    hook = delivered_webhook
    by_key = verify_webhook(hook.body, hook.headers, api_key=hook.api_key)
    by_secret = verify_webhook(hook.body, hook.headers, secret=hook.secret)
    both = verify_webhook(hook.body, hook.headers, api_key=hook.api_key, secret=hook.secret)
    assert by_key == by_secret == both == json.loads(hook.body)
    assert both["event"] == "kyc.session.completed"
    assert both["data"]["session_id"] == hook.session_id and both["data"]["result"] == "approved"
    # Header names are case-insensitive.
    upper = {name.upper(): value for name, value in hook.headers.items()}
    assert verify_webhook(hook.body, upper, api_key=hook.api_key, secret=hook.secret)["id"] == both["id"]


def test_real_webhook_tampered_body_is_refused(delivered_webhook):
    hook = delivered_webhook
    tampered = hook.body.replace(b"approved", b"rejected")
    assert tampered != hook.body
    with pytest.raises(WebhookVerificationError, match="X-Webhook-Signature"):
        verify_webhook(tampered, hook.headers, api_key=hook.api_key)
    with pytest.raises(WebhookVerificationError, match="webhook-signature"):
        verify_webhook(tampered, hook.headers, secret=hook.secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(hook.body, hook.headers, api_key=hook.api_key + "x")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(
            hook.body, hook.headers, secret="whsec_" + base64.b64encode(b"another secret 32 bytes long!!!").decode()
        )


def test_real_webhook_replayed_later_is_refused_as_stale(delivered_webhook):
    hook = delivered_webhook
    sent_at = int(hook.headers["webhook-timestamp"])
    assert verify_webhook(hook.body, hook.headers, secret=hook.secret, now=sent_at + 299)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(hook.body, hook.headers, secret=hook.secret, now=sent_at + 301)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(hook.body, hook.headers, secret=hook.secret, tolerance=60, now=sent_at + 61)


def test_missing_headers_are_refused(delivered_webhook):
    hook = delivered_webhook
    for name in ("X-Webhook-Signature",):
        headers = {k: v for k, v in hook.headers.items() if k.lower() != name.lower()}
        with pytest.raises(WebhookVerificationError, match="missing"):
            verify_webhook(hook.body, headers, api_key=hook.api_key)
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        headers = {k: v for k, v in hook.headers.items() if k.lower() != name}
        with pytest.raises(WebhookVerificationError, match="missing"):
            verify_webhook(hook.body, headers, secret=hook.secret)
    with pytest.raises(ValueError):
        verify_webhook(hook.body, hook.headers)


SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def _signed(body: bytes, msg_id: str, at: datetime, secret: str = SECRET) -> dict:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body.decode()),
    }


def test_agrees_with_the_standardwebhooks_package():
    body = json.dumps({"id": "evt_1", "event": "kyc.session.expired", "data": {"naïve": "é"}}).encode()
    now = datetime.now(tz=timezone.utc)
    headers = _signed(body, "msg_1", now)
    assert Webhook(SECRET).verify(body, headers) == verify_webhook(body, headers, secret=SECRET)

    # Several signatures (secret rotation): any v1 match is enough; other versions are ignored.
    other = _signed(body, "msg_1", now, secret="whsec_" + base64.b64encode(b"x" * 32).decode())
    rotated = dict(
        headers, **{"webhook-signature": f"v2,abc {other['webhook-signature']} {headers['webhook-signature']}"}
    )
    assert Webhook(SECRET).verify(body, rotated)["id"] == verify_webhook(body, rotated, secret=SECRET)["id"]
    only_other = dict(headers, **{"webhook-signature": other["webhook-signature"]})
    with pytest.raises(Exception):
        Webhook(SECRET).verify(body, only_other)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, only_other, secret=SECRET)

    # A correctly signed but old message: both refuse it.
    old = _signed(body, "msg_2", datetime.fromtimestamp(time.time() - 600, tz=timezone.utc))
    with pytest.raises(Exception):
        Webhook(SECRET).verify(body, old)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, old, secret=SECRET)


def test_error_mapping_for_answers_the_server_rarely_gives():
    error = truestack_sdk.errors.error_for(500, {"error": "SERVER_ERROR", "message": "Internal server error"}, {})
    assert isinstance(error, truestack_sdk.ServerError) and error.code == "SERVER_ERROR"
    gateway = truestack_sdk.errors.error_for(503, "<html>busy</html>", {"Retry-After": "5"})
    assert isinstance(gateway, truestack_sdk.ServerError) and gateway.code == "HTTP_503"
    assert gateway.message == "HTTP 503" and gateway.body == {}
