"""The sandbox onboarding page: outcomes in words for whoever revisits a finished
link (no provider codes), and labelled inputs."""

import re

import pytest

from sandbox.models import SandboxTransaction
from tests.sandbox.test_flow import new_txn

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client, django_capture_on_commit_callbacks):
    from tests.sandbox.test_flow import CommitClient

    return CommitClient(client, django_capture_on_commit_callbacks)


@pytest.fixture
def env(settings, recorder):
    from tests.innovatif.helpers import use_sandbox

    settings.PUBLIC_BASE_URL = "http://testserver"
    return use_sandbox(settings, callback_prefix=recorder.url)


def _finished_card(html: str) -> str:
    return html.split('<div class="card">')[2].split("</div>")[0]


@pytest.mark.parametrize(
    "outcome, words",
    [
        ("approved", "<strong>Approved</strong>: The identity was verified."),
        ("rejected", "<strong>Rejected</strong>: The identity could not be verified."),
        ("expired", "<strong>Not finished</strong>: The link expired before the verification was completed."),
    ],
)
def test_finished_link_shows_the_outcome_in_words(client, env, recorder, outcome, words):
    txn = new_txn(client, recorder)
    url = f"/sandbox/innovatif/onboarding/{txn.onboarding_id}"
    form = {"outcome": outcome, "reject_message": "Face does not match the document photo"}
    assert client.post(url, form).status_code == 302
    card = _finished_card(client.get(url).content.decode())
    assert f'data-outcome="{outcome}"' in card and words in card
    assert "Status" not in card and "Result" not in card
    assert not re.search(r"\b[0-3] \(", card), card  # no "2 (Completed)"-style codes
    if outcome == "rejected":
        assert "<dt>Reason</dt><dd>Face does not match the document photo</dd>" in card


def test_every_input_has_a_label(client, env, recorder):
    txn = new_txn(client, recorder)
    html = client.get(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}").content.decode()
    for name in ("front_upload", "back_upload", "reject_message", "reject_message_other"):
        assert f'<label class="file" for="{name}">' in html and f'id="{name}" name="{name}"' in html
    assert 'rel="icon" href="/static/favicon.svg"' in html
    assert SandboxTransaction.objects.get(pk=txn.pk).status == SandboxTransaction.Status.PROCESSING
