"""Django settings: every deployment knob is read from the environment here, and only here.

The README's configuration table documents each variable. Values are parsed leniently at
import time; anything malformed is recorded in ``CONFIG_ERRORS`` and reported by the
``oauth_app.E001`` system check, so ``manage.py check`` (run by ``make run`` before serving)
fails with a readable message instead of a traceback or a later 500.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import dj_database_url
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "data"))

CONFIG_ERRORS: list[str] = []


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    CONFIG_ERRORS.append(f"{name}={raw!r} is not a boolean (use true/false).")
    return default


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        CONFIG_ERRORS.append(f"{name}={raw!r} is not a whole number of seconds.")
        return default
    if value < minimum:
        CONFIG_ERRORS.append(f"{name}={raw!r} must be at least {minimum}.")
        return default
    return value


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _persisted_secret(name: str, generate: Callable[[], str]) -> str:
    """A development secret, generated once and kept (mode 600) in the data folder."""
    path = DATA_DIR / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        value = generate()
        path.write_text(value)
        path.chmod(0o600)
        return value


# --- Deployment -------------------------------------------------------------------------

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = _env_int("PORT", 8000, minimum=1)
DEBUG = _env_bool("DEBUG", False)

# Whether PUBLIC_URL came from the environment: behind a TLS proxy it must (oauth_app.E101),
# because the fallback is built from daphne's HOST/PORT, not from what clients see.
PUBLIC_URL_FROM_ENVIRONMENT = bool(os.environ.get("PUBLIC_URL"))
PUBLIC_URL = os.environ.get("PUBLIC_URL") or f"http://{HOST}:{PORT}"
_public = urlsplit(PUBLIC_URL)
if _public.scheme not in {"http", "https"} or not _public.hostname:
    CONFIG_ERRORS.append(f"PUBLIC_URL={PUBLIC_URL!r} must be an absolute http(s) origin such as https://auth.example.com.")
elif _public.path not in {"", "/"} or _public.query or _public.fragment:
    CONFIG_ERRORS.append(f"PUBLIC_URL={PUBLIC_URL!r} must be an origin without a path, query or fragment.")
# The issuer is byte-exact everywhere (RFC 8414 §3.3, RFC 9207): no trailing slash.
PUBLIC_URL = PUBLIC_URL.rstrip("/")
ISSUER = PUBLIC_URL
MCP_RESOURCE = f"{PUBLIC_URL}/mcp"
# The RFC 8707 resources tokens may be issued for (JWT "aud"); a request without one gets MCP_RESOURCE.
PROTECTED_RESOURCES = [MCP_RESOURCE]

SECRET_KEY_FROM_ENVIRONMENT = bool(os.environ.get("SECRET_KEY"))
SECRET_KEY = os.environ.get("SECRET_KEY") or _persisted_secret("secret_key", lambda: secrets.token_urlsafe(50))

# Production = served over https without DEBUG. There, secrets must come from the environment.
PRODUCTION = _public.scheme == "https" and not DEBUG

# Fernet keys (comma-separated; the first encrypts, all decrypt) protecting signing keys at rest.
SIGNING_KEY_ENCRYPTION_KEYS = _env_list("SIGNING_KEY_ENCRYPTION_KEY", [])
SIGNING_KEY_ENCRYPTION_KEY_FROM_ENVIRONMENT = bool(SIGNING_KEY_ENCRYPTION_KEYS)
if not SIGNING_KEY_ENCRYPTION_KEYS and not PRODUCTION:
    SIGNING_KEY_ENCRYPTION_KEYS = [_persisted_secret("signing_key_encryption_key", lambda: Fernet.generate_key().decode())]
for _kek in SIGNING_KEY_ENCRYPTION_KEYS:
    try:
        Fernet(_kek)
    except (ValueError, TypeError):
        CONFIG_ERRORS.append("SIGNING_KEY_ENCRYPTION_KEY holds a value that is not a Fernet key "
                             "(generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())').")

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", [h for h in {_public.hostname or "localhost", "localhost", "127.0.0.1"}])

# Browser origins allowed to call the CORS-enabled endpoints (metadata, token, register,
# revoke, JWKS) and, later, /mcp. "*" allows any origin; credentials are never allowed.
CORS_ORIGINS = _env_list("CORS_ALLOWED_ORIGINS", ["*"])
for _origin in CORS_ORIGINS:
    if _origin != "*" and (urlsplit(_origin).scheme not in {"http", "https"} or urlsplit(_origin).path):
        CONFIG_ERRORS.append(f"CORS_ALLOWED_ORIGINS entry {_origin!r} must be an origin like https://app.example.com or *.")

# --- Applications -----------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "oauth_app.apps.ConsoleAdminConfig",  # django.contrib.admin with this product's index and header
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "oauth2_provider",
    "channels",
    "oauth_app",
    "activity",
    "mcp_app",
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oauth_app.middleware.FrameAncestorsMiddleware",
    "oauth_app.middleware.PublicUrlMiddleware",
]

ROOT_URLCONF = "project.urls"
ASGI_APPLICATION = "project.asgi.application"
WSGI_APPLICATION = None

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
                "oauth_app.context_processors.product",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
DATABASE_POOL_SIZE = _env_int("DATABASE_POOL_SIZE", 10, minimum=1)
# Django's pages (everything but /mcp) run on HTTP_THREADS reused threads (project/http.py), each
# holding at most one database connection at a time. The default: one per PostgreSQL connection;
# on SQLite, which takes one writer at a time, 8: enough that a few requests waiting on the network
# (a Client ID Metadata Document fetch may take CIMD_FETCH_TIMEOUT_SECONDS) do not hold up the
# pages, few enough that the threads do not spend the CPU contending for the GIL.
_default_http_threads = DATABASE_POOL_SIZE if DATABASE_URL.startswith(("postgres", "pgsql")) else 8
HTTP_THREADS = _env_int("HTTP_THREADS", _default_http_threads, minimum=1)
# PostgreSQL: CONN_MAX_AGE stays 0 and connections come from psycopg's pool. SQLite (below): the
# threads that touch the database are long-lived (project/http.py, mcp_app/db.py), so each keeps
# its connection; reopening one per request costs more than the queries.
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
except Exception:  # dj-database-url raises assorted errors for bad URLs
    CONFIG_ERRORS.append("DATABASE_URL is not a valid database URL (e.g. postgres://user@host/db or sqlite:///path).")
    DATABASES = {"default": dj_database_url.parse(f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite is the embedded default that `make run` serves, so it must hold under concurrent
    # writers (daphne runs every Django view in a thread of its own). WAL lets readers run beside
    # the one writer; IMMEDIATE takes the write lock at BEGIN, so a transaction that reads and
    # then writes never fails mid-way with "database is locked" (a DEFERRED transaction's
    # upgrade to a writer is refused at once, whatever the timeout); the busy timeout (seconds)
    # makes writers wait their turn instead of failing. synchronous=NORMAL is the WAL setting
    # SQLite recommends (durable across application crashes; a power loss may drop the last commits).
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    })
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["ENGINE"] = "project.sqlite"  # Django's, with writers queued in-process
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DATABASE_POOL_SIZE}

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    if urlsplit(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
        CONFIG_ERRORS.append(f"REDIS_URL={REDIS_URL!r} must be a redis:// or rediss:// URL.")
    # channels_redis blocks in BZPOPMIN for up to 5 s per receive; redis-py 8 also times socket reads
    # out after 5 s by default, so an idle receive would fail with TimeoutError just as Redis answers.
    # A longer read timeout keeps idle listeners (streams, the revocation listener) quiet and still
    # notices a dead connection.
    # (A dead Redis is still noticed at connect time within 5 s.)
    _REDIS_HOST = {"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                  "CONFIG": {"hosts": [_REDIS_HOST]}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and security ------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# User passwords keep Django's slow KDF; client secrets (high-entropy, machine generated)
# use the fast hasher listed second, selected by OAUTH2_PROVIDER["CLIENT_SECRET_HASHER"].
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "oauth_app.hashers.ClientSecretHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/admin/"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _public.scheme == "https"
CSRF_COOKIE_SECURE = _public.scheme == "https"
CSRF_TRUSTED_ORIGINS = [PUBLIC_URL]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if os.environ.get("SECURE_PROXY_SSL_HEADER", "").lower() in {"1", "true", "yes"}:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS hardening for Django's pages (docs/deploy.md sets all four in production; /mcp is served
# by Channels and answers only bearer-authenticated API calls, so these never touch it).
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", False)

# --- OAuth --------------------------------------------------------------------------------

ACCESS_TOKEN_TTL = _env_int("ACCESS_TOKEN_TTL", 3600, minimum=60)
REFRESH_TOKEN_TTL = _env_int("REFRESH_TOKEN_TTL", 30 * 24 * 3600, minimum=60)
REGISTER_RATE_LIMIT = os.environ.get("REGISTER_RATE_LIMIT", "30/m").strip()
# How long a process trusts a token it verified (oauth_app.tokens); revocation drops entries at
# once everywhere over the channel layer, so this bounds the delay only if that broadcast is lost.
VERIFIED_TOKEN_CACHE_SECONDS = _env_int("VERIFIED_TOKEN_CACHE_SECONDS", 1, minimum=0)

# Redirect URI schemes besides loopback http (RFC 8252 §7.3, always allowed): "https", and "*" for
# any private-use scheme of a native app (cursor://, com.example.app:/). Plain "http" is refused
# here: it exists only on loopback hosts (oauth_app.redirects), which keeps DOT's
# oauth2_provider.E003 check a true statement.
ALLOWED_REDIRECT_URI_SCHEMES = [s.lower() for s in _env_list("ALLOWED_REDIRECT_URI_SCHEMES", ["https", "*"])]
if "http" in ALLOWED_REDIRECT_URI_SCHEMES:
    CONFIG_ERRORS.append("ALLOWED_REDIRECT_URI_SCHEMES must not list http: plain http redirect URIs are always "
                         "allowed on loopback hosts and never elsewhere.")
    ALLOWED_REDIRECT_URI_SCHEMES.remove("http")
if not ALLOWED_REDIRECT_URI_SCHEMES:
    CONFIG_ERRORS.append("ALLOWED_REDIRECT_URI_SCHEMES is empty; list at least https.")
    ALLOWED_REDIRECT_URI_SCHEMES = ["https"]
# Host names whose CIMD documents and client JWKS may be fetched from private/loopback addresses.
CIMD_ALLOWED_PRIVATE_HOSTS = [h.lower() for h in _env_list("CIMD_ALLOWED_PRIVATE_HOSTS", [])]
# RFC 7523 private_key_jwt client authentication (ChatGPT); off: CIMD clients negotiate down to none.
PRIVATE_KEY_JWT_ENABLED = _env_bool("PRIVATE_KEY_JWT_ENABLED", True)
# "none" first: the C# SDK takes the first entry (CLIENT-04).
TOKEN_ENDPOINT_AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic"] + (
    ["private_key_jwt"] if PRIVATE_KEY_JWT_ENABLED else []
)

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth_app.Client"
# DOT's other models stay DOT's; named explicitly because our models point at them.
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_DEVICE_GRANT_MODEL = "oauth2_provider.DeviceGrant"

OAUTH2_PROVIDER = {
    # One issuer string everywhere: metadata, RFC 9207 iss, PRM authorization_servers.
    "OIDC_ISS_ENDPOINT": ISSUER,
    "SCOPES_BACKEND_CLASS": "oauth_app.scopes.DatabaseScopes",
    "SCOPES": {"admin": "Administer this server", "user": "Act as you", "mcp": "Use the MCP tools"},
    "DEFAULT_SCOPES": ["mcp"],
    "OAUTH2_VALIDATOR_CLASS": "oauth_app.validators.OAuth2Validator",
    "OAUTH2_SERVER_CLASS": "oauth_app.server.OAuth21Server",
    "CLIENT_ID_GENERATOR_CLASS": "oauth_app.generators.ClientIdGenerator",
    "CLIENT_SECRET_HASHER": "client_secret_sha256",
    # RFC 9068 JWT access tokens; refresh tokens stay opaque random strings.
    "ACCESS_TOKEN_GENERATOR": "oauth_app.tokens.generate_access_token",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "ACCESS_TOKEN_EXPIRE_SECONDS": ACCESS_TOKEN_TTL,
    "REFRESH_TOKEN_EXPIRE_SECONDS": REFRESH_TOKEN_TTL,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # 0: DOT's grace period needs plaintext tokens at rest (oauth2_provider.E001). Concurrent
    # refreshes are handled by oauth_app.validators.ROTATION_RACE_WINDOW instead.
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ALLOWED_REDIRECT_URI_SCHEMES,
    "ALLOW_URI_WILDCARDS": False,
    "ALLOW_LOCALHOST_LOOPBACK": True,
    "REQUEST_APPROVAL_PROMPT": "force",
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token", "client_credentials"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": TOKEN_ENDPOINT_AUTH_METHODS,
    # RFC 9700 gates, all enforced.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # RFC 7591/7592: open registration (MCP clients register anonymously); DCR_ENABLED=false closes it.
    "DCR_ENABLED": _env_bool("DCR_ENABLED", True),
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    # Client ID Metadata Documents, fetched by DOT's SSRF-hardened fetcher.
    "CIMD_ENABLED": _env_bool("CIMD_ENABLED", True),
    # RFC 9728 protected-resource metadata for /mcp.
    "OAUTH2_PROTECTED_RESOURCE_IDENTIFIER": MCP_RESOURCE,
    "OAUTH2_PROTECTED_RESOURCE_AUTHORIZATION_SERVERS": [ISSUER],
    "OAUTH2_PROTECTED_RESOURCE_BEARER_METHODS_SUPPORTED": ["header"],
    "OAUTH2_PROTECTED_RESOURCE_NAME": os.environ.get("RESOURCE_NAME", "MCP server"),
    # CIMD documents and client JWKS: DOT's fetcher plus CIMD_ALLOWED_PRIVATE_HOSTS and the
    # client-metadata policy (oauth_app.cimd).
    "CIMD_METADATA_FETCHER": "oauth_app.cimd.SafeFetcher",
}

RESOURCE_NAME = OAUTH2_PROVIDER["OAUTH2_PROTECTED_RESOURCE_NAME"]

# --- Activity log (activity.log) -------------------------------------------------------------
# Written by a background thread in batches (never on the request path); pruned by
# `manage.py pruneactivity`.
ACTIVITY_RETENTION_DAYS = _env_int("ACTIVITY_RETENTION_DAYS", 90, minimum=1)
ACTIVITY_FLUSH_SECONDS = 1.0
# The writer thread wakes early only when this many events wait: each wake-up competes with the
# event loop for the GIL, so under /mcp load a once-a-second batch costs far less than ten small
# ones (bench/bench_activity.py: about 12 % of tools/call throughput at 200, under 5 % at 5000).
ACTIVITY_BATCH_SIZE = 5000
ACTIVITY_BACKGROUND = True

# DRF supplies the rate-limit machinery (SimpleRateThrottle) used by /register.
# NUM_PROXIES: how many reverse proxies to trust for X-Forwarded-For (0: use the socket address).
REST_FRAMEWORK = {"UNAUTHENTICATED_USER": None, "NUM_PROXIES": _env_int("TRUSTED_PROXIES", 0)}

# --- CORS (django-cors-headers) ------------------------------------------------------------
# Only the machine-to-machine endpoints; never /authorize or the login and consent pages.
CORS_URLS_REGEX = r"^/(\.well-known/.*|token|revoke|introspect|register(/.*)?|jwks)$"
CORS_ALLOW_ALL_ORIGINS = "*" in CORS_ORIGINS
CORS_ALLOWED_ORIGINS = [o for o in CORS_ORIGINS if o != "*"]
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["authorization", "content-type", "accept", "mcp-protocol-version"]
CORS_EXPOSE_HEADERS = ["WWW-Authenticate"]

# --- MCP endpoint (mcp_app.conf has the defaults) ------------------------------------------
MCP_APP = {
    "MAX_BODY_BYTES": _env_int("MCP_MAX_BODY_BYTES", 4 * 1024 * 1024, minimum=1024),
    # /mcp's database threads (mcp_app.db), one per connection of the PostgreSQL pool.
    "DATABASE_THREADS": DATABASE_POOL_SIZE,
    "ACCEPT_LEGACY_HEADER_WITH_MODERN_BODY": _env_bool("MCP_ACCEPT_LEGACY_HEADER_WITH_MODERN_BODY", True),
}

# --- Misc -----------------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # DOT logs some request details at DEBUG; keep it at INFO so secrets never reach logs.
        "oauth2_provider": {"level": "INFO"},
        "django.server": {"level": "INFO"},
    },
}
