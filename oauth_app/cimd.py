"""Client ID Metadata Documents and client JWK Sets: our fetcher on DOT's ``CIMD_METADATA_FETCHER`` hook.

DOT's :class:`~oauth2_provider.cimd.SafeMetadataFetcher` already does the hard part: https only, resolve
once and connect to the validated address (no DNS rebinding), no redirects, one deadline for every
attempt, a size cap, Cache-Control to a bounded max-age. This subclass adds two things:

* ``CIMD_ALLOWED_PRIVATE_HOSTS``: host names that may resolve to private or loopback addresses
  (intranet clients, the tests' document server). DOT's address check is a module function with no
  hook, so :meth:`SafeFetcher.fetch_json_with_headers` repeats DOT's connection loop (a few lines) with the
  resolution step made configurable; everything else (URL rules, the public-address test, the
  document reader, max-age) is DOT's own code, called.
* the client-metadata policy (:mod:`oauth_app.client_metadata`): the document is narrowed before DOT
  sees it (DOT#1855: DOT refuses any document without exactly one non-refresh grant, which is
  Claude's), and the negotiated auth method and keys, which DOT's upsert has no field for, are left
  for :meth:`oauth_app.models.Client.save` in a context variable (the fetch and the save run in the
  same call of DOT's ``_fetch_validate_upsert``).

The same fetcher serves ``private_key_jwt`` clients' ``jwks_uri`` (:mod:`oauth_app.client_auth`).
"""

from __future__ import annotations

import contextvars
import logging
import socket
import ssl
import time
from typing import Any

import urllib3
from oauth2_provider import cimd as dot_cimd
from oauth2_provider.settings import oauth2_settings

from .client_metadata import ClientMetadata, InvalidClientMetadata, narrow
from .conf import cimd_allowed_private_hosts, server_capabilities

log = logging.getLogger(__name__)

CIMDError = dot_cimd.CIMDError

_pending: contextvars.ContextVar[tuple[str, ClientMetadata] | None] = contextvars.ContextVar("cimd_pending", default=None)


def take_pending_metadata(client_id: str) -> ClientMetadata | None:
    """The effective metadata just fetched for ``client_id`` in this context, once."""
    pending = _pending.get()
    if pending is None or pending[0] != client_id:
        return None
    _pending.set(None)
    return pending[1]


def _resolve(hostname: str, port: int) -> list[str]:
    if hostname.lower().rstrip(".") not in cimd_allowed_private_hosts():
        return dot_cimd._resolve_and_validate(hostname, port)
    # Explicitly allowed intranet name: any address it resolves to, still pinned for the connection.
    try:
        infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise CIMDError(f"could not resolve host: {exc}") from exc
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise CIMDError("host did not resolve to any address")
    return addresses


class SafeFetcher(dot_cimd.SafeMetadataFetcher):
    """DOT's SSRF-hardened fetcher, with ``CIMD_ALLOWED_PRIVATE_HOSTS`` and our metadata policy."""

    def fetch_json_with_headers(self, url: str) -> tuple[dict[str, Any], str | None]:
        """GET ``url`` (https, public address unless allowed); return the JSON object and its Cache-Control."""
        parsed = dot_cimd._validate_client_id_url(url)
        port = parsed.port or 443
        addresses = _resolve(parsed.hostname, port)
        timeout = oauth2_settings.CIMD_FETCH_TIMEOUT_SECONDS
        path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
        headers = {"Host": parsed.netloc, "Accept": "application/json, application/*+json"}
        ssl_context = ssl.create_default_context()  # verification on; SSL_CERT_FILE is honoured
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            pool = urllib3.HTTPSConnectionPool(
                host=address, port=port, retries=False, maxsize=1, ssl_context=ssl_context,
                server_hostname=parsed.hostname,
                timeout=urllib3.Timeout(connect=remaining, read=remaining, total=remaining),
            )
            try:
                response = pool.urlopen("GET", path, headers=headers, redirect=False, preload_content=False)
                try:
                    document, _ = self._read_document(response)  # DOT's status, type, size and JSON checks
                    return document, response.headers.get("Cache-Control")
                finally:
                    response.release_conn()
            except urllib3.exceptions.HTTPError as exc:
                last_error = exc
            finally:
                pool.close()
        raise CIMDError(f"could not fetch {url}: {last_error}")

    def fetch(self, client_id: str) -> tuple[dict[str, Any], int]:
        """DOT's hook: fetch the document, apply the client-metadata policy, hand DOT what it accepts."""
        document, cache_control = self.fetch_json_with_headers(client_id)
        max_age = dot_cimd._effective_max_age(cache_control)
        if document.get("client_id") != client_id:
            raise CIMDError("document client_id does not match the client_id URL")
        try:
            metadata = narrow(document, source="cimd", server=server_capabilities())
        except InvalidClientMetadata as exc:
            raise CIMDError(f"client metadata refused: {exc.description}") from None
        if metadata.dropped_grant_types:
            log.info("CIMD %s: ignoring unsupported grant types %s", client_id, " ".join(metadata.dropped_grant_types))
        _pending.set((client_id, metadata))
        return metadata.for_dot(client_id=client_id), max_age
