"""Staff sign-in and browser-facing headers: sign-in throttling (django-axes),
short staff sessions, and HSTS and a Content-Security-Policy in production that
the status page and the API docs work under (their inline style/script carry
the request's nonce)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.test import Client

from kyc.models import KycSession

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple 42"

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)


def sign_in(client: Client, password: str, username: str = "operator"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_repeated_wrong_passwords_lock_the_sign_in_even_for_the_right_one(settings, staff):
    settings.AXES_ENABLED = True
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "wrong password").status_code == 200  # the form again, with an error
    assert sign_in(client, "wrong password").status_code == 429  # the limit-th failure locks
    locked = sign_in(client, PASSWORD)
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert Client().get("/admin/").status_code == 302  # still signed out


def test_a_success_before_the_limit_resets_the_count(settings, staff):
    settings.AXES_ENABLED = True
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "wrong password")
    assert sign_in(client, PASSWORD).status_code == 302
    other = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(other, "wrong password")
    assert sign_in(other, PASSWORD).status_code == 302


def test_staff_sessions_last_a_working_day(settings, staff):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    client = Client()
    assert sign_in(client, PASSWORD).status_code == 302
    assert client.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 8 * 3600


def _nonce(header: str, directive: str) -> str:
    policy = dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    match = re.search(r"'nonce-([^']+)'", policy[directive])
    assert match, policy[directive]
    return match.group(1)


def test_the_status_page_works_under_the_strict_policy(settings, acme, acme_key):
    settings.CONTENT_SECURITY_POLICY = settings.STRICT_CONTENT_SECURITY_POLICY
    session = KycSession.objects.create(
        client=acme,
        api_key=acme_key[0],
        ref_id="ACME_csp_1",
        document_name="A",
        document_number="901234567890",
        webhook_url="https://example.com/h",
        expires_at="2099-01-01T00:00:00Z",
    )
    response = Client().get(f"/r/{session.id}")
    assert response.status_code == 200
    header = response["Content-Security-Policy"]
    nonce = _nonce(header, "style-src")
    assert f'<style nonce="{nonce}">' in response.content.decode()
    assert not _unsafe_inline_code(header) and "frame-ancestors 'none'" in header


def test_the_api_docs_work_under_the_strict_policy(settings):
    settings.CONTENT_SECURITY_POLICY = settings.STRICT_CONTENT_SECURITY_POLICY
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    header = response["Content-Security-Policy"]
    # Every inline <script>/<style> carries the nonce the header allows.
    for tag in re.findall(r"<(?:script|style)(?![^>]*\bsrc=)[^>]*>", html):
        assert f'nonce="{_nonce(header, "script-src")}"' in tag, tag


def test_production_sends_hsts_and_the_csp_and_ends_staff_sessions_with_the_browser(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "r = Client().get('/api/nothing-here', secure=True, HTTP_HOST='localhost')\n"
        "print(r.status_code)\n"
        "print(r.get('Strict-Transport-Security'))\n"
        "print(r.get('Content-Security-Policy'))\n"
        "print(settings.SESSION_EXPIRE_AT_BROWSER_CLOSE, settings.SESSION_COOKIE_AGE)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="truestack.settings.production",
        DATA_DIR=str(tmp_path),
        SECRET_KEY="p" * 40,
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOW_SQLITE="true",
        ALLOW_NO_REDIS="true",
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    status, hsts, csp, sessions = result.stdout.strip().splitlines()
    assert status == "404"
    assert hsts.startswith("max-age=") and int(hsts.split("=")[1].split(";")[0]) >= 180 * 24 * 3600
    assert "default-src 'self'" in csp and "object-src 'none'" in csp and not _unsafe_inline_code(csp)
    assert sessions == "True 28800"


def _unsafe_inline_code(header: str) -> bool:
    """Whether the policy lets inline <script> or <style> elements run without the nonce
    (style attributes, `style-src-attr`, cannot run script and are allowed for the admin)."""
    directives = dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return any("'unsafe-inline'" in directives.get(name, "") for name in ("default-src", "script-src", "style-src"))
