"""Envelope encryption and request signatures of the Innovatif gateway.

Pure functions. The AES key is the first 32 bytes of ``ciphertext + api_key``
(UTF-8) and the IV is the 16 UTF-8 bytes of the ``ciphertext`` string itself, not
its base64 decoding; the signature is base64 of the 32-character md5 *hex* string.
Both facts are pinned by tests/fixtures/innovatif/vectors.json.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from truestack.formats import json_loads_bounded

if TYPE_CHECKING:
    from .credentials import Credentials

REQUEST_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PROVIDER_TIME_ZONE = ZoneInfo("Asia/Kuala_Lumpur")
# Provider payloads nest a few levels; deeper ones are refused, never parsed.
MAX_JSON_DEPTH = 32


class EnvelopeError(ValueError):
    """A body that cannot be decrypted or decoded (never carries the plaintext)."""


def aes_key(api_key: str, ciphertext: str) -> bytes:
    key = (ciphertext + api_key).encode("utf-8")[:32]
    if len(key) != 32:
        raise EnvelopeError("ciphertext + api_key is shorter than 32 bytes")
    return key


def _iv(ciphertext: str) -> bytes:
    iv = ciphertext.encode("utf-8")
    if len(iv) != 16:
        raise EnvelopeError("ciphertext must be 16 bytes")
    return iv


def encrypt(plaintext: str | bytes, *, api_key: str, ciphertext: str) -> str:
    data = plaintext.encode("utf-8") if isinstance(plaintext, str) else plaintext
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key(api_key, ciphertext)), modes.CBC(_iv(ciphertext))).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def decrypt(data: str, *, api_key: str, ciphertext: str) -> str:
    if not isinstance(data, (str, bytes)):
        raise EnvelopeError("data is not a string")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError("data is not valid base64") from exc
    if not raw or len(raw) % 16:
        raise EnvelopeError("data is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(aes_key(api_key, ciphertext)), modes.CBC(_iv(ciphertext))).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise EnvelopeError("bad padding") from exc
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError("plaintext is not UTF-8") from exc


def sign(*, api_key: str, md5_key: str, package_name: str, ref_id: str, request_time: str) -> str:
    source = api_key + md5_key + package_name + ref_id + md5_key + request_time
    hex_digest = hashlib.md5(source.encode("utf-8"), usedforsecurity=False).hexdigest()
    return base64.b64encode(hex_digest.encode("ascii")).decode("ascii")


def request_time_now() -> str:
    return datetime.now(PROVIDER_TIME_ZONE).strftime(REQUEST_TIME_FORMAT)


def seal(payload: dict, credentials: Credentials) -> dict:
    """The wire envelope for a payload: ``{"api_key", "data"}``."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return {
        "api_key": credentials.api_key,
        "data": encrypt(body, api_key=credentials.api_key, ciphertext=credentials.ciphertext),
    }


def open_envelope(body: dict, credentials: Credentials) -> dict:
    """Decrypt an envelope's ``data`` and parse it as a JSON object."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), str):
        raise EnvelopeError("envelope has no data string")
    plain = decrypt(body["data"], api_key=credentials.api_key, ciphertext=credentials.ciphertext)
    try:
        payload = json_loads_bounded(plain, max_depth=MAX_JSON_DEPTH)
    except ValueError as exc:
        raise EnvelopeError("decrypted data is not JSON") from exc
    if not isinstance(payload, dict):
        raise EnvelopeError("decrypted data is not a JSON object")
    return payload
