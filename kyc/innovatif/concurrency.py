"""Per-process limits on provider calls made while a client waits (create,
refresh): see truestack/bulkhead.py. Live and sandbox have a limit each, so a
slow sandbox never holds up live traffic, nor the reverse."""

from django.conf import settings

from truestack.bulkhead import Bulkhead


def _size() -> int:
    return settings.PROVIDER_MAX_CONCURRENT_CALLS


def _wait() -> float:
    return settings.PROVIDER_CALL_WAIT_SECONDS


_LIVE = Bulkhead(name="provider-live", size=_size, wait=_wait)
_SANDBOX = Bulkhead(name="provider-sandbox", size=_size, wait=_wait)


def provider_slot(*, is_test: bool):
    """Context manager: a slot for one provider call, or ProviderBusy (503)."""
    return (_SANDBOX if is_test else _LIVE).slot()
