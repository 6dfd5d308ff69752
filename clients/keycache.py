"""The per-process memory of authenticated API keys (see API_KEY_CACHE_SECONDS).

Keyed by the key's digest; the remembered ApiKey (with its client) is shared by
concurrent requests and only read. A revocation in this process forgets the key
at once; other processes notice within API_KEY_CACHE_SECONDS."""

import threading
import time

from .models import ApiKey

_entries: dict[str, tuple[float, ApiKey]] = {}
_lock = threading.Lock()
MAX_ENTRIES = 10_000


def clock() -> float:
    """Monotonic seconds (a seam for tests)."""
    return time.monotonic()


def get(key_hash: str) -> ApiKey | None:
    entry = _entries.get(key_hash)
    if entry is not None and entry[0] > clock():
        return entry[1]
    return None


def put(key_hash: str, api_key: ApiKey, *, ttl: float) -> None:
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[key_hash] = (clock() + ttl, api_key)


def forget(key_hash: str | None = None) -> None:
    """Drop one remembered key, or every one."""
    with _lock:
        if key_hash is None:
            _entries.clear()
        else:
            _entries.pop(key_hash, None)
