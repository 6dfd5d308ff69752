"""A per-process cap on concurrent calls to a slow dependency (a bulkhead).

Web threads are shared by every tenant; a provider that answers slowly would
otherwise hold one thread per waiting request until none is left for anyone
(health checks included). `Bulkhead.slot()` lets at most `size` calls run at
once in this process; a caller that cannot get a slot within `wait` seconds gets
`ProviderBusy` (503 PROVIDER_BUSY with Retry-After) at once instead of queueing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .errors import ProviderBusy


class Bulkhead:
    def __init__(self, *, name: str, size: Callable[[], int], wait: Callable[[], float]):
        # Sizes are read from settings at first use (tests change them).
        self.name = name
        self._size = size
        self._wait = wait
        self._lock = threading.Lock()
        self._semaphore: threading.BoundedSemaphore | None = None
        self._semaphore_size = 0

    def _current(self) -> threading.BoundedSemaphore:
        size = max(1, int(self._size()))
        with self._lock:
            if self._semaphore is None or self._semaphore_size != size:
                self._semaphore = threading.BoundedSemaphore(size)
                self._semaphore_size = size
            return self._semaphore

    @contextmanager
    def slot(self) -> Iterator[None]:
        semaphore = self._current()
        if not semaphore.acquire(timeout=max(0.0, float(self._wait()))):
            raise ProviderBusy(
                "The identity provider is busy; retry shortly", headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            )
        try:
            yield
        finally:
            semaphore.release()


RETRY_AFTER_SECONDS = 2
