"""The client contract's three SDK examples (examples/seed/), the Python library's
example and the PHP webhook verifier, run as programs against a live TrueStack."""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from kyc.models import KycSession
from tests.kyc.helpers import sandbox_complete
from webhooks import tasks as webhook_tasks
from webhooks.models import Delivery

from .conftest import REPO

pytestmark = pytest.mark.django_db(transaction=True)

PORTS = range(47150, 47200)


@pytest.fixture
def example_env(live_sandbox, test_key):
    return dict(os.environ, TRUESTACK_BASE_URL=live_sandbox.url, TRUESTACK_API_KEY=test_key)


def run(command, env, **kwargs):
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, **kwargs)


def assert_created(result):
    assert result.returncode == 0, result.stdout + result.stderr
    status, body = result.stdout.strip().split(" ", 1)
    assert status == "201"
    created = json.loads(body)
    session = KycSession.objects.get(pk=created["id"])
    assert session.onboarding_url == created["onboarding_url"]
    assert session.metadata == {"user_id": "usr_12345"}


def php_or_skip() -> str:
    php = shutil.which("php")
    if php is None:
        pytest.skip("php is not installed (.ci/run installs php-cli and php-curl)")
    return php


def test_seed_python_example(example_env):
    assert_created(run([sys.executable, str(REPO / "examples" / "seed" / "create_session.py")], example_env))


def test_seed_javascript_example(example_env):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Node 18 or later runs the JavaScript example; CI has it)")
    assert_created(run([node, str(REPO / "examples" / "seed" / "create_session.mjs")], example_env))


def test_seed_php_example(example_env):
    php = php_or_skip()
    curl = run([php, "-r", 'exit(function_exists("curl_init") ? 0 : 1);'], example_env)
    if curl.returncode != 0:
        pytest.skip("php-curl is not installed (.ci/run installs it)")
    assert_created(run([php, str(REPO / "examples" / "seed" / "create_session.php")], example_env))


def test_python_library_example(example_env):
    env = dict(example_env, PYTHONPATH=str(REPO / "sdk" / "python" / "src"))
    result = run([sys.executable, str(REPO / "sdk" / "python" / "examples" / "create_session.py")], env)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert KycSession.objects.filter(pk=created["id"], metadata={"user_id": "usr_12345"}).exists()


def test_php_verifier_on_a_real_delivered_webhook(delivered_webhook, tmp_path):
    php = php_or_skip()
    script = str(REPO / "examples" / "php" / "verify_webhook.php")
    hook = delivered_webhook
    event_id = json.loads(hook.body)["id"]

    def check(body: bytes, *, now=None, **keys):
        capture = tmp_path / "capture.json"
        capture.write_text(
            json.dumps({"headers": hook.headers, "body_base64": base64.b64encode(body).decode(), **keys})
        )
        return run([php, script, str(capture)] + ([str(now)] if now else []), dict(os.environ))

    for keys in ({"api_key": hook.api_key}, {"secret": hook.secret}, {"api_key": hook.api_key, "secret": hook.secret}):
        result = check(hook.body, **keys)
        assert (result.returncode, result.stdout.strip()) == (0, f"verified {event_id}"), result.stderr

    tampered = hook.body.replace(b"approved", b"rejected")
    result = check(tampered, api_key=hook.api_key)
    assert result.returncode == 1 and "X-Webhook-Signature does not match" in result.stderr
    result = check(tampered, secret=hook.secret)
    assert result.returncode == 1 and "no webhook-signature matches" in result.stderr

    sent_at = int(hook.headers["webhook-timestamp"])
    assert check(hook.body, now=sent_at + 299, secret=hook.secret).returncode == 0
    result = check(hook.body, now=sent_at + 301, secret=hook.secret)
    assert result.returncode == 1 and "outside the tolerance" in result.stderr


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


@pytest.fixture
def start_receiver(acme, test_key, tmp_path):
    """Starts a receiver example (command with {port}) with the keys in its environment;
    returns its URL. Stopped after the test."""
    from clients.services import client_webhook_secret

    processes = []

    def start(command, *, secret=None, **extra_env):
        port = free_port()
        env = dict(
            os.environ,
            TRUESTACK_API_KEY=test_key,
            TRUESTACK_WEBHOOK_SECRET=secret or client_webhook_secret(client=acme),
            PYTHONPATH=str(REPO / "sdk" / "python" / "src"),
            **extra_env,
        )
        process = subprocess.Popen(
            [part.format(port=port) for part in command],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        processes.append(process)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        return f"http://127.0.0.1:{port}/hooks/kyc", process

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def deliver_to(make_sdk, test_key, url) -> Delivery:
    ts = make_sdk(test_key)
    created = ts.sessions.create(document_name="Ahmad bin Abdullah", document_number="901234-56-7890", webhook_url=url)
    sandbox_complete(created["onboarding_url"], outcome="approved")
    delivery = Delivery.objects.get(event__session_id=created["id"], event__kind="kyc.session.completed")
    webhook_tasks.deliver(str(delivery.pk))
    delivery.refresh_from_db()
    return delivery


WRONG_SECRET = "whsec_" + base64.b64encode(b"not the client's secret at all!!").decode()


def test_php_receiver_accepts_a_real_delivery_and_refuses_a_wrong_secret(make_sdk, test_key, start_receiver, tmp_path):
    php = php_or_skip()
    command = [php, "-S", "127.0.0.1:{port}", str(REPO / "examples" / "php" / "verify_webhook.php")]
    log = tmp_path / "received.jsonl"
    url, _ = start_receiver(command, TRUESTACK_WEBHOOK_LOG=str(log))
    delivery = deliver_to(make_sdk, test_key, url)
    assert delivery.state == Delivery.State.DELIVERED
    [line] = log.read_text().splitlines()
    assert json.loads(line) == {"id": str(delivery.event_id), "event": "kyc.session.completed"}

    wrong_log = tmp_path / "wrong.jsonl"
    wrong_url, _ = start_receiver(command, secret=WRONG_SECRET, TRUESTACK_WEBHOOK_LOG=str(wrong_log))
    refused = deliver_to(make_sdk, test_key, wrong_url)
    assert refused.state != Delivery.State.DELIVERED
    assert refused.attempts.get().status_code == 400
    assert not wrong_log.exists()


RECEIVER_EXAMPLES = [
    pytest.param([sys.executable, "sdk/python/examples/webhook_receiver.py", "{port}"], id="python"),
    pytest.param(["node", "sdk/node/examples/webhook_receiver.mjs", "{port}"], id="node"),
]


@pytest.mark.parametrize("command", RECEIVER_EXAMPLES)
def test_library_receiver_examples_verify_real_deliveries(make_sdk, test_key, start_receiver, command):
    if command[0] == "node":
        if shutil.which("node") is None:
            pytest.skip("node is not installed (Node 18 or later; CI has it)")
        if not (REPO / "sdk" / "node" / "dist" / "index.js").exists():
            if os.environ.get("CI"):
                pytest.fail("sdk/node/dist is missing: .ci/run must run `npm ci` in sdk/node (it builds dist/)")
            pytest.skip("sdk/node/dist is missing: run `npm ci` in sdk/node (needs the npm registry; CI does)")
    url, process = start_receiver(command)
    delivery = deliver_to(make_sdk, test_key, url)
    assert delivery.state == Delivery.State.DELIVERED
    assert delivery.attempts.get().status_code == 204

    wrong_url, _ = start_receiver(command, secret=WRONG_SECRET)
    refused = deliver_to(make_sdk, test_key, wrong_url)
    assert refused.attempts.get().status_code == 400 and refused.state != Delivery.State.DELIVERED

    process.terminate()
    printed = process.communicate(timeout=10)[0]
    assert f"kyc.session.completed {delivery.event.session_id} approved" in printed
