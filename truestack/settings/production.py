"""Production: PostgreSQL, Redis and S3 from the environment; refuses insecure defaults."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, FIELD_ENCRYPTION_KEYS, REDIS_URL, SECRET_KEY, env

DEBUG = False
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)

if SECRET_KEY.startswith("insecure") or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be set to a random value of at least 32 characters in production.")
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set in production (see README).")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and not env.bool("ALLOW_SQLITE", default=False):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production.")
if not REDIS_URL and not env.bool("ALLOW_NO_REDIS", default=False):
    raise ImproperlyConfigured("REDIS_URL must be set in production.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
LANGUAGE_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
