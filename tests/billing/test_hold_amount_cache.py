"""HOLD_AMOUNT_CACHE_SECONDS: a create does not read the price list when this
process priced the client's hold moments ago; a price change reaches new holds
once the remembered amount is older than the setting. Charges never use it."""

import pytest

from billing import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch, settings):
    settings.HOLD_AMOUNT_CACHE_SECONDS = 5
    now = {"t": 1000.0}
    monkeypatch.setattr(services._hold_amounts, "_clock", lambda: now["t"])
    services._hold_amounts.forget()
    yield now
    services._hold_amounts.forget()


def test_a_remembered_hold_amount_costs_no_query(clock, make_client, tiers, django_assert_num_queries):
    client = make_client()
    tiers(client, ("All", 1, None, 30))
    with django_assert_num_queries(1):
        assert services.hold_amount_for(client=client) == 30
    with django_assert_num_queries(0):
        assert services.hold_amount_for(client=client) == 30


def test_a_price_change_reaches_new_holds_within_the_setting(clock, make_client, tiers, funded, make_session):
    client = funded(1000)
    tiers(client, ("All", 1, None, 30))
    assert services.hold_amount_for(client=client) == 30
    client.pricing_tiers.update(credits_per_session=80)
    clock["t"] += 4.9
    assert services.hold_amount_for(client=client) == 30  # still remembered
    # The charge prices with the current list, whatever the hold was.
    assert services.session_charge(session=make_session(client)).amount == -80
    clock["t"] += 0.2
    assert services.hold_amount_for(client=client) == 80


def test_off_when_zero(settings, make_client, tiers, django_assert_num_queries):
    settings.HOLD_AMOUNT_CACHE_SECONDS = 0
    client = make_client()
    for _ in range(2):
        with django_assert_num_queries(1):
            assert services.hold_amount_for(client=client) == 50
