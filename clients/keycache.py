"""The per-process memory of authenticated API keys (see API_KEY_CACHE_SECONDS).

Keyed by the key's digest; the remembered ApiKey (with its client) is shared by
concurrent requests and only read. A revocation in this process forgets the key
at once; other processes notice within API_KEY_CACHE_SECONDS."""

import time

from truestack.memo import ExpiringMemo

from .models import ApiKey


def clock() -> float:
    """Monotonic seconds (a seam for tests)."""
    return time.monotonic()


_memo: ExpiringMemo[ApiKey] = ExpiringMemo(clock=lambda: clock())


def get(key_hash: str) -> ApiKey | None:
    return _memo.get(key_hash)


def put(key_hash: str, api_key: ApiKey, *, ttl: float) -> None:
    _memo.put(key_hash, api_key, ttl=ttl)


def forget(key_hash: str | None = None) -> None:
    """Drop one remembered key, or every one."""
    _memo.forget(key_hash)
