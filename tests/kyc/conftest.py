import pytest
from rest_framework.test import APIClient

from clients.models import ApiKey


@pytest.fixture
def provider(live_server, settings):
    """Point TrueStack (and its sandbox) at the live test server, so every
    provider call goes over real HTTP through the sandbox app."""
    base = live_server.url
    settings.PUBLIC_BASE_URL = base
    settings.SANDBOX_BASE_URL = f"{base}/sandbox/innovatif/v1/gateway"
    settings.INNOVATIF_BASE_URL = settings.SANDBOX_BASE_URL
    settings.SANDBOX_CALLBACK_URL_PREFIX = base
    yield live_server
    # Keep-alive connections would keep live-server threads (and their DB
    # connections) around after the test.
    from kyc.innovatif.client import shared_session

    shared_session().close()


@pytest.fixture
def provider_down(settings):
    settings.SANDBOX_BASE_URL = "http://127.0.0.1:9/sandbox/innovatif/v1/gateway"
    settings.INNOVATIF_BASE_URL = settings.SANDBOX_BASE_URL
    settings.INNOVATIF_CONNECT_TIMEOUT = 0.5
    settings.INNOVATIF_READ_TIMEOUT = 0.5


@pytest.fixture
def test_api(acme, make_api_key):
    key, raw = make_api_key(acme, environment=ApiKey.Environment.TEST)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.api_key, client.raw_key = key, raw
    return client


@pytest.fixture
def funded(acme):
    """ACME with credit for many sessions."""
    from billing.services import credit_add

    credit_add(client=acme, credits=10_000, description="test funds")
    return acme


VALID = {
    "document_name": "Ahmad bin Abdullah",
    "document_number": "901234-56-7890",
    "webhook_url": "https://yourapp.example/webhooks/kyc",
    "metadata": {"user_id": "usr_12345"},
}


@pytest.fixture
def valid_body():
    return dict(VALID, metadata=dict(VALID["metadata"]))
