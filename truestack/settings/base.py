"""Settings shared by every environment. All configuration comes from the
environment (a `.env` file in the project root is read if present)."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from celery.schedules import schedule

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# Nothing here touches the disk: truestack/apps.py creates the folders when Django starts.
DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / "var"))).resolve()

SECRET_KEY = env("SECRET_KEY", default="insecure-dev-secret-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
PORT = env.int("PORT", default=3001)
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default=f"http://localhost:{PORT}").rstrip("/")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])

# Fernet keys (comma separated, newest first) that encrypt API keys and webhook
# signing secrets at rest. Empty means "derive one from SECRET_KEY" (embedded
# default only; production settings refuse it).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "truestack",
    "clients",
    "billing",
    "kyc",
    "webhooks",
    "sandbox",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "truestack.middleware.ApiBodySizeLimitMiddleware",
    "truestack.ratelimit.RateLimitHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "truestack.urls"
WSGI_APPLICATION = "truestack.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: PostgreSQL when DATABASE_URL is set, else SQLite in DATA_DIR.
if env("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    # Off by default: a health check costs a `SELECT 1` round trip on every request.
    # Django already drops a connection after an error.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=False)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Server-side parameter binding, and statements run this many times on a
        # connection prepared by PostgreSQL (psycopg's prepare_threshold; unset =
        # never). Both off by default: see docs/performance.md for the measurements.
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        if env.bool("DB_SERVER_SIDE_BINDING", default=False):
            _options["server_side_binding"] = True
        if env("DB_PREPARE_THRESHOLD", default=""):
            _options["prepare_threshold"] = env.int("DB_PREPARE_THRESHOLD")
        # psycopg's connection pool per process instead of one persistent
        # connection per thread (Django needs CONN_MAX_AGE 0 with it).
        if env.bool("DB_POOL", default=False):
            _options["pool"] = {
                "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
                "max_size": env.int("DB_POOL_MAX_SIZE", default=8),
                "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
            }
            DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "truestack.sqlite3",
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Embedded default: one web process (threads), so an in-process cache is shared.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
BILLING_TIME_ZONE = "Asia/Kuala_Lumpur"

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

# Files: local storage in DATA_DIR unless an S3 bucket is configured.
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_REGION_NAME = env("AWS_S3_REGION_NAME", default="ap-southeast-5")
AWS_S3_ENDPOINT_URL = env("AWS_S3_ENDPOINT_URL", default=None)
AWS_ACCESS_KEY_ID = env("AWS_ACCESS_KEY_ID", default=None)
AWS_SECRET_ACCESS_KEY = env("AWS_SECRET_ACCESS_KEY", default=None)
AWS_DEFAULT_ACL = "private"
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = 3600
AWS_S3_FILE_OVERWRITE = True
if AWS_STORAGE_BUCKET_NAME:
    DEFAULT_STORAGE: dict[str, Any] = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    # Image paths are deterministic per session: a second writer overwrites.
    DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"allow_overwrite": True}}
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# How long image URLs handed to clients stay valid.
DOCUMENT_URL_TTL_SECONDS = 3600

# --- Django REST framework and OpenAPI ---------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["clients.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["truestack.negotiation.SafeJSONParser"],
    "EXCEPTION_HANDLER": "truestack.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["truestack.ratelimit.ClientRateThrottle"],
}
# Largest accepted request body under /api/ (bytes); bigger answers 413.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
# Inbound provider callbacks carry base64 images in detail mode.
PROVIDER_CALLBACK_MAX_BODY_BYTES = env.int("PROVIDER_CALLBACK_MAX_BODY_BYTES", default=25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = PROVIDER_CALLBACK_MAX_BODY_BYTES

SPECTACULAR_SETTINGS = {
    "TITLE": "TrueStack KYC API",
    "DESCRIPTION": (
        "Identity verification (KYC) sessions for Malaysian businesses. Every error is "
        '`{"error": CODE, "message": text}`; every answer to an authenticated request carries '
        "`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`. The webhook payload is the "
        "`WebhookEvent` component. Production base URL: https://api.truestack.my. Guide: docs/integration.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No calls to the public swagger validator: the docs page talks to this server only.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Only /api/v1/ (the client API). No `servers`: paths resolve against whichever host serves
    # the schema, and nothing env-dependent ends up in docs/openapi.yaml.
    "PREPROCESSING_HOOKS": ["truestack.schema.client_api_only"],
    "POSTPROCESSING_HOOKS": ["kyc.openapi.add_webhook_component", "kyc.openapi.add_session_links"],
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "TAGS": [{"name": "KYC sessions", "description": "Create, read, refresh and list verification sessions."}],
}

# --- Client API limits --------------------------------------------------------
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=60)
# Each web process remembers an authenticated API key (and its client) this long,
# so most requests skip the key lookup; a key revoked or a client suspended
# elsewhere is refused within this many seconds (at once in the revoking process).
# 0 turns the cache off.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
MAX_OPEN_SESSIONS = env.int("MAX_OPEN_SESSIONS", default=100)
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
SESSION_TTL = timedelta(hours=24)

# --- Innovatif ----------------------------------------------------------------
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
# The built-in sandbox gateway: the default for both URLs below.
_built_in_sandbox_url = f"{PUBLIC_BASE_URL}/sandbox/innovatif/v1/gateway"
INNOVATIF_BASE_URL = env("INNOVATIF_BASE_URL", default=_built_in_sandbox_url).rstrip("/")
INNOVATIF_API_KEY = env("INNOVATIF_API_KEY", default="SANDBOXapikey0123456789abcdefXYZ")
INNOVATIF_MD5_KEY = env("INNOVATIF_MD5_KEY", default="SANDBOXmd5key0123456789abcdefXYZ")
INNOVATIF_PACKAGE_NAME = env("INNOVATIF_PACKAGE_NAME", default="truestack.gateway.sandbox")
INNOVATIF_CIPHERTEXT = env("INNOVATIF_CIPHERTEXT", default="MTIzNDU2Nzg5MDEy")
INNOVATIF_CONNECT_TIMEOUT = env.float("INNOVATIF_CONNECT_TIMEOUT", default=5.0)
INNOVATIF_READ_TIMEOUT = env.float("INNOVATIF_READ_TIMEOUT", default=20.0)
# Accept unencrypted callback bodies (development against the sandbox only).
INNOVATIF_ALLOW_PLAINTEXT_CALLBACKS = env.bool("INNOVATIF_ALLOW_PLAINTEXT_CALLBACKS", default=False)
# Sessions with no callback for this long are polled at the provider.
KYC_POLL_AFTER = timedelta(seconds=env.int("KYC_POLL_AFTER_SECONDS", default=300))
KYC_POLL_BATCH_SIZE = env.int("KYC_POLL_BATCH_SIZE", default=20)

# The provider sandbox's own credentials. ts_test_ keys always use the sandbox
# (SANDBOX_BASE_URL) with these, whatever INNOVATIF_BASE_URL says.
SANDBOX_API_KEY = env("SANDBOX_API_KEY", default="SANDBOXapikey0123456789abcdefXYZ")
SANDBOX_MD5_KEY = env("SANDBOX_MD5_KEY", default="SANDBOXmd5key0123456789abcdefXYZ")
SANDBOX_PACKAGE_NAME = env("SANDBOX_PACKAGE_NAME", default="truestack.gateway.sandbox")
SANDBOX_CIPHERTEXT = env("SANDBOX_CIPHERTEXT", default="MTIzNDU2Nzg5MDEy")
SANDBOX_BASE_URL = env("SANDBOX_BASE_URL", default=_built_in_sandbox_url).rstrip("/")
# The sandbox only calls back URLs under this prefix (it must not become an open relay).
SANDBOX_CALLBACK_URL_PREFIX = env("SANDBOX_CALLBACK_URL_PREFIX", default=PUBLIC_BASE_URL)

# Sandbox fault knobs.
SANDBOX_LATENCY_MS = env.int("SANDBOX_LATENCY_MS", default=0)
SANDBOX_FAILURE_RATE = env.float("SANDBOX_FAILURE_RATE", default=0.0)
SANDBOX_REFUSE_CONNECTIONS = env.bool("SANDBOX_REFUSE_CONNECTIONS", default=False)

# --- Billing --------------------------------------------------------------------
# Price of a completed live session for a client without pricing tiers.
BILLING_DEFAULT_CREDITS_PER_SESSION = env.int("BILLING_DEFAULT_CREDITS_PER_SESSION", default=50)

# --- Outbound webhooks ----------------------------------------------------------
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=6 * 3600)
WEBHOOK_SWEEP_INTERVAL_SECONDS = env.float("WEBHOOK_SWEEP_INTERVAL_SECONDS", default=5.0)
WEBHOOK_SWEEP_BATCH_SIZE = env.int("WEBHOOK_SWEEP_BATCH_SIZE", default=200)
# A delivery handed to the broker is not handed again for this long (no duplicate
# messages while a queue is backed up); a lapsed lease is picked up after it.
WEBHOOK_REQUEUE_AFTER_SECONDS = env.int("WEBHOOK_REQUEUE_AFTER_SECONDS", default=60)

# Benchmark-only endpoints (the "floor" views in bench/); never on in production.
BENCH_FLOOR_ENABLED = env.bool("BENCH_FLOOR_ENABLED", default=False)

# --- Celery ---------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {"visibility_timeout": 3600}
else:
    # Embedded broker: a folder of message files shared by every local process.
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_TASK_ALWAYS_EAGER = False
# Keep a worker's database connection across tasks (Celery closes it after every
# task otherwise, and a new PostgreSQL connection costs ~5 ms of CPU).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "kyc-poll-stale-sessions": {"task": "kyc.tasks.poll_stale_sessions", "schedule": schedule(60)},
    "kyc-fail-orphaned-sessions": {"task": "kyc.tasks.fail_orphaned_sessions", "schedule": schedule(60)},
    "kyc-expire-sessions": {"task": "kyc.tasks.expire_sessions", "schedule": schedule(60)},
    "kyc-reprocess-callbacks": {"task": "kyc.tasks.reprocess_callbacks", "schedule": schedule(60)},
    "kyc-purge-idempotency-records": {"task": "kyc.tasks.purge_idempotency_records", "schedule": schedule(60)},
    "webhooks-sweep-due-deliveries": {
        "task": "webhooks.tasks.sweep_due_deliveries",
        "schedule": schedule(WEBHOOK_SWEEP_INTERVAL_SECONDS),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
