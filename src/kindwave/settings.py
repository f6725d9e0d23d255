"""Django settings, derived entirely from :mod:`kindwave.config` (env vars)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from kindwave.community.mastodon.scopes import ALL_SCOPES as MASTODON_SCOPES
from kindwave.config import ConfigError, load_config

try:
    CONFIG = load_config()
except ConfigError as error:  # fail loud, with the variable's name, before anything runs
    sys.stderr.write(f"kindwave: configuration error: {error}\n")
    raise SystemExit(2) from None

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = CONFIG.data_dir

DEBUG = CONFIG.debug
SECRET_KEY = CONFIG.secret_key
ALLOWED_HOSTS = CONFIG.allowed_hosts
CSRF_TRUSTED_ORIGINS = CONFIG.csrf_trusted_origins
SITE_URL = CONFIG.site_url
HOST_NETWORK_PLMN = CONFIG.host_network_plmn
# Reverse proxies in front of the app (X-Forwarded-For), for per-client rate limits.
TRUSTED_PROXY_HOPS = CONFIG.trusted_proxy_hops
# Home timelines in Redis when set, in the database when empty (docs/community.md).
KINDWAVE_REDIS_URL = CONFIG.redis_url
# Billing rules (docs/billing-rules.md); each KINDWAVE_* variable is read in config.py.
BILLING = {
    "PAYMENT_TERMS_DAYS": CONFIG.payment_terms_days,
    "REMINDER_AFTER_DAYS": CONFIG.reminder_after_days,
    "SUSPEND_AFTER_DAYS": CONFIG.suspend_after_days,
    "CARRIER_BILLING_CAP_MINOR": CONFIG.carrier_billing_cap_minor,
    "CARRIER_RESERVATION_MINUTES": CONFIG.carrier_reservation_minutes,
    "CAUSE_SHARE_PERCENT": CONFIG.cause_share_percent,
    "PAYOUT_THRESHOLD_MINOR": CONFIG.payout_threshold_minor,
    "PLEDGE_SHARE_PERCENT": CONFIG.pledge_share_percent,
    "PLEDGE_BASE": CONFIG.pledge_base,
    "PLEDGE_RULE": CONFIG.pledge_rule,
    "CARD_PROVIDER_URL": CONFIG.card_provider_url,
    "CARD_PROVIDER_KEY": CONFIG.card_provider_key,
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "axes",
    "oauth2_provider",
    "kindwave.accounts",
    "kindwave.causes",
    "kindwave.lines",
    "kindwave.ledger",
    "kindwave.usage",
    "kindwave.billing",
    "kindwave.community",
    "kindwave.web",
    "kindwave.simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kindwave.accounts.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks, so that it sees the outcome of every login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kindwave.urls"
WSGI_APPLICATION = "kindwave.wsgi.application"
ASGI_APPLICATION = "kindwave.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

DATABASES = {"default": dj_database_url.parse(CONFIG.database_url, conn_max_age=60)}
#: SQLite's page cache per connection (KiB) and memory map (bytes); see below.
SQLITE_CACHE_KIB = 64 * 1024
SQLITE_MMAP_BYTES = 1024**3
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets readers carry on while a job writes; IMMEDIATE avoids the
    # "database is locked" upgrade deadlock when two writers start together.
    # Each connection keeps up to 64 MiB of pages decoded (SQLite's default is 2 MiB,
    # far less than a home timeline's index) and reads the file through a memory map
    # of up to 1 GiB shared by every process (no copy per read); temporary B-trees of
    # sorts and unions stay in memory. docs/community.md, "Home timelines", has the
    # figures.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
        "PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; "
        f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}; PRAGMA mmap_size={SQLITE_MMAP_BYTES}; "
        "PRAGMA temp_store=MEMORY;",
        "transaction_mode": "IMMEDIATE",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "lines:home"
LOGOUT_REDIRECT_URL = "public:home"

# Login rate limiting (django-axes): lock a username+IP pair after N failures.
AXES_FAILURE_LIMIT = CONFIG.login_failure_limit
AXES_COOLOFF_TIME = timedelta(minutes=CONFIG.login_cooloff_minutes)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# No personal data in logs: axes must not log usernames or IPs at INFO level.
AXES_ENABLE_ACCESS_FAILURE_LOG = False

# OAuth 2 for the Mastodon-compatible API (django-oauth-toolkit; docs/mastodon-api.md).
OAUTH2_PROVIDER = {
    "SCOPES": MASTODON_SCOPES,
    "DEFAULT_SCOPES": ["read"],
    # Mastodon's tokens never expire: "never" is a century here.
    "ACCESS_TOKEN_EXPIRE_SECONDS": (CONFIG.oauth_token_days or 36_500) * 86_400,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 600,
    "PKCE_REQUIRED": False,
    "OAUTH2_VALIDATOR_CLASS": "kindwave.community.mastodon.oauth.MastodonOAuth2Validator",
    "OAUTH2_BACKEND_CLASS": "kindwave.community.mastodon.oauth.MastodonOAuthLibCore",
    "REQUEST_APPROVAL_PROMPT": "force",
    # Keep only a checksum of each token at rest: a copy of the database gives no access.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
}
OAUTH_TOKEN_RATE_PER_MINUTE = CONFIG.oauth_token_rate_per_minute

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = CONFIG.time_zone
LANGUAGE_COOKIE_NAME = "kindwave_language"

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request otherwise
MEDIA_URL = "media/"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

EMAIL_BACKEND = CONFIG.email_backend
EMAIL_FILE_PATH = DATA_DIR / "mail"
DEFAULT_FROM_EMAIL = CONFIG.default_from_email

TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG and SITE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"kindwave": {"level": "INFO", "propagate": True}},
}
