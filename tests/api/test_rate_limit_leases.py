"""Rate-limit leases: far from its limit a process takes several counter values from
the shared counter at once, so most requests make no Redis round trip; across
processes no more than the limit ever passes, and near the limit values are taken
one at a time."""

import uuid
from itertools import cycle

import pytest
from django.core.cache import cache

from truestack import ratelimit

NOW = 1_800_000_030.0
WINDOW_START = 1_800_000_000


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(ratelimit, "_leases", {})
    monkeypatch.setattr(ratelimit, "_shared_down_until", [0.0])


def hit(client_id, limit):
    return ratelimit.rate_limit_hit(client_id=client_id, limit=limit, now=NOW)


def test_far_from_the_limit_one_shared_increment_serves_many_requests():
    client_id, limit = uuid.uuid4(), 64_000
    states = [hit(client_id, limit)[1] for _ in range(100)]
    # One process sees exact counts: remaining falls by one per request.
    assert [s.remaining for s in states] == [limit - n for n in range(1, 101)]
    shared = cache.get(f"{ratelimit.KEY_PREFIX}:{client_id}:{WINDOW_START}")
    assert shared == 4 * ratelimit.LEASE_MAX  # 4 leases of 32 for 100 requests


def test_a_low_limit_counts_every_request_in_the_shared_counter():
    client_id = uuid.uuid4()
    for _ in range(10):
        hit(client_id, 60)
    assert cache.get(f"{ratelimit.KEY_PREFIX}:{client_id}:{WINDOW_START}") == 10


def test_several_processes_never_pass_more_than_the_limit(monkeypatch):
    client_id, limit, processes = uuid.uuid4(), 1_000, 4
    leases = [{} for _ in range(processes)]
    allowed = 0
    for _, process_leases in zip(range(3_000), cycle(leases)):
        monkeypatch.setattr(ratelimit, "_leases", process_leases)  # each "process" has its own
        allowed += hit(client_id, limit)[0]
    assert limit - processes * ratelimit.LEASE_MAX <= allowed <= limit
    # Near the limit values were taken one at a time, so little was left unused.
    assert allowed >= limit - processes * (limit // ratelimit.LEASE_DIVISOR)
