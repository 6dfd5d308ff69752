import pytest


@pytest.fixture
def provider(live_server, settings):
    """TrueStack and its sandbox on the live test server: provider calls go over real HTTP."""
    base = live_server.url
    settings.PUBLIC_BASE_URL = base
    settings.SANDBOX_BASE_URL = f"{base}/sandbox/innovatif/v1/gateway"
    settings.INNOVATIF_BASE_URL = settings.SANDBOX_BASE_URL
    settings.SANDBOX_CALLBACK_URL_PREFIX = base
    return live_server
