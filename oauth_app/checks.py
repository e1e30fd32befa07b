"""System checks for the deployment configuration (run by ``manage.py check`` and ``make run``).

Two groups:

* always (``manage.py check``, which ``make run`` and the systemd units run before serving):
  malformed environment values and the secrets production cannot do without;
* ``manage.py check --deploy`` (``Tags.security``, deploy-only): what ``docs/deploy.md``'s
  production environment must satisfy. Ids ``oauth_app.E1xx``/``W1xx`` keep them apart from
  the start-up checks.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from rest_framework.throttling import SimpleRateThrottle

# Names that resolve to loopback on every usual system (RFC 6761 §6.3 reserves *.localhost).
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


@register(Tags.compatibility)
def check_environment(app_configs, **kwargs) -> list[Error]:
    """oauth_app.E001: a malformed environment variable (see ``project/settings.py``)."""
    errors = [Error(message, id="oauth_app.E001") for message in getattr(settings, "CONFIG_ERRORS", [])]
    rate = settings.REGISTER_RATE_LIMIT
    if rate not in {"", "0"}:
        try:
            count, _ = SimpleRateThrottle.parse_rate(None, rate)
            if count <= 0:
                raise ValueError
        except (ValueError, KeyError, IndexError):
            errors.append(
                Error(f"REGISTER_RATE_LIMIT={rate!r} must look like 30/m (per s, m, h or d), or 0 to turn it off.",
                      id="oauth_app.E002")
            )
    if getattr(settings, "PRODUCTION", False):
        if not settings.SIGNING_KEY_ENCRYPTION_KEYS:
            errors.append(Error("SIGNING_KEY_ENCRYPTION_KEY must be set when PUBLIC_URL is https and DEBUG is off: "
                                "signing keys are stored encrypted with it.", id="oauth_app.E003"))
        if not settings.SECRET_KEY_FROM_ENVIRONMENT:
            errors.append(Error("SECRET_KEY must be set when PUBLIC_URL is https and DEBUG is off.", id="oauth_app.E004"))
    if _behind_tls_proxy_without_public_url():
        errors.append(_public_url_unset())
    return errors


def _behind_tls_proxy_without_public_url() -> bool:
    """Production (a TLS proxy in front, no DEBUG) but the issuer would come from HOST/PORT."""
    return (bool(getattr(settings, "SECURE_PROXY_SSL_HEADER", None)) and not settings.DEBUG
            and not getattr(settings, "PUBLIC_URL_FROM_ENVIRONMENT", True))


def _public_url_unset() -> Error:
    return Error(
        f"PUBLIC_URL is not set, so the issuer and the MCP resource default to {settings.PUBLIC_URL} "
        "(built from HOST and PORT, not from daphne's flags or the proxy): every client is told the wrong URL.",
        hint="Set PUBLIC_URL to the https origin clients use, e.g. PUBLIC_URL=https://mcp.example.com.",
        id="oauth_app.E101",
    )


@register(Tags.security, deploy=True)
def check_deployment(app_configs, **kwargs) -> list[CheckMessage]:
    """``check --deploy``: the production environment of docs/deploy.md (oauth_app.E101-E106, W101)."""
    messages: list[CheckMessage] = []
    if not getattr(settings, "PUBLIC_URL_FROM_ENVIRONMENT", True):
        if not _behind_tls_proxy_without_public_url():  # already reported by check_environment
            messages.append(_public_url_unset())
    elif urlsplit(settings.PUBLIC_URL).scheme != "https":
        messages.append(Error(
            f"PUBLIC_URL={settings.PUBLIC_URL} is not https: hosted clients (Claude.ai, ChatGPT) refuse plain-http "
            "servers, and tokens would cross the network in clear.",
            hint="Terminate TLS in front of daphne (docs/deploy.md) and set PUBLIC_URL=https://...", id="oauth_app.E102"))
    production = getattr(settings, "PRODUCTION", False)  # then E003/E004 already speak for the secrets
    if not production and not getattr(settings, "SECRET_KEY_FROM_ENVIRONMENT", True):
        messages.append(Error("SECRET_KEY is not set: a key generated into DATA_DIR is in use.",
                              hint="Set SECRET_KEY in the environment file (docs/deploy.md).", id="oauth_app.E103"))
    if not production and not getattr(settings, "SIGNING_KEY_ENCRYPTION_KEY_FROM_ENVIRONMENT", True):
        messages.append(Error(
            "SIGNING_KEY_ENCRYPTION_KEY is not set: the signing keys are encrypted with a development key kept "
            "next to the database, so a copy of DATA_DIR is a copy of every signing key.",
            hint="Set SIGNING_KEY_ENCRYPTION_KEY (docs/deploy.md, 'Keys and backups').", id="oauth_app.E104"))
    if "*" in settings.ALLOWED_HOSTS:
        messages.append(Error(
            "ALLOWED_HOSTS contains '*': any Host header is accepted, which reopens DNS rebinding and host-header "
            "attacks on the sign-in pages.",
            hint="List the host of PUBLIC_URL only, e.g. ALLOWED_HOSTS=mcp.example.com.", id="oauth_app.E105"))
    if _is_sqlite() and getattr(settings, "REDIS_URL", ""):
        # REDIS_URL exists to share a channel layer between processes: that is the one sign of
        # "more than one process" settings can see. SQLite cannot be shared between hosts, and
        # several writers on it serialise every token and session write.
        messages.append(Error(
            "REDIS_URL is set (several daphne processes) but the database is SQLite: processes on other hosts "
            "cannot share it and every write waits for one lock.",
            hint="Use PostgreSQL: DATABASE_URL=postgres://mcp@127.0.0.1:5432/mcp (docs/deploy.md).", id="oauth_app.E106"))
    loopback = [host for host in getattr(settings, "CIMD_ALLOWED_PRIVATE_HOSTS", []) if _is_loopback_name(host)]
    if loopback:
        messages.append(Warning(
            f"CIMD_ALLOWED_PRIVATE_HOSTS names loopback hosts ({', '.join(loopback)}): a client_id URL on them makes "
            "this server fetch from itself or its own machine (SSRF).",
            hint="Keep only intranet host names of real client-metadata servers there.", id="oauth_app.W101"))
    return messages


def _is_sqlite() -> bool:
    return settings.DATABASES["default"]["ENGINE"] in {"django.db.backends.sqlite3", "project.sqlite"}


def _is_loopback_name(host: str) -> bool:
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified
