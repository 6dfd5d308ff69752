"""Per-client request rate limit for the client API.

A fixed one-minute window counted in the shared Django cache (Redis in
production), so the limit holds across every web process. The counter key
names the window, and `cache.add` + `cache.incr` are atomic on Redis: no
read-modify-write race between processes. A client far below its limit costs
one Redis round trip per LEASE_MAX requests per process (see `_count_leased`).

The throttle records (limit, remaining, reset) on the Django request;
`RateLimitHeadersMiddleware` copies them onto the answer as X-RateLimit-*.
Unauthenticated requests are refused (401) before throttles run and never
count against a client.

While Redis is unreachable the window is counted in each process instead (see
`_count_locally`): still enforced, at most limit x processes overall, and the
API stays available. The same counter limits provider callbacks per source
address (`source_rate_limit_hit`)."""

import logging
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import BaseThrottle

from .errors import TooManyRequests

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
KEY_PREFIX = "ratelimit:client"


def clock() -> float:
    """Current epoch seconds (a seam for tests)."""
    return time.time()


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset: int  # epoch seconds when the current window ends

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def client_rate_limit(client) -> int:
    """Requests per minute for a client: its own setting, else the default."""
    own = getattr(client, "rate_limit_per_minute", None)
    return own if own is not None else settings.API_RATE_LIMIT_PER_MINUTE


# While the shared cache (Redis) is unreachable, requests are counted in this
# process instead: limits stay enforced per process (so at most limit x processes
# overall) rather than not at all, and the API stays up. A warning is logged at
# most once a minute.
_local_counts: dict[str, tuple[float, int]] = {}
_local_lock = threading.Lock()
_last_fallback_warning = [0.0]
FALLBACK_WARNING_EVERY_SECONDS = 60.0


def _count_locally(key: str, ttl: int) -> int:
    now = time.monotonic()
    with _local_lock:
        if now - _last_fallback_warning[0] >= FALLBACK_WARNING_EVERY_SECONDS:
            _last_fallback_warning[0] = now
            logger.warning("rate limit cache unavailable: counting in this process until it is back")
        if len(_local_counts) > 10_000:
            for stale in [k for k, (expires, _) in _local_counts.items() if expires <= now]:
                del _local_counts[stale]
        expires, count = _local_counts.get(key, (now + ttl, 0))
        if expires <= now:
            expires, count = now + ttl, 0
        _local_counts[key] = (expires, count + 1)
        return count + 1


# After a failure the shared counter is not tried again for a few seconds, so an
# unreachable Redis costs one timeout per process every few seconds, not one per request.
SHARED_RETRY_AFTER_SECONDS = 5.0
_shared_down_until = [0.0]


def _count(key: str, limit: int = 0) -> int:
    """Increment the window counter atomically and return the new count."""
    ttl = WINDOW_SECONDS + 5
    if time.monotonic() < _shared_down_until[0]:
        return _count_locally(key, ttl)
    try:
        return _count_leased(key, ttl, limit)
    except Exception:  # noqa: BLE001 - the cache is down: a local count beats no limit
        _shared_down_until[0] = time.monotonic() + SHARED_RETRY_AFTER_SECONDS
        return _count_locally(key, ttl)


# Counter values this process took from the shared counter in one step and hands out
# one per request: key -> (next value, last value). Far from the limit a process takes
# up to LEASE_MAX values at once (one Redis round trip per LEASE_MAX requests); within
# LEASE_DIVISOR x LEASE_MAX of it, one at a time, as without leases. Every value is
# used at most once, so no more than `limit` requests pass in a window across all
# processes; values another process took and did not use make this one's count (and
# X-RateLimit-Remaining) conservative by at most LEASE_MAX per process.
LEASE_MAX = 32
LEASE_DIVISOR = 64
_leases: dict[str, tuple[int, int]] = {}
_leases_lock = threading.Lock()


def _count_leased(key: str, ttl: int, limit: int) -> int:
    with _leases_lock:
        lease = _leases.get(key)
        if lease is not None and lease[0] <= lease[1]:
            _leases[key] = (lease[0] + 1, lease[1])
            return lease[0]
    known = lease[1] if lease is not None else 0
    size = max(1, min(LEASE_MAX, (limit - known) // LEASE_DIVISOR))
    last = _count_shared(key, ttl, size)
    with _leases_lock:
        if len(_leases) > 10_000:
            _leases.clear()  # windows past; the next request of each client takes a new lease
        _leases[key] = (last - size + 2, last)
    return last - size + 1


def _count_shared(key: str, ttl: int, by: int = 1) -> int:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # One round trip: SET NX (start the window with its expiry) then INCRBY.
        full_key = backend.make_and_validate_key(key)
        pipe = backend._cache.get_client(full_key, write=True).pipeline(transaction=False)
        pipe.set(full_key, 0, ex=ttl, nx=True)
        pipe.incrby(full_key, by)
        return int(pipe.execute()[1])
    backend.add(key, 0, timeout=ttl)
    try:
        return backend.incr(key, by)
    except ValueError:  # evicted between add and incr
        backend.add(key, 0, timeout=ttl)
        return backend.incr(key, by)


def rate_limit_hit(
    *, client_id, limit: int, now: float | None = None, scope: str = ""
) -> tuple[bool, RateLimitState, int]:
    """Count one request for the client (in its own counter when `scope` names
    one, e.g. "redeliver"). Returns (allowed, state, retry_after_seconds)."""
    now = clock() if now is None else now
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    reset = window_start + WINDOW_SECONDS
    prefix = f"{KEY_PREFIX}:{scope}" if scope else KEY_PREFIX
    count = _count(f"{prefix}:{client_id}:{window_start}", limit)
    state = RateLimitState(limit=limit, remaining=max(0, limit - count), reset=reset)
    retry_after = max(1, math.ceil(reset - now))
    return count <= limit, state, retry_after


def rate_limit_enforce(*, client_id, scope: str, limit: int, what: str) -> None:
    """Count one `scope` action for the client in its own per-minute counter
    (beside the request limit); TooManyRequests (429 + Retry-After) past `limit`."""
    try:
        allowed, _state, retry_after = rate_limit_hit(client_id=client_id, limit=limit, scope=scope)
    except Exception:
        logger.warning("rate limit cache unavailable; %s allowed", scope, exc_info=True)
        return
    if not allowed:
        raise TooManyRequests(
            f"Rate limit exceeded: {limit} {what} per minute; retry in {retry_after} seconds",
            headers={"Retry-After": str(retry_after)},
        )


def source_rate_limit_hit(*, prefix: str, source: str, limit: int, now: float | None = None) -> tuple[bool, int]:
    """Count one request from `source` (an address) under `prefix`.
    Returns (allowed, retry_after_seconds)."""
    now = clock() if now is None else now
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    count = _count(f"ratelimit:{prefix}:{source}:{window_start}", limit)
    return count <= limit, max(1, math.ceil(window_start + WINDOW_SECONDS - now))


class ClientRateThrottle(BaseThrottle):
    """DRF throttle for authenticated API clients (request.user is a Client)."""

    def allow_request(self, request, view):
        client = request.user
        client_id = getattr(client, "pk", None)
        if client_id is None or not getattr(client, "is_authenticated", False):
            return True
        limit = client_rate_limit(client)
        try:
            allowed, state, retry_after = rate_limit_hit(client_id=client_id, limit=limit)
        except Exception:
            # Last resort (a Redis outage is handled inside _count): never fail a request over it.
            logger.warning("rate limit unavailable; request allowed", exc_info=True)
            return True
        request._request.rate_limit = state
        if not allowed:
            raise TooManyRequests(
                f"Rate limit exceeded: {limit} requests per minute; retry in {retry_after} seconds",
                headers={"Retry-After": str(retry_after)},
            )
        return True


class RateLimitHeadersMiddleware:
    """Adds X-RateLimit-* to every answer whose request was counted."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        state = getattr(request, "rate_limit", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response
