"""Settings shared by every environment. All configuration comes from the
environment (a `.env` file in the project root is read if present)."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from celery.schedules import schedule
from csp.constants import NONCE

from truestack.schedules import KualaLumpurCrontab

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
    # The stock admin app with the portal's site (dashboard as its index).
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rangefilter",
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
    "truestack.middleware.EndUserLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "truestack.middleware.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "truestack.middleware.PortalTimeZoneMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into its answer.
    "axes.middleware.AxesMiddleware",
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
    # A reused connection is checked at its first use in a request or task, so a
    # database failover or restart costs no failed request. TrueStack's backend checks
    # the socket first and sends `SELECT 1` only when the server has said something.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DB_CONN_HEALTH_CHECKS", default=True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "truestack.db.postgresql"
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
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # A Redis that is down or unreachable must cost a request little time.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    # Embedded default: one web process (threads), so an in-process cache is shared.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Staff sign-in (admin) -------------------------------------------------------
# django-axes counts failed sign-ins: AXES_FAILURE_LIMIT failures for one username
# from one address lock that pair out for AXES_COOLOFF_TIME; a success resets it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Staff sessions: 8 hours (a working day), not Django's two weeks.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=False)
# HSTS (seconds; production turns it on) and the Content-Security-Policy. Pages with
# inline <style>/<script> mark them with the per-request nonce ({{ request.csp_nonce }}).
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
STRICT_CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", NONCE],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        # Style attributes (the admin's and the portal's charts) cannot run script;
        # <style> and <script> elements still need the nonce.
        "style-src-attr": ["'unsafe-inline'"],
    }
}
# None sends no header (development); production settings send the strict policy.
CONTENT_SECURITY_POLICY: dict[str, Any] | None = None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# End-user pages (the status page, 404/500) speak these; the API and the operator portal are English.
LANGUAGES = [("en", "English"), ("ms", "Bahasa Malaysia")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
BILLING_TIME_ZONE = "Asia/Kuala_Lumpur"
# The operator portal (/admin/) shows and reads times in this zone, named (MYT).
PORTAL_TIME_ZONE = BILLING_TIME_ZONE
# The dashboard lists clients whose available credits cover fewer sessions than this.
PORTAL_LOW_CREDIT_SESSIONS = env.int("PORTAL_LOW_CREDIT_SESSIONS", default=20)

# --- Billing documents (statements, invoices, payments; docs/billing.md) ------
# 10 credits = RM 1: the one place the rate is declared.
BILLING_CREDITS_PER_RINGGIT = env.int("BILLING_CREDITS_PER_RINGGIT", default=10)
# Sales and Service Tax, in percent, charged on the service amount of every invoice.
BILLING_SST_RATE_PERCENT = env("BILLING_SST_RATE_PERCENT", default="8")
# Days from issue to due date when a client's billing profile does not say otherwise.
BILLING_PAYMENT_TERMS_DAYS = env.int("BILLING_PAYMENT_TERMS_DAYS", default=14)
BILLING_COMPANY_NAME = env("BILLING_COMPANY_NAME", default="TrueStack Sdn. Bhd.")
BILLING_COMPANY_REGISTRATION_NUMBER = env("BILLING_COMPANY_REGISTRATION_NUMBER", default="202601000001 (1234567-X)")
BILLING_COMPANY_SST_NUMBER = env("BILLING_COMPANY_SST_NUMBER", default="W10-2601-32000001")
BILLING_COMPANY_ADDRESS = env(
    "BILLING_COMPANY_ADDRESS", default="Level 10, Menara TrueStack, Jalan Ampang, 50450 Kuala Lumpur, Malaysia"
)
BILLING_COMPANY_EMAIL = env("BILLING_COMPANY_EMAIL", default="finance@truestack.my")
BILLING_INVOICE_TERMS = env(
    "BILLING_INVOICE_TERMS",
    default="Payment by bank transfer to TrueStack Sdn. Bhd., quoting the invoice number. "
    "Amounts in Malaysian ringgit (RM).",
)

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
# No per-object ACL: the bucket is private (Block Public Access, ACLs disabled); see docs/operations.md.
AWS_DEFAULT_ACL = None
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
# Inbound provider callbacks carry base64 images in detail mode (the sandbox's are
# ~120 KB; a real one with four phone-camera images stays well under 4 MiB). Checked
# against Content-Length before the body is read; bigger answers 413.
PROVIDER_CALLBACK_MAX_BODY_BYTES = env.int("PROVIDER_CALLBACK_MAX_BODY_BYTES", default=4 * 1024 * 1024)
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
    "POSTPROCESSING_HOOKS": [
        "kyc.openapi.add_webhook_component",
        "kyc.openapi.add_session_links",
        "webhooks.openapi.add_event_links",
    ],
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "TAGS": [
        {"name": "KYC sessions", "description": "Create, read, refresh and list verification sessions."},
        {"name": "Events", "description": "Your webhook events: list, inspect, redeliver, replay, test."},
        {"name": "Account", "description": "Your balance, monthly statements and invoices (docs/billing.md)."},
    ],
}

# --- Client API limits --------------------------------------------------------
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=60)
# Each web process remembers an authenticated API key (and its client) this long,
# so most requests skip the key lookup; a key revoked or a client suspended
# elsewhere is refused within this many seconds (at once in the revoking process).
# 0 turns the cache off.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
# Each web process remembers a client's hold amount (its highest price) this long, so
# a create does not read the price list; a price change reaches new holds within this
# many seconds. Charges always use the current prices. 0 turns it off.
HOLD_AMOUNT_CACHE_SECONDS = env.float("HOLD_AMOUNT_CACHE_SECONDS", default=5.0)
MAX_OPEN_SESSIONS = env.int("MAX_OPEN_SESSIONS", default=100)
# Open (pending/processing) sessions per client made with ts_test_ keys; apart from the live cap.
MAX_OPEN_TEST_SESSIONS = env.int("MAX_OPEN_TEST_SESSIONS", default=20)
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
# Provider callback endpoint: source addresses allowed to call it (CIDRs, comma
# separated; empty allows any), the request header holding the caller's address when
# a trusted proxy sets it (e.g. HTTP_X_FORWARDED_FOR, rightmost entry used; empty
# means REMOTE_ADDR), and callbacks per minute per source address (0 = no limit).
INNOVATIF_CALLBACK_ALLOWED_IPS = env.list("INNOVATIF_CALLBACK_ALLOWED_IPS", default=[])
INNOVATIF_CALLBACK_CLIENT_IP_HEADER = env("INNOVATIF_CALLBACK_CLIENT_IP_HEADER", default="")
INNOVATIF_CALLBACK_RATE_LIMIT_PER_MINUTE = env.int("INNOVATIF_CALLBACK_RATE_LIMIT_PER_MINUTE", default=6000)
# A stored callback that fails to apply is retried this many times, then parked.
CALLBACK_MAX_ATTEMPTS = env.int("CALLBACK_MAX_ATTEMPTS", default=5)
# Refused callbacks (forged, broken) are deleted after this long.
CALLBACK_REFUSED_RETENTION = timedelta(days=env.int("CALLBACK_REFUSED_RETENTION_DAYS", default=7))
# Provider calls in flight at once per web process (create, refresh); a request that
# finds them all busy waits up to PROVIDER_CALL_WAIT_SECONDS, then answers 503
# PROVIDER_BUSY with Retry-After, so a slow provider cannot take every web thread.
PROVIDER_MAX_CONCURRENT_CALLS = env.int("PROVIDER_MAX_CONCURRENT_CALLS", default=6)
PROVIDER_CALL_WAIT_SECONDS = env.float("PROVIDER_CALL_WAIT_SECONDS", default=0.2)
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

# --- Data protection ------------------------------------------------------------
# Defaults for clients without a RetentionPolicy: days after a session ends that its
# images, then its personal fields, are kept before the retention job removes them.
RETENTION_IMAGES_DAYS = env.int("RETENTION_IMAGES_DAYS", default=30)
RETENTION_PERSONAL_DATA_DAYS = env.int("RETENTION_PERSONAL_DATA_DAYS", default=365)
# Sessions handled per run of the retention job (each kind); the rest wait for the next run.
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=200)
RETENTION_INTERVAL_SECONDS = env.float("RETENTION_INTERVAL_SECONDS", default=3600.0)

# --- Billing --------------------------------------------------------------------
# Price of a completed live session for a client without pricing tiers.
BILLING_DEFAULT_CREDITS_PER_SESSION = env.int("BILLING_DEFAULT_CREDITS_PER_SESSION", default=50)

# --- Outbound webhooks ----------------------------------------------------------
# After a signing secret is rotated, the previous one keeps signing (next to the
# new one) for this long.
WEBHOOK_SECRET_OVERLAP = timedelta(hours=env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24))
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=False)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=10.0)
# Wall-clock bound on a whole attempt (connect, send, answer): a receiver that drips
# its answer cannot hold a delivery thread longer (nor longer than connect + read
# timeout + 2 s). The lease is this plus a margin.
WEBHOOK_ATTEMPT_DEADLINE_SECONDS = env.float("WEBHOOK_ATTEMPT_DEADLINE_SECONDS", default=15.0)
# Attempts in flight at once per client, across every worker: one client's slow
# endpoint can hold at most this many delivery slots. A delivery over the cap waits
# WEBHOOK_CLIENT_BUSY_DELAY_SECONDS (no attempt is counted).
WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = env.int("WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT", default=4)
WEBHOOK_CLIENT_BUSY_DELAY_SECONDS = env.float("WEBHOOK_CLIENT_BUSY_DELAY_SECONDS", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)
WEBHOOK_BACKOFF_BASE_SECONDS = env.int("WEBHOOK_BACKOFF_BASE_SECONDS", default=30)
WEBHOOK_BACKOFF_MAX_SECONDS = env.int("WEBHOOK_BACKOFF_MAX_SECONDS", default=6 * 3600)
WEBHOOK_SWEEP_INTERVAL_SECONDS = env.float("WEBHOOK_SWEEP_INTERVAL_SECONDS", default=5.0)
WEBHOOK_SWEEP_BATCH_SIZE = env.int("WEBHOOK_SWEEP_BATCH_SIZE", default=200)
# A delivery handed to the broker is not handed again for this long (no duplicate
# messages while a queue is backed up); a lapsed lease is picked up after it.
WEBHOOK_REQUEUE_AFTER_SECONDS = env.int("WEBHOOK_REQUEUE_AFTER_SECONDS", default=60)

# --- Events API (docs/webhooks.md) ----------------------------------------------
# Events (and their deliveries and attempts) older than this are purged; then 404.
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=30)
EVENTS_PURGE_BATCH_SIZE = env.int("EVENTS_PURGE_BATCH_SIZE", default=1000)
# Redeliveries (single, bulk and test sends together) per client per minute.
EVENTS_REDELIVER_RATE_LIMIT_PER_MINUTE = env.int("EVENTS_REDELIVER_RATE_LIMIT_PER_MINUTE", default=60)
EVENTS_BULK_REDELIVER_MAX = env.int("EVENTS_BULK_REDELIVER_MAX", default=10_000)
EVENTS_BULK_REDELIVER_BATCH_SIZE = env.int("EVENTS_BULK_REDELIVER_BATCH_SIZE", default=500)
# A webhook host that has failed every attempt for this long: the client's contact is emailed once.
WEBHOOK_HEALTH_ALERT_AFTER_SECONDS = env.int("WEBHOOK_HEALTH_ALERT_AFTER_SECONDS", default=3600)

# --- Email (endpoint health alerts) -------------------------------------------------
# The console backend prints mail to the log (make run); set an SMTP backend in production.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="TrueStack <no-reply@truestack.my>")

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
    # Statements and post-paid invoices for the previous month, 00:30 on the 1st in Kuala Lumpur.
    "billing-monthly-documents": {
        "task": "billing.tasks.generate_monthly_documents",
        "schedule": KualaLumpurCrontab(minute=30, hour=0, day_of_month=1),
    },
    # Invoices past their due date become overdue (daily, 01:00 Kuala Lumpur).
    "billing-mark-overdue-invoices": {
        "task": "billing.tasks.mark_overdue_invoices",
        "schedule": KualaLumpurCrontab(minute=0, hour=1),
    },
    "kyc-apply-retention": {"task": "kyc.tasks.apply_retention", "schedule": schedule(RETENTION_INTERVAL_SECONDS)},
    "kyc-purge-refused-callbacks": {"task": "kyc.tasks.purge_refused_callbacks", "schedule": schedule(3600)},
    "webhooks-sweep-due-deliveries": {
        "task": "webhooks.tasks.sweep_due_deliveries",
        "schedule": schedule(WEBHOOK_SWEEP_INTERVAL_SECONDS),
    },
    "webhooks-purge-expired-events": {"task": "webhooks.tasks.purge_expired_events", "schedule": schedule(3600)},
    "webhooks-resume-bulk-redeliveries": {
        "task": "webhooks.tasks.resume_bulk_redeliveries",
        "schedule": schedule(60),
    },
}

# 500 reports never show request bodies or frame variables of /api/ requests (personal data).
DEFAULT_EXCEPTION_REPORTER_FILTER = "truestack.error_reports.PrivateBodyExceptionReporterFilter"
DEFAULT_EXCEPTION_REPORTER = "truestack.error_reports.PrivateExceptionReporter"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
