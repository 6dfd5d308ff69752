"""The onboarding page and the /complete endpoint, with callbacks delivered to a
recording HTTP server and verified with the real callback parser."""

import base64
import io
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from PIL import Image

from kyc.innovatif.callback_body import parse_callback
from kyc.innovatif.mapping import parse_result
from sandbox import specimens
from sandbox.models import SandboxTransaction
from tests.innovatif.helpers import use_sandbox
from tests.sandbox.utils import create_transaction

pytestmark = pytest.mark.django_db


class CommitClient:
    """The Django test client, running each request's on-commit callbacks (the
    sandbox sends callbacks after its own commit) before returning."""

    def __init__(self, client, capture):
        self._client = client
        self._capture = capture

    def get(self, *args, **kwargs):
        with self._capture(execute=True):
            return self._client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        with self._capture(execute=True):
            return self._client.post(*args, **kwargs)


@pytest.fixture
def client(client, django_capture_on_commit_callbacks):
    return CommitClient(client, django_capture_on_commit_callbacks)


@pytest.fixture
def env(settings, recorder):
    settings.PUBLIC_BASE_URL = "http://testserver"
    return use_sandbox(settings, callback_prefix=recorder.url)


def new_txn(client, recorder, **overrides):
    overrides.setdefault("backend_url", f"{recorder.url}/api/internal/webhooks/innovatif/ekyc")
    data = create_transaction(client, **overrides)
    return SandboxTransaction.objects.get(onboarding_id=data["onboarding_id"])


def complete(client, txn, **body):
    return client.post(
        f"/sandbox/innovatif/onboarding/{txn.onboarding_id}/complete",
        data=json.dumps(body),
        content_type="application/json",
    )


def debug_state(txn) -> dict:
    """Callback bookkeeping as stored (the on-commit sends finish after the
    test client got its answer, so read it back from the database)."""
    txn.refresh_from_db()
    return {
        "callback_count": txn.callback_count,
        "callback_last_status": txn.callback_last_status,
        "callback_last_error": txn.callback_last_error,
    }


def verified(recorder):
    return [parse_callback(body, allow_plaintext=False) for body in recorder.bodies]


def test_page_renders_specimens_and_marks_processing(client, env, recorder):
    txn = new_txn(client, recorder)
    response = client.get(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}")
    assert response.status_code == 200
    html = response.content.decode()
    assert "SPECIMEN" in html
    assert 'name="viewport"' in html
    assert "/sandbox/innovatif/specimen/front_document.jpg" in html
    assert "http" not in html.split("<script>")[1].split("</script>")[0]  # no CDN, inline vanilla JS
    txn.refresh_from_db()
    assert txn.status == 1 and txn.opened_at is not None

    callbacks = verified(recorder)
    assert len(callbacks) == 1
    assert callbacks[0].status == "1"
    assert callbacks[0].provider_ref_id == txn.provider_ref_id
    assert parse_result(callbacks[0].body).status == "processing"
    assert recorder.requests[0]["path"] == "/api/internal/webhooks/innovatif/ekyc"

    # opening again does not send another processing callback
    assert client.get(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}").status_code == 200
    assert len(recorder.bodies) == 1


def test_no_processing_callback_in_callback_mode_0(client, env, recorder):
    txn = new_txn(client, recorder, callback_mode="0", ref_id="M0")
    client.get(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}")
    assert recorder.bodies == []


def test_unknown_onboarding_id_is_404(client, env):
    assert client.get("/sandbox/innovatif/onboarding/nope").status_code == 404
    assert complete(client, SandboxTransaction(onboarding_id="nope"), outcome="approved").status_code == 404


def test_form_approve_redirects_with_status_and_sends_detail_callback(client, env, recorder):
    txn = new_txn(client, recorder)
    client.get(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}")
    response = client.post(
        f"/sandbox/innovatif/onboarding/{txn.onboarding_id}", {"outcome": "approved", "reject_message": "Step 2 failed"}
    )
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "client.example", "/done")
    query = parse_qs(location.query)
    assert query["x"] == ["1"]
    assert query["status"] == ["2"] and query["result"] == ["1"]
    assert query["ref_id"] == [txn.provider_ref_id]

    callbacks = verified(recorder)
    assert [c.status for c in callbacks] == ["1", "2"]
    result = parse_result(callbacks[1].body)
    assert result.result == "approved"
    assert result.reject_message is None
    assert set(result.images) == {"front_document", "back_document", "face_image", "best_frame"}
    txn.refresh_from_db()
    assert txn.callback_count == 2 and txn.callback_last_status == 200 and txn.finished_at


def test_form_reject_with_reason_and_upload(client, env, recorder):
    txn = new_txn(client, recorder)
    upload = io.BytesIO()
    Image.new("RGB", (2000, 1200), (10, 200, 30)).save(upload, format="PNG")
    upload.seek(0)
    upload.name = "front.png"
    response = client.post(
        f"/sandbox/innovatif/onboarding/{txn.onboarding_id}",
        {"outcome": "rejected", "reject_message": "OCR failed", "reject_message_other": "", "front_upload": upload},
    )
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["result"] == ["0"]
    result = parse_result(verified(recorder)[-1].body)
    assert result.result == "rejected"
    assert result.reject_message == "OCR failed"
    assert result.face_match is False and result.document_valid is False
    front = Image.open(io.BytesIO(result.images["front_document"]))
    assert front.format == "JPEG" and max(front.size) <= 1024
    assert result.images["back_document"] == specimens.back_document("901231145671-04-01")


def test_form_abandon_expires(client, env, recorder):
    txn = new_txn(client, recorder)
    response = client.post(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}", {"outcome": "expired"})
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["status"] == ["3"]
    result = parse_result(verified(recorder)[-1].body)
    assert result.status == "expired" and result.images == {}


def test_form_without_outcome_is_400(client, env, recorder):
    txn = new_txn(client, recorder)
    response = client.post(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}", {})
    assert response.status_code == 400
    assert "Choose an outcome" in response.content.decode()


def test_finished_page_and_second_post(client, env, recorder):
    txn = new_txn(client, recorder, response_mode="0")
    assert (
        client.post(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}", {"outcome": "approved"})["Location"]
        == "https://client.example/done?x=1"
    )
    sent = len(recorder.bodies)
    page = client.get(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}")
    assert page.status_code == 200 and "Verification finished" in page.content.decode()
    again = client.post(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}", {"outcome": "rejected"})
    assert again.status_code == 302
    txn.refresh_from_db()
    assert txn.result == "1"
    assert len(recorder.bodies) == sent


def test_expired_link_page(client, env, recorder):
    txn = new_txn(client, recorder)
    SandboxTransaction.objects.filter(pk=txn.pk).update(expired_at=timezone.now() - timedelta(minutes=1))
    page = client.get(f"/sandbox/innovatif/onboarding/{txn.onboarding_id}")
    assert "This link has expired" in page.content.decode()
    callbacks = verified(recorder)
    assert [c.status for c in callbacks] == ["3"]


def test_complete_sends_n_duplicate_callbacks(client, env, recorder):
    txn = new_txn(client, recorder)
    response = complete(client, txn, outcome="approved", callbacks=3)
    assert response.status_code == 200
    body = response.json()
    assert body["onboarding_id"] == txn.onboarding_id
    assert body["status"] == 2 and body["result"] == 1
    assert debug_state(txn)["callback_count"] == 3
    callbacks = verified(recorder)
    assert len(callbacks) == 3
    assert {c.provider_ref_id for c in callbacks} == {txn.provider_ref_id}
    assert all(parse_result(c.body).result == "approved" for c in callbacks)
    envelope = json.loads(recorder.bodies[0])
    assert set(envelope) == {"api_key", "data"}
    assert recorder.requests[0]["headers"]["Content-Type"] == "application/json"


def test_complete_rejected_with_message(client, env, recorder):
    txn = new_txn(client, recorder)
    body = complete(client, txn, outcome="rejected", reject_message="Exceed maximum number of retries").json()
    assert body["result"] == 0
    result = parse_result(verified(recorder)[0].body)
    assert result.reject_message == "Exceed maximum number of retries"


def test_complete_without_callback_simulates_a_lost_one(client, env, recorder):
    txn = new_txn(client, recorder)
    body = complete(client, txn, outcome="approved", send_callback=False).json()
    assert body["status"] == 2 and body["callback_count"] == 0
    assert "send_callback" in body["callback_last_error"]
    assert recorder.bodies == []


def test_complete_twice_is_409(client, env, recorder):
    txn = new_txn(client, recorder)
    assert complete(client, txn, outcome="expired").json()["status"] == 3
    response = complete(client, txn, outcome="approved")
    assert response.status_code == 409
    assert response.json()["status"] == 3
    assert len(recorder.bodies) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"outcome": "maybe"},
        {"outcome": "approved", "callbacks": 0},
        {"outcome": "approved", "callbacks": "2"},
        {"outcome": "approved", "callbacks": 99},
        {"outcome": "approved", "send_callback": "no"},
        {"outcome": "rejected", "reject_message": 5},
    ],
)
def test_complete_validation(client, env, recorder, body):
    txn = new_txn(client, recorder)
    assert complete(client, txn, **body).status_code == 400
    txn.refresh_from_db()
    assert txn.status == 0


def test_complete_rejects_non_json(client, env, recorder):
    txn = new_txn(client, recorder)
    response = client.post(
        f"/sandbox/innovatif/onboarding/{txn.onboarding_id}/complete", data="nope", content_type="application/json"
    )
    assert response.status_code == 400


def test_callbacks_only_to_the_allowed_prefix(client, env, recorder):
    txn = new_txn(client, recorder, backend_url="http://127.0.0.1:9/elsewhere")
    complete(client, txn, outcome="approved")
    state = debug_state(txn)
    assert state["callback_count"] == 0
    assert "SANDBOX_CALLBACK_URL_PREFIX" in state["callback_last_error"]
    assert recorder.bodies == []
    # a look-alike host is not under the prefix
    txn2 = new_txn(client, recorder, ref_id="R2", backend_url=recorder.url + ".evil.example/cb")
    complete(client, txn2, outcome="approved")
    assert debug_state(txn2)["callback_count"] == 0


def test_summary_callback_mode_has_no_images(client, env, recorder):
    txn = new_txn(client, recorder, callback_mode="1")
    complete(client, txn, outcome="approved")
    callback = verified(recorder)[0]
    assert "front_document_image" not in callback.body
    assert callback.body["mode"] == 1
    assert parse_result(callback.body).result == "approved"


def test_failed_callback_delivery_is_recorded(client, env, recorder):
    recorder.status_code = 500
    txn = new_txn(client, recorder)
    complete(client, txn, outcome="approved", callbacks=2)
    assert debug_state(txn) == {"callback_count": 2, "callback_last_status": 500, "callback_last_error": "HTTP 500"}


def test_a_callback_dropped_on_the_way_is_sent_once_more(client, env, recorder):
    recorder.drop_next = 1
    txn = new_txn(client, recorder)
    complete(client, txn, outcome="approved")
    assert len(recorder.requests) == 2  # dropped unanswered, then sent again
    assert recorder.bodies[0] == recorder.bodies[1]
    assert debug_state(txn) == {"callback_count": 1, "callback_last_status": 200, "callback_last_error": ""}


def test_a_callback_dropped_twice_is_recorded_as_not_delivered(client, env, recorder):
    recorder.drop_next = 2
    txn = new_txn(client, recorder)
    complete(client, txn, outcome="approved")
    assert len(recorder.requests) == 2  # one more try, not more
    state = debug_state(txn)
    assert state["callback_last_status"] is None
    assert state["callback_last_error"].startswith("not delivered")


def test_unreachable_callback_target_is_recorded(client, env, recorder, settings):
    settings.SANDBOX_CALLBACK_URL_PREFIX = "http://127.0.0.1:9"
    txn = new_txn(client, recorder, backend_url="http://127.0.0.1:9/cb")
    complete(client, txn, outcome="approved")
    state = debug_state(txn)
    assert state["callback_last_status"] is None
    assert state["callback_last_error"].startswith("not delivered")


def test_specimen_endpoint(client, env):
    response = client.get("/sandbox/innovatif/specimen/face_image.jpg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert client.get("/sandbox/innovatif/specimen/other.jpg").status_code == 404


def test_specimens_are_small_jpegs():
    for kind in specimens.KINDS:
        data = specimens.specimen(kind)
        assert len(data) <= 40 * 1024
        assert Image.open(io.BytesIO(data)).format == "JPEG"
    assert specimens.specimen("face_image") is specimens.specimen("face_image")  # cached
    assert len(specimens.front_document("A" * 100, "9" * 32)) <= 40 * 1024
    base64.b64encode(specimens.best_frame())
