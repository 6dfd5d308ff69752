"""The Node library (sdk/node) against a live TrueStack: compiles it with its pinned
tsc, then runs its `node --test` suite and its example with the live server's URL,
keys and a really delivered webhook in the environment."""

import base64
import json
import os
import re
import shutil
import subprocess

import pytest

from clients.models import ApiKey
from kyc import apis, idempotency
from kyc.idempotency import request_fingerprint
from kyc.models import IdempotencyRecord, KycSession

from .conftest import REPO

pytestmark = pytest.mark.django_db(transaction=True)

NODE_DIR = REPO / "sdk" / "node"
TSC = NODE_DIR / "node_modules" / ".bin" / "tsc"
BODY = {
    "document_name": "Ahmad bin Abdullah",
    "document_number": "901234-56-7890",
    "webhook_url": "https://yourapp.example/webhooks/kyc",
}


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Node 18 or later runs the sdk/node tests; CI has it)")
    if not TSC.exists():
        if os.environ.get("CI"):
            pytest.fail("sdk/node/node_modules is missing: .ci/run must run `npm ci` in sdk/node")
        pytest.skip("sdk/node/node_modules is missing: run `npm ci` in sdk/node (needs the npm registry; CI does)")
    return node


def build(node: str) -> None:
    result = subprocess.run(
        [node, str(TSC), "-p", str(NODE_DIR / "tsconfig.json")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def node_env(
    live_sandbox,
    settings,
    frozen_window,
    monkeypatch,
    acme,
    test_key,
    make_client,
    make_api_key,
    delivered_webhook,
    tmp_path,
):
    settings.API_RATE_LIMIT_PER_MINUTE = 1000  # one frozen window for the whole run
    poor = make_client(code="POOR")
    limited = make_client(code="LIMITED")
    limited.rate_limit_per_minute = 2
    limited.save(update_fields=["rate_limit_per_minute"])
    # A first request with this key that has not answered yet.
    IdempotencyRecord.objects.create(client=acme, key="node-in-progress", request_hash=request_fingerprint(BODY))
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST_SECONDS", 0.2)
    # Document downloads answer 302 as with S3, to the server's own signed links
    # (the Python tests cover the direct answer).
    monkeypatch.setattr(apis, "uses_presigned_urls", lambda: True)

    capture = tmp_path / "webhook.json"
    hook = delivered_webhook
    capture.write_text(
        json.dumps(
            {
                "headers": hook.headers,
                "body_base64": base64.b64encode(hook.body).decode(),
                "api_key": hook.api_key,
                "secret": hook.secret,
                "session_id": hook.session_id,
            }
        )
    )
    return dict(
        os.environ,
        TRUESTACK_BASE_URL=live_sandbox.url,
        TRUESTACK_API_KEY=test_key,
        TRUESTACK_NO_CREDITS_KEY=make_api_key(poor, environment=ApiKey.Environment.LIVE)[1],
        TRUESTACK_LIMITED_KEY=make_api_key(limited, environment=ApiKey.Environment.TEST)[1],
        TRUESTACK_IN_PROGRESS_KEY="node-in-progress",
        TRUESTACK_WEBHOOK_CAPTURE=str(capture),
    )


def test_node_library_against_live_server(node_env):
    node = node_or_skip()
    build(node)
    result = subprocess.run(
        [node, "--test", "test/unit.test.mjs", "test/live.test.mjs"],
        cwd=NODE_DIR,
        env=node_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert re.search(r"^# fail 0$", output, re.M), output[-3000:]
    assert re.search(r"^# skip(ped)? 0$", output, re.M), output[-3000:]  # the live tests really ran
    passed = int(re.search(r"^# pass (\d+)$", output, re.M).group(1))
    assert passed >= 12
    # What the Node tests did is visible in the database.
    assert KycSession.objects.filter(client__code="LIMITED").count() == 2
    assert KycSession.objects.filter(client__code="POOR").count() == 0
    assert KycSession.objects.filter(metadata__batch="dedupe").count() == 1


def test_node_example_creates_a_session(node_env):
    node = node_or_skip()
    build(node)
    result = subprocess.run(
        [node, "examples/create_session.mjs"], cwd=NODE_DIR, env=node_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["status"] == "pending"
    assert KycSession.objects.filter(pk=created["id"], metadata={"user_id": "usr_12345"}).exists()
