"""A small per-process memory whose entries expire: what a web process may
remember for a few seconds instead of asking the database on every request
(authenticated API keys, a client's hold amount). Entries are shared by
concurrent requests and only read; a process forgets its own changes at once,
other processes within the entry's lifetime."""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ExpiringMemo(Generic[V]):
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000):
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        return None

    def put(self, key: Hashable, value: V, *, ttl: float) -> None:
        with self._lock:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (self._clock() + ttl, value)

    def forget(self, key: Hashable | None = None) -> None:
        """Drop one entry, or every one."""
        with self._lock:
            if key is None:
                self._entries.clear()
            else:
                self._entries.pop(key, None)
