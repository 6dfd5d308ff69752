"""The client libraries against a live TrueStack: live_server with the sandbox
provider, sessions completed through the sandbox over HTTP, webhooks delivered by
the real delivery task to a local receiver."""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from clients.models import ApiKey
from clients.services import client_webhook_secret
from tests.innovatif.helpers import use_sandbox
from tests.kyc.helpers import sandbox_complete
from tests.webhooks.conftest import make_receiver, receiver  # noqa: F401
from truestack import ratelimit
from webhooks import tasks as webhook_tasks
from webhooks.models import Delivery

REPO = Path(__file__).resolve().parents[2]
# Always the working copy of the library, even if an older one is pip-installed.
sys.path.insert(0, str(REPO / "sdk" / "python" / "src"))

import truestack_sdk  # noqa: E402


@pytest.fixture
def live_sandbox(settings, provider):
    """The live server, with a fault-free sandbox that calls TrueStack back over HTTP."""
    use_sandbox(settings, callback_prefix=provider.url, live_credentials_too=True)
    settings.INNOVATIF_CONNECT_TIMEOUT = 2.0
    settings.INNOVATIF_READ_TIMEOUT = 10.0
    yield provider


@pytest.fixture
def test_key(acme, make_api_key):
    """A raw ts_test_ key of ACME (sandbox, never billed)."""
    return make_api_key(acme, environment=ApiKey.Environment.TEST)[1]


class Sleeps(list):
    """An injectable sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def make_sdk(live_sandbox):
    made = []

    def _make(api_key, **kwargs):
        kwargs.setdefault("sleep", Sleeps())
        made.append(truestack_sdk.TrueStack(api_key, base_url=live_sandbox.url, **kwargs))
        return made[-1]

    yield _make
    # Keep-alive connections would keep live-server threads (and their DB
    # connections) around after the test.
    for ts in made:
        ts.close()


@pytest.fixture
def frozen_window(monkeypatch):
    """A rate-limit window of its own (a year ahead), 30 s before its end: Retry-After is 30."""
    start = (int(time.time()) // 60 + 60 * 24 * 365) * 60
    monkeypatch.setattr(ratelimit, "clock", lambda: start + 30.0)


@dataclass
class DeliveredWebhook:
    headers: dict
    body: bytes
    api_key: str
    secret: str
    session_id: str


@pytest.fixture
def delivered_webhook(acme, test_key, make_sdk, receiver):  # noqa: F811
    """A real `kyc.session.completed` webhook: session created with the library,
    finished in the sandbox, delivered by the delivery task to a local receiver."""
    ts = make_sdk(test_key)
    created = ts.sessions.create(
        document_name="Ahmad bin Abdullah", document_number="901234-56-7890", webhook_url=receiver.url
    )
    sandbox_complete(created["onboarding_url"], outcome="approved")
    delivery = Delivery.objects.get(event__session_id=created["id"], event__kind="kyc.session.completed")
    assert webhook_tasks.deliver(str(delivery.pk)) == Delivery.State.DELIVERED
    [request] = receiver.requests
    return DeliveredWebhook(
        headers=request.headers,
        body=request.body,
        api_key=test_key,
        secret=client_webhook_secret(client=acme),
        session_id=created["id"],
    )
