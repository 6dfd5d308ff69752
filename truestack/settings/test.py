"""Test settings: SQLite and an in-process cache unless DATABASE_URL/REDIS_URL
point at real servers. Tasks are run explicitly by the tests (or by a real worker
process in the worker tests), so the broker is in memory unless Redis is given."""

from .base import *  # noqa: F403
from .base import REDIS_URL, env

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production-000000000000000000"
SANDBOX_ENABLED = True
WEBHOOK_ALLOW_PRIVATE_TARGETS = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Off, so every request's queries are what the tests count; tests/clients turn it on.
API_KEY_CACHE_SECONDS = 0
HOLD_AMOUNT_CACHE_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Sign-in throttling is off for tests that sign in with `client.login()` (no request
# to count against); tests/hardening turns it on to test it.
AXES_ENABLED = env.bool("AXES_ENABLED", default=False)
# The sandbox provider runs inside the test server itself: its per-process limit on
# provider calls would measure the test harness. tests/hardening sets it to test it.
PROVIDER_MAX_CONCURRENT_CALLS = 64
if not REDIS_URL:
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"allow_overwrite": True}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": env("LOG_LEVEL", default="WARNING")}}

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="truestack-test-media-"))

# Live-server and worker threads must not keep connections open past a test
# (PostgreSQL would refuse to drop the test database).
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
