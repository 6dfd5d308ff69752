"""Verification of inbound provider callbacks (the ``backend_url`` POSTs).

A callback is the provider envelope ``{"api_key", "data"}``; ``data`` decrypts to
the get-status shape plus ``ref_id`` (prefixed), ``onboarding_id``,
``request_time`` and ``signature``. The signature is made over the prefixed ref id.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from truestack.formats import JsonTooDeep, json_loads_bounded

from .credentials import Credentials, credentials_for_api_key
from .crypto import EnvelopeError, open_envelope

REQUIRED_FIELDS = ("ref_id", "onboarding_id", "request_time", "signature", "status")


class CallbackBodyInvalid(Exception):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class VerifiedCallback:
    credentials: Credentials
    provider_ref_id: str
    onboarding_id: str
    status: str
    body: dict


# Real callbacks nest a few levels; anything deeper is refused before it is parsed.
MAX_JSON_DEPTH = 32


def parse_callback(raw_body: bytes, *, allow_plaintext: bool) -> VerifiedCallback:
    """Decrypt and verify a callback body; raise ``CallbackBodyInvalid`` with a short
    reason (never containing decrypted data) when it cannot be trusted. Any body,
    however malformed, ends here or in a VerifiedCallback: never another exception."""
    try:
        return _parse(raw_body, allow_plaintext=allow_plaintext)
    except CallbackBodyInvalid:
        raise
    except Exception as exc:  # noqa: BLE001 - hostile input must be a refusal, not a crash
        raise CallbackBodyInvalid(f"body is malformed ({type(exc).__name__})") from None


def _parse(raw_body: bytes, *, allow_plaintext: bool) -> VerifiedCallback:
    try:
        envelope = json_loads_bounded(raw_body, max_depth=MAX_JSON_DEPTH)
    except JsonTooDeep:
        raise CallbackBodyInvalid("body is nested too deeply") from None
    except (ValueError, TypeError):
        raise CallbackBodyInvalid("body is not JSON") from None
    if not isinstance(envelope, dict):
        raise CallbackBodyInvalid("body is not a JSON object")

    if isinstance(envelope.get("data"), str):
        credentials = credentials_for_api_key(envelope.get("api_key"))
        if credentials is None:
            raise CallbackBodyInvalid("unknown api_key")
        try:
            body = open_envelope(envelope, credentials)
        except EnvelopeError:
            raise CallbackBodyInvalid("body could not be decrypted") from None
    else:
        if not allow_plaintext:
            raise CallbackBodyInvalid("unencrypted body not allowed")
        body = envelope["data"] if isinstance(envelope.get("data"), dict) else envelope
        credentials = credentials_for_api_key(body.get("api_key") or envelope.get("api_key"))
        if credentials is None:
            raise CallbackBodyInvalid("unknown api_key")

    missing = [name for name in REQUIRED_FIELDS if body.get(name) in (None, "")]
    if missing:
        raise CallbackBodyInvalid(f"missing fields: {', '.join(missing)}")
    if not all(isinstance(body[name], str) for name in ("ref_id", "onboarding_id", "request_time", "signature")):
        raise CallbackBodyInvalid("ref_id, onboarding_id, request_time and signature must be strings")
    inner_key = body.get("api_key")
    if inner_key not in (None, "") and not hmac.compare_digest(str(inner_key).encode(), credentials.api_key.encode()):
        raise CallbackBodyInvalid("api_key mismatch")
    package_name = body.get("package_name")
    if package_name not in (None, "") and package_name != credentials.package_name:
        raise CallbackBodyInvalid("package_name mismatch")

    expected = credentials.sign(ref_id=body["ref_id"], request_time=body["request_time"])
    if not hmac.compare_digest(expected.encode(), body["signature"].encode()):
        raise CallbackBodyInvalid("bad signature")

    return VerifiedCallback(
        credentials=credentials,
        provider_ref_id=body["ref_id"],
        onboarding_id=body["onboarding_id"],
        status=str(body["status"]).strip(),
        body=body,
    )
