"""Settings shared by every environment. Everything that differs comes from the environment."""

import os
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.templatetags.static import static
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
# Keys for the secrets the CRM stores and reads back (core/secrets.py): comma-separated,
# the first encrypts; empty: SECRET_KEY.
STORED_SECRETS_KEYS = env("STORED_SECRETS_KEYS", default="")
# Keys the hashes of erased email addresses (customers.services.erased_emails); empty:
# SECRET_KEY. Set it before rotating SECRET_KEY, or the erased addresses are forgotten.
ERASED_EMAIL_KEY = env("ERASED_EMAIL_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    # The admin's theme; before django.contrib.admin so its templates win.
    "unfold.apps.BasicAppConfig",  # the theme; the site itself is the CRM's (next line)
    "unfold.contrib.filters",
    "crm.apps.CrmAdminConfig",  # django.contrib.admin, its site crm.admin_site.CrmAdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auditlog",
    "axes",
    "core",
    "customers",
    "loyalty",
    "campaigns",
    "messaging",
    "support",
    "crm",
]

MIDDLEWARE = [
    "crm.after_response.AfterResponseMiddleware",
    # JSON 404/500 under /api/ even with DEBUG on; 503 with Retry-After while the database is down.
    "crm.api.handlers.ApiErrorPagesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Shopify's and WooCommerce's webhooks (/connectors/): the view at once, past the rest,
    # which serves people (sessions, CSRF, sign-in, audit actor…); crm/connectors/middleware.py.
    "crm.connectors.middleware.ConnectorIntakeMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # The admin's theme needs 'unsafe-eval' (Alpine.js); only under /admin/ (crm/admin_csp.py).
    "crm.admin_csp.AdminCspMiddleware",
    # 400 for a NUL in the path or a query parameter, which no column can hold.
    "crm.request_guard.RejectNulMiddleware",
    "crm.api.middleware.ApiBodySizeLimitMiddleware",
    # Records the email providers' tracking events of a webhook request together, once
    # anymail's view has checked the signature and answered (messaging/tracking.py).
    "messaging.tracking.TrackingBatchMiddleware",
    # anymail's webhooks: 403 for a basic-auth provider while ANYMAIL_WEBHOOK_SECRET is unset,
    # 400 for a body anymail cannot read (messaging/webhook_auth.py).
    "messaging.webhook_auth.AnymailWebhookGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # 400 for an admin page read that fails on a parameter's value (see the class).
    "crm.request_guard.AdminBadParameterMiddleware",
    # Names the signed-in user as the actor of audit log entries (crm.audit).
    "auditlog.middleware.AuditlogMiddleware",
    # Answers a locked-out sign-in (django-axes); last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
# Where the admin links a customer (core.admin_tools.customer_link): the 360 page of the crm
# app, named here so that the apps below crm never name its URLs.
CUSTOMER_ADMIN_URL_NAME = "admin:crm_customer360_change"
# After signing in without a "next" page: the admin, which sends each role to its start page.
LOGIN_REDIRECT_URL = "admin:index"

# The admin's theme (django-unfold): the product's name, its icon, no "View site" (there is
# no public site to view), and a sidebar grouped by job (crm/navigation.py).
UNFOLD = {
    "SITE_TITLE": "E-commerce CRM",
    "SITE_HEADER": "E-commerce CRM",
    "SITE_SUBHEADER": "Customers, support, loyalty",
    "SITE_URL": "",
    "SITE_SYMBOL": "diversity_1",
    "SITE_FAVICONS": [
        {"rel": "icon", "type": "image/svg+xml", "href": lambda request: static("crm/favicon.svg")},
    ],
    "SHOW_VIEW_ON_SITE": False,
    # The project's own admin pages, styled to match the theme (crm/static/crm/admin.css).
    "STYLES": [lambda request: static("crm/admin.css")],
    "SIDEBAR": {
        "show_search": False,
        "show_all_applications": False,
        "navigation": "crm.navigation.sidebar",
    },
}
WSGI_APPLICATION = "config.wsgi.application"

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
                # {{ csp_nonce }} for the rare inline script (there is none today).
                "django.template.context_processors.csp",
            ],
        },
    },
]

# With no DATABASE_URL the app keeps its data in a local SQLite file (the embedded default).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves threads (runserver, the work after each response) on one
    # file. A write transaction takes the lock when it begins (IMMEDIATE), so it waits for
    # the writer before it instead of failing "database is locked" half-way when it tries
    # to upgrade a read lock; waits end after 30 s. WAL (pages read while a write runs) is
    # set by core.db.sqlite_wal, which also waits out connections switching it at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=30, transaction_mode="IMMEDIATE")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT: the recompute's per-chunk queries are costed above jit_above_cost, and compiling
    # them took longer (30–100 ms) than running them.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    # An unreachable server (not a refused connection) fails a request in seconds, as a 503.
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in lockout (django-axes): after AXES_FAILURE_LIMIT failed admin sign-ins in a row,
# the username (from any address) and the address (for any username) are refused, the right
# password included, for AXES_COOLOFF_TIME; a success clears the count. A manager lifts a
# lockout sooner in the admin ("Access attempts": delete the row) or with
# `manage.py axes_reset_username <name>`, `axes_reset_ip <address>` or `axes_reset` (all).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_COOLOFF_MESSAGE = (
    "Sign-in refused: too many failed sign-in attempts for this account or from this address. "
    f"Try again in {AXES_COOLOFF_TIME.seconds // 60} minutes, or ask a manager to lift the lockout."
)
AXES_CLIENT_IP_CALLABLE = "crm.request_guard.client_address"
# How many proxies in front of the app append to X-Forwarded-For (0: none, use REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Content-Security-Policy on every response (Django's own middleware). Scripts only from
# this origin (the admin's, the rule builder's, Swagger UI's from the sidecar package) or an
# inline one carrying the request's nonce; nothing may frame the pages, no plugins, no
# <base> elsewhere, forms post only here. Styles allow inline (the admin and a few of our
# templates use style attributes, which a nonce cannot cover); scripts never do.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

LANGUAGE_CODE = "en-us"
# One way of writing dates across the admin and the project's pages (config/formats/en/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True
# Times are stored in UTC; TIME_ZONE is the CRM's business time zone (day boundaries).
TIME_ZONE = env("TIME_ZONE", default="UTC")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Money: every order keeps its own currency and a total converted to this one.
BASE_CURRENCY = env("BASE_CURRENCY", default="USD").upper()
# A shop created after the migrations gets the ready-made flows, switched off (crm/wiring.py).
SHIPPED_FLOWS_FOR_NEW_SHOPS = True

# The API refuses bodies over this size with 413 before reading them.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=5 * 1024 * 1024)
API_BULK_MAX_ITEMS = 1000
# JSON bodies are read by DRF from the stream; the limit above is what applies to them.
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["crm.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["crm.api.auth.HasShopApiKey", "crm.api.auth.RolePermission"],
    # Bodies are read by crm.api.<domain>.payloads (msgspec) in the views, not by DRF parsers.
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.CustomerCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "crm.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["crm.api.throttling.ApiKeyRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    # Proxies in front that append to X-Forwarded-For (1 behind the nginx of docs/deploy.md);
    # 0 takes the socket's address and ignores the header, which a client could forge. One
    # setting for the API's failed-key throttle and the admin's sign-in lockout.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# An address with this many failed API authentications within the window is refused
# (429 with Retry-After) for the window, before any key lookup (crm.api.throttling).
API_AUTH_FAILURE_LIMIT = env.int("API_AUTH_FAILURE_LIMIT", default=20)
API_AUTH_FAILURE_SECONDS = env.int("API_AUTH_FAILURE_SECONDS", default=60)
# Requests per API key (crm.api.throttling.ApiKeyRateThrottle): "<n>/<second|minute|hour|day>";
# over it, 429 with Retry-After. A bulk POST of up to 1,000 orders is one request. Counted in
# the default cache (Redis: shared by every process), in each process's memory while Redis is down.
# Empty: no limit.
API_RATE_PER_KEY = env("API_RATE_PER_KEY", default="18000/minute")

SPECTACULAR_SETTINGS = {
    "TITLE": "E-commerce CRM API",
    "DESCRIPTION": (
        "Shops push customers, orders, refunds and events, and read back what the CRM knows of a customer; "
        "each key reaches only its shop.\n\n"
        "**Authorize** with your shop's key (`manage.py create_shop SLUG` prints one), then **Try it out**: "
        "each example works as it stands on a new shop, `POST /orders` first. The guide, with a quick start, "
        "retries and rate limits, is docs/api.md; what changed is in docs/api-changelog.md. Within /api/v1/ "
        "the API only grows: ignore response fields and enum values you do not know."
    ),
    "VERSION": "1.0.0",
    # 3.1: the request bodies' schemas come from msgspec, whose JSON Schema says "null" as a type.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api.schema.add_payload_components",
        "crm.api.schema.add_idempotency_header",
        "crm.request_guard.document_parameter_400s",
        # Every field described, every operation summarised, with examples that work
        # in "Try it out" (crm/api/field_docs.py, crm/api/examples.py).
        "crm.api.field_docs.add_field_descriptions",
        "crm.api.field_docs.add_response_descriptions",
        "crm.api.examples.add_examples",
    ],
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "customers.models.OrderStatus",
        "BulkItemStatusEnum": ["created", "updated", "unchanged", "error"],
    },
    # Swagger UI assets are served from the sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Celery: Redis when REDIS_URL is set, otherwise tasks run in-process (eager).
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True  # tasks write to the database; nobody waits on a result
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task running when the worker loses Redis is cancelled and redelivered, not run twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "UTC"
# Every task's hard time limit is at most 120 s (core.task_policy); the broker hands an
# unacknowledged task (its worker killed) to another worker after this long, so it must be
# longer than any task runs, and short enough that a killed chunk is redone within minutes.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=150),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
# A request queues its follow-up after the response; with the broker down it gives up
# quickly (the work is in the outbox, and the periodic drain takes it when Redis returns).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
# Periodic tasks are declared here and run by `make beat` (celery's own scheduler).
CELERY_BEAT_SCHEDULE = {
    # The outbox of follow-up work: its safety net (a drain is also queued after each write).
    "drain-pending-updates": {"task": "crm.tasks.drain_pending_updates", "schedule": 30.0},
    "purge-idempotency-records": {"task": "crm.tasks.purge_idempotency_records", "schedule": 3600.0},
    # Flags open tickets that breached or are about to breach their SLA; escalates breaches.
    "sweep-sla": {"task": "support.tasks.sweep_sla", "schedule": 60.0},
    # Pending points whose return window has passed become spendable.
    "mature-points": {"task": "loyalty.tasks.mature_points", "schedule": crontab(minute=30)},
    "settle-referrals": {"task": "loyalty.tasks.settle_referrals", "schedule": crontab(minute=40)},
    # Every customer's loyalty tier (up at once, down after the grace).
    "loyalty-nightly": {"task": "loyalty.tasks.loyalty_nightly", "schedule": crontab(hour=3, minute=30)},
    # Repairs customers whose orders changed lately, refits the CLV model, then moves every
    # customer's figures and stage on by a day (from the stored purchase summaries).
    "refit-and-recompute-all-customers": {
        "task": "customers.tasks.refit_and_recompute_all",
        "schedule": crontab(hour=3, minute=0),
    },
    # Every dynamic segment's membership, in full (changed customers are done as they change).
    "refresh-all-segments": {"task": "campaigns.tasks.refresh_all_segments", "schedule": crontab(minute=15)},
    # Campaigns: those due or still sending (customers waiting for their hour, quiet hours,
    # an automatic winner's test); also asked for after Send now.
    "send-campaigns": {"task": "campaigns.tasks.send_due_campaigns", "schedule": 60.0},
    # The deep repair under the nightly one: every customer rebuilt from their orders.
    "rebuild-all-customers-from-orders": {
        "task": "customers.tasks.rebuild_all_from_orders",
        "schedule": crontab(hour=4, minute=0, day_of_week=0),
    },
    # Product recommendations: each shop's neighbours and popular products, from its orders.
    "build-recommendations": {
        "task": "campaigns.tasks.build_recommendations",
        "schedule": crontab(hour=2, minute=30),
    },
    # Suggested duplicates (docs/merge.md): every pair afresh, read by the admin's page.
    "build-duplicate-suggestions": {
        "task": "crm.tasks.build_duplicate_suggestions",
        "schedule": crontab(hour=3, minute=45),
    },
    # The dashboard's rollups: the recent days and the days of changed orders (crm/dashboard/).
    "refresh-dashboard": {"task": "crm.tasks.refresh_dashboard", "schedule": 600.0},
    # ...and all of them from scratch, after the Sunday rebuild of every customer.
    "rebuild-dashboard": {"task": "crm.tasks.rebuild_dashboard", "schedule": crontab(hour=5, minute=0, day_of_week=0)},
    # Attribution: new touches and orders, refunds, every model's credits (campaigns/attribution/).
    "attribute-conversions": {"task": "campaigns.tasks.attribute_conversions", "schedule": crontab(minute=50)},
    # ...and a full pass each night, which also picks up changed windows.
    "attribute-conversions-full": {
        "task": "campaigns.tasks.attribute_conversions",
        "schedule": crontab(hour=2, minute=10),
        "kwargs": {"full": True},
    },
    # Email: sends what is still queued (a send is also queued when each message commits),
    # so messages queued while Redis was down, and retries after their backoff, go out.
    "send-queued-email": {"task": "messaging.tasks.send_queued_email", "schedule": 30.0},
    # Flows: enroll from new trigger rows, apply exits, take due steps (campaigns/flows/).
    "run-flows": {"task": "campaigns.tasks.run_flows", "schedule": 30.0},
    # Shopify's and WooCommerce's webhooks: those stored while Redis was down, and failed
    # ones due again (a processing task is also queued after each delivery; crm/connectors/).
    "process-webhook-deliveries": {"task": "crm.tasks.process_webhook_deliveries", "schedule": 30.0},
    # Outbound webhooks: new events from the history tables into deliveries, then the due
    # deliveries sent, retried with backoff (crm/webhooks/, docs/integrations.md).
    "send-webhooks": {"task": "crm.tasks.send_webhooks", "schedule": 30.0},
    "purge-webhooks": {"task": "crm.tasks.purge_webhooks", "schedule": 3600.0},
    "purge-connector-deliveries": {"task": "crm.tasks.purge_connector_deliveries", "schedule": 3600.0},
    "continue-shop-erasures": {"task": "crm.tasks.continue_shop_erasures", "schedule": 60.0},
}

# The platforms' webhooks as they arrived (crm/connectors/): processed and failed ones are
# kept this many days for the delivery log and replays, then deleted. Their bodies hold
# customers' personal data, so they are not kept for ever (docs/privacy.md).
CONNECTOR_DELIVERY_LOG_DAYS = env.int("CONNECTOR_DELIVERY_LOG_DAYS", default=30)

# Outbound webhooks (crm/webhooks/, docs/integrations.md "Outbound webhooks").
# The endpoints' signing secrets are kept encrypted with STORED_SECRETS_KEYS (core.secrets).
# Where a webhook may point: https only, and never a private, loopback, link-local or
# reserved address (checked on save and before each attempt). Production forces both;
# the tests allow loopback http for their own receiver.
WEBHOOK_REQUIRE_HTTPS = env.bool("WEBHOOK_REQUIRE_HTTPS", default=True)
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=False)
# The certificates webhook receivers are checked against: empty, the usual bundle (certifi).
WEBHOOK_CA_BUNDLE = env("WEBHOOK_CA_BUNDLE", default="")
# A delivery is retried with backoff for this long, then given up.
WEBHOOK_RETRY_FOR = timedelta(hours=env.int("WEBHOOK_RETRY_HOURS", default=24))
# An endpoint is switched off once every attempt has failed for this long, or after this
# many failed attempts in a row.
WEBHOOK_DISABLE_AFTER = timedelta(hours=env.int("WEBHOOK_DISABLE_AFTER_HOURS", default=24))
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=100)
# Delivered and given-up deliveries are kept in the admin's log this many days.
WEBHOOK_LOG_DAYS = env.int("WEBHOOK_LOG_DAYS", default=30)

# The support mailbox over IMAP, when there is one: customers' replies into their tickets.
if env("SUPPORT_IMAP_URL", default=""):
    CELERY_BEAT_SCHEDULE["fetch-support-mail"] = {"task": "support.tasks.fetch_support_mail", "schedule": 60.0}

# Email (messaging/, docs/email.md). How it leaves, in order:
# - EMAIL_URL: SMTP. smtp://user:password@host:25, smtp+tls://…:587 (STARTTLS),
#   smtp+ssl://…:465 (TLS from the start); user and password URL-encoded.
# - EMAIL_BACKEND: a django-anymail backend (anymail.backends.postmark.EmailBackend, …) with
#   its settings as ANYMAIL_<NAME> variables (ANYMAIL_POSTMARK_SERVER_TOKEN=…), which land
#   in the ANYMAIL setting anymail reads.
# - Neither: the outbox. Messages are stored in the database and read in the admin
#   (Email → Outbox); nothing leaves by surprise.
OUTBOX_BACKEND = "messaging.backends.OutboxBackend"
# Django's SMTP backend, with a cheaper reading of plain envelope addresses (messaging/backends.py).
SMTP_BACKEND = "messaging.backends.SmtpBackend"


def _mailer_from_environment() -> dict:
    """The mailer (Django's MAILERS entry) the environment asks for; see above."""
    if url := env("EMAIL_URL", default=""):
        parsed = environ.Env.email_url_config(url)
        if parsed["EMAIL_BACKEND"] != "django.core.mail.backends.smtp.EmailBackend":
            return {"BACKEND": parsed["EMAIL_BACKEND"]}
        options = {
            "host": parsed["EMAIL_HOST"],
            "port": parsed["EMAIL_PORT"],
            "username": parsed["EMAIL_HOST_USER"],
            "password": parsed["EMAIL_HOST_PASSWORD"],
            "use_tls": parsed.get("EMAIL_USE_TLS", False),
            "use_ssl": parsed.get("EMAIL_USE_SSL", False),
            "timeout": env.int("EMAIL_TIMEOUT", default=20),  # seconds an SMTP connection waits
        }
        return {"BACKEND": SMTP_BACKEND, "OPTIONS": {k: v for k, v in options.items() if v not in (None, "")}}
    return {"BACKEND": env("EMAIL_BACKEND", default=OUTBOX_BACKEND)}


# What the CRM's messages are sent through (messaging.sending); Django's own mail (a
# password reset) takes the same, as its default mailer. The test settings keep the CRM's
# on the outbox (Django's test runner turns every MAILERS entry into its memory backend).
MESSAGING_MAILER = _mailer_from_environment()
MAILERS = {"default": MESSAGING_MAILER}
_TRUTH = {"true": True, "false": False}
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): _TRUTH.get(value.lower(), value)
    for name, value in os.environ.items()
    if name.startswith("ANYMAIL_")
}
# The providers' tracking webhooks (/anymail/<provider>/tracking/, messaging/tracking.py) are
# checked by the provider's signature (ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY,
# ANYMAIL_MANDRILL_WEBHOOK_KEY …) and/or HTTP basic auth: ANYMAIL_WEBHOOK_SECRET="user:password",
# which may name several, comma-separated, while the provider's dashboard is switched over
# to a new one ("crm:old,crm:new"). Without it, the providers that have only basic auth
# (Postmark, SendGrid, Brevo, Amazon SES, Mailjet, SparkPost …) are refused with a 403
# (messaging/webhook_auth.py; `check --deploy` warns while an anymail backend is configured).
if isinstance(ANYMAIL.get("WEBHOOK_SECRET"), str) and "," in ANYMAIL["WEBHOOK_SECRET"]:
    ANYMAIL["WEBHOOK_SECRET"] = [s.strip() for s in ANYMAIL["WEBHOOK_SECRET"].split(",") if s.strip()]
# The sender of shops that have no sender identity of their own (Email → Sender identities).
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="crm@example.com")
EMAIL_FROM_NAME = env("EMAIL_FROM_NAME", default="E-commerce CRM")
EMAIL_REPLY_TO = env("EMAIL_REPLY_TO", default="")
EMAIL_FOOTER_ADDRESS = env("EMAIL_FOOTER_ADDRESS", default="")
# The right-hand side of every Message-ID (derived from the message's key).
EMAIL_MESSAGE_ID_DOMAIN = env("EMAIL_MESSAGE_ID_DOMAIN", default=DEFAULT_FROM_EMAIL.rpartition("@")[2])
# Sending: at most this many messages a second through the backend, all workers together
# (0: no limit); set it to the provider's limit (Amazon SES starts at 14/s). A batch is this
# many messages over one connection. A message failing on a transient error is tried again
# after a backoff (a minute, doubling, at most an hour), up to EMAIL_MAX_ATTEMPTS in all; on
# a connection-level error (the server down, sign-in refused), which is not the message's
# fault, for EMAIL_RETRY_DAYS from when it was queued instead.
EMAIL_RATE_PER_SECOND = env.float("EMAIL_RATE_PER_SECOND", default=50)
EMAIL_BATCH_SIZE = env.int("EMAIL_BATCH_SIZE", default=100)
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=8)
EMAIL_RETRY_FOR = timedelta(days=env.int("EMAIL_RETRY_DAYS", default=3))
# An address whose mail unsubscribes, offered beside the https link in every marketing
# message's List-Unsubscribe (empty: the link alone). Set it only if someone reads that mailbox.
UNSUBSCRIBE_MAILTO = env("UNSUBSCRIBE_MAILTO", default="")

# The support desk's reply address: each ticket's emails carry it with the ticket in its plus
# tag as their Reply-To (support+t123-<signature>@…; support/mail.py). Empty: the shop's
# sender's Reply-To, else its From address. Its mailbox must take plus-addressed mail.
SUPPORT_REPLY_ADDRESS = env("SUPPORT_REPLY_ADDRESS", default="")
# The desk's inbound mail (support/inbound/, docs/email.md "Inbound"): attachments kept per
# file and per email at most this many bytes, of these MIME types ("image/*" matches a family);
# a sender who writes more than SUPPORT_INBOUND_MAX_PER_SENDER emails in
# SUPPORT_INBOUND_WINDOW_MINUTES is taken for a mail loop and ignored until the window passes.
SUPPORT_INBOUND_MAX_ATTACHMENT_BYTES = env.int("SUPPORT_INBOUND_MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024)
SUPPORT_INBOUND_MAX_EMAIL_BYTES = env.int("SUPPORT_INBOUND_MAX_EMAIL_BYTES", default=25 * 1024 * 1024)
SUPPORT_INBOUND_ATTACHMENT_TYPES = env.list(
    "SUPPORT_INBOUND_ATTACHMENT_TYPES",
    default=[
        "image/*",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "message/rfc822",
    ],
)
SUPPORT_INBOUND_MAX_PER_SENDER = env.int("SUPPORT_INBOUND_MAX_PER_SENDER", default=20)
SUPPORT_INBOUND_WINDOW_MINUTES = env.int("SUPPORT_INBOUND_WINDOW_MINUTES", default=10)
# Uploaded files (the desk's email attachments). Never served as they are: the admin serves
# each attachment to staff who may see its ticket (support/admin/desk.py).
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))
MEDIA_URL = "/media/"
# The support mailbox, read over IMAP (support/imap_mailbox.py, messaging/imap.py, docs/email.md):
# imaps://user:password@host:993/INBOX (user and password URL-encoded), imap+starttls://…:143;
# imap://… (no TLS) for a local test server only. Empty: not read. When set, beat (and the
# in-process scheduler) fetches it every minute ("fetch-support-mail"), and
# `manage.py fetch_support_mail` fetches it at once.
SUPPORT_IMAP_URL = env("SUPPORT_IMAP_URL", default="")
# Where handled messages go: this folder (created if missing), or with "" they are flagged
# \Seen and left where they are.
SUPPORT_IMAP_PROCESSED_FOLDER = env("SUPPORT_IMAP_PROCESSED_FOLDER", default="Processed")
SUPPORT_IMAP_TIMEOUT = env.float("SUPPORT_IMAP_TIMEOUT", default=30)  # seconds, each wait on the server
SUPPORT_IMAP_CA_FILE = env("SUPPORT_IMAP_CA_FILE", default="")  # a certificate to trust instead of the system's
SUPPORT_IMAP_BATCH_SIZE = env.int("SUPPORT_IMAP_BATCH_SIZE", default=200)  # messages per FETCH
SUPPORT_IMAP_MAX_ATTEMPTS = env.int("SUPPORT_IMAP_MAX_ATTEMPTS", default=5)  # then a failing message is left alone
# What is done with each email read (a dotted path, imported when a fetch runs).
SUPPORT_IMAP_HANDLER = "support.inbound.inbound_receive"
# Where customers reach the CRM's own pages (CSAT and review links in messages).
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
CSAT_LINK_MAX_AGE = timedelta(days=env.int("CSAT_LINK_DAYS", default=14))
REVIEW_LINK_MAX_AGE = timedelta(days=env.int("REVIEW_LINK_DAYS", default=60))
# The SLA sweep flags a ticket "about to breach" this long before a due time.
SLA_WARNING = timedelta(minutes=env.int("SLA_WARNING_MINUTES", default=60))

# The health endpoint (crm/health.py, docs/operations.md): /health/ runs HEALTH_CHECKS,
# /health/web/ (for a load balancer: what this web node itself needs) HEALTH_WEB_CHECKS.
# The load balancer's check is the database alone: the cache is optional (config/cache.py),
# and a node that answers every request with Redis down must stay in rotation.
HEALTH_WEB_CHECKS = ["health_check.checks.Database"]
HEALTH_CHECKS = [
    *HEALTH_WEB_CHECKS,
    "health_check.checks.Cache",
    # A worker answers through the broker; the embedded default has none (tasks run in-process).
    *(["crm.health.WorkerPing"] if REDIS_URL else []),
    "crm.health.BeatLastRun",
    "crm.health.OutboxAge",
]
# The outbox of follow-up work is unhealthy when a customer has waited this long, or when
# one customer's follow-up has failed this many times.
HEALTH_OUTBOX_MAX_AGE = timedelta(minutes=env.int("HEALTH_OUTBOX_MAX_AGE_MINUTES", default=10))
HEALTH_OUTBOX_MAX_ATTEMPTS = env.int("HEALTH_OUTBOX_MAX_ATTEMPTS", default=5)
# Beat is stale when a scheduled task that runs at least hourly is this late.
HEALTH_BEAT_MARGIN = timedelta(minutes=env.int("HEALTH_BEAT_MARGIN_MINUTES", default=10))

# The cache is optional (config/cache.py): with Redis down, every cache read is a miss and
# every write a no-op, logged once and then once a minute. Redis is asked again after
# CACHE_RETRY_SECONDS. Its client gives up fast (CACHE_TIMEOUT_SECONDS to connect or to
# answer), so an outage costs a request at most that, once per retry interval and process.
CACHE_TIMEOUT_SECONDS = env.float("CACHE_TIMEOUT_SECONDS", default=0.25)
CACHES = (
    {
        "default": {
            "BACKEND": "config.cache.OptionalRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": CACHE_TIMEOUT_SECONDS,
                "socket_timeout": CACHE_TIMEOUT_SECONDS,
                "retry_seconds": env.float("CACHE_RETRY_SECONDS", default=2.0),
            },
        }
    }
    if REDIS_URL
    else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # Django's own config gives "django" a console handler under DEBUG, and its records also
    # reach the root's: each 4xx line was printed twice. Through the root only, once.
    "loggers": {"django": {"handlers": [], "level": "INFO"}},
}

# SQLite (the embedded default) builds covering indexes without their INCLUDE columns, which
# only costs speed there; PostgreSQL, the database of record, builds them whole.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
