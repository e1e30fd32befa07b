"""The connection doctor: play, from outside, what a hosted MCP client does against a deployment.

``manage.py doctor [URL]`` prints one line per step (✓ pass, ✗ fail, – skipped), each failure
with its likely cause and fix in words; this module does the probing and knows nothing of
Django (httpx and the standard library only), so it can diagnose any deployment of this server
from any machine. The steps follow what Claude's hosted connectors do (checklist CLAUDE-01,
CLAUDE-07, CLAUDE-08, CLAUDE-11, CLAUDE-23, CLIENT-07):

1. ``dns``: the host resolves, to public IPv4 addresses (skipped for loopback: development);
2. ``tls``: the certificate verifies (skipped for plain http on loopback);
3. ``challenge``: ``POST /mcp`` without a token gets 401 with an absolute ``resource_metadata``;
4. ``prm``: both RFC 9728 metadata URLs answer, ``resource`` equal to the MCP URL byte for byte;
5. ``as-metadata``: RFC 8414 metadata with the identical issuer, S256, ``none`` first, the CIMD
   flag and RFC 9207 ``iss``;
6. ``registration``: RFC 7591 registration with Claude's real body, deleted again (RFC 7592);
7. ``jwks``: the signing keys are published;
8. ``sse``: the first event of a stream arrives within about 2 s (no buffering proxy);
9. ``clock``: the server's ``Date`` agrees with this machine's clock;
10. ``claude-user``: the same requests with ``User-Agent: Claude-User`` are not blocked.

It needs no token and leaves nothing behind: the one change it makes, the registration, is
deleted with its own registration access token.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

Status = Literal["pass", "fail", "skip"]
SYMBOLS: dict[str, str] = {"pass": "✓", "fail": "✗", "skip": "–"}

# Claude's registration body, as it sends it (checklist CLAUDE-05, better-auth#11081): three
# grants, one of which (jwt-bearer) most servers do not support and must ignore.
CLAUDE_REGISTRATION: dict[str, Any] = {
    "client_name": "Claude",
    "redirect_uris": ["https://claude.ai/api/mcp/auth_callback"],
    "grant_types": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "client_secret_post",
}
CLAUDE_USER_AGENT = "Claude-User"
ANTHROPIC_EGRESS = "160.79.104.0/21"  # CLIENT-07
PROBE_PROTOCOL_VERSION = "2025-11-25"
SSE_PROBE_SUFFIX = "/sse-probe"  # served beside /mcp, through the same proxy location
SSE_FIRST_EVENT_DEADLINE = 2.0  # seconds; the probe holds its stream open 3 s after the first event
CLOCK_TOLERANCE = 30.0  # seconds
TIMEOUT = 10.0
WAF_STATUSES = {403, 406, 429, 503}


@dataclass(frozen=True, slots=True)
class Step:
    """One diagnostic step's outcome; ``cause`` and ``fix`` are set for failures."""

    name: str
    title: str
    status: Status
    detail: str
    cause: str = ""
    fix: str = ""

    def lines(self) -> list[str]:
        out = [f"{SYMBOLS[self.status]} {self.title}: {self.detail}"]
        if self.cause:
            out.append(f"    cause: {self.cause}")
        if self.fix:
            out.append(f"    fix:   {self.fix}")
        return out


@dataclass(slots=True)
class Report:
    """Every step, in order, for one MCP URL."""

    url: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.status != "fail" for step in self.steps)

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "steps": [asdict(step) for step in self.steps]}

    def text(self) -> str:
        lines = [f"Connection doctor for {self.url}"]
        for step in self.steps:
            lines.extend(step.lines())
        failed = [step.title for step in self.steps if step.status == "fail"]
        lines.append("All steps passed." if not failed else f"{len(failed)} step(s) failed: {', '.join(failed)}.")
        return "\n".join(lines)


class StepFailed(Exception):
    """Raised inside a step: the step fails with this cause and fix."""

    def __init__(self, detail: str, cause: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.cause, self.fix = detail, cause, fix


# --- URLs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """The URL a person pastes into Claude (``https://host/mcp``) and what derives from it."""

    mcp_url: str
    origin: str
    host: str
    port: int
    scheme: str

    @classmethod
    def parse(cls, url: str) -> Target:
        """Accept the MCP URL or the bare origin (then the MCP URL is ``origin/mcp``)."""
        parts = urlsplit(url.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL such as https://mcp.example.com/mcp")
        path = parts.path.rstrip("/") or "/mcp"
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(mcp_url=origin + path, origin=origin, host=parts.hostname, port=port, scheme=parts.scheme)

    @property
    def path(self) -> str:
        return urlsplit(self.mcp_url).path

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    def prm_path_form(self) -> str:
        """RFC 9728 §3.1: the well-known suffix inserted before the resource's path."""
        return f"{self.origin}/.well-known/oauth-protected-resource{self.path}"

    def prm_root_form(self) -> str:
        return f"{self.origin}/.well-known/oauth-protected-resource"


def is_loopback_host(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def as_metadata_url(issuer: str) -> str:
    """RFC 8414 §3.1: ``/.well-known/oauth-authorization-server`` inserted before the issuer's path."""
    parts = urlsplit(issuer)
    return urlunsplit((parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + parts.path.rstrip("/"),
                       "", ""))


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


_RESOURCE_METADATA = re.compile(r'resource_metadata\s*=\s*(?:"([^"]*)"|([^\s,]+))', re.IGNORECASE)


def resource_metadata_of(www_authenticate: str) -> str | None:
    """The ``resource_metadata`` parameter of a Bearer challenge (RFC 9728 §5.1)."""
    match = _RESOURCE_METADATA.search(www_authenticate)
    return (match.group(1) if match.group(1) is not None else match.group(2)) if match else None


def looks_blocked(response: httpx.Response) -> bool:
    """A WAF or bot-protection answer: a blocking status, or an HTML page where an API answers JSON."""
    content_type = response.headers.get("content-type", "")
    return (response.status_code in WAF_STATUSES or "text/html" in content_type
            or "cf-mitigated" in response.headers)


# --- The doctor ----------------------------------------------------------------------------------


class Doctor:
    """Runs the steps against one :class:`Target`; later steps use what earlier ones found."""

    def __init__(self, target: Target, *, timeout: float = TIMEOUT, sse_deadline: float = SSE_FIRST_EVENT_DEADLINE,
                 clock_tolerance: float = CLOCK_TOLERANCE) -> None:
        self.target = target
        self.timeout = timeout
        self.sse_deadline = sse_deadline
        self.clock_tolerance = clock_tolerance
        # One TLS context for the TLS step and every request: httpx's (certifi, or SSL_CERT_FILE).
        self.ssl_context = httpx.create_ssl_context()
        self.http = httpx.Client(timeout=timeout, verify=self.ssl_context, follow_redirects=False)
        self.report = Report(target.mcp_url)
        self.found: dict[str, Any] = {}

    def run(self) -> Report:
        steps = [
            ("dns", "DNS", self.dns, ()),
            ("tls", "TLS certificate", self.tls, ()),
            ("challenge", "POST /mcp without a token", self.challenge, ("tls",)),
            ("prm", "Protected-resource metadata", self.prm, ("tls",)),
            ("as-metadata", "Authorization-server metadata", self.as_metadata, ("prm",)),
            ("registration", "Registration (Claude's body), then deletion", self.registration, ("as-metadata",)),
            ("jwks", "JWKS", self.jwks, ("as-metadata",)),
            ("sse", "SSE unbuffered", self.sse, ("tls",)),
            ("clock", "Clock skew", self.clock, ("tls",)),
            ("claude-user", "User-Agent Claude-User", self.claude_user, ("challenge",)),
        ]
        unavailable: set[str] = set()  # failed, or not run because what they need is unavailable
        try:
            for name, title, probe, needs in steps:
                blocked = [n for n in needs if n in unavailable]
                if blocked:
                    unavailable.add(name)
                    self._add(name, title, "skip", f"not run: needs the {', '.join(blocked)} step")
                    continue
                try:
                    outcome = probe()
                except StepFailed as failure:
                    unavailable.add(name)
                    self._add(name, title, "fail", failure.detail, failure.cause, failure.fix)
                except httpx.HTTPError as exc:
                    unavailable.add(name)
                    self._add(name, title, "fail", *self._transport_failure(exc))
                else:
                    status, detail = outcome
                    self._add(name, title, status, detail)
        finally:
            self.http.close()
        return self.report

    def _add(self, name: str, title: str, status: Status, detail: str, cause: str = "", fix: str = "") -> None:
        self.report.steps.append(Step(name, title, status, detail, cause, fix))

    def _transport_failure(self, exc: httpx.HTTPError) -> tuple[str, str, str]:
        try:
            url = str(exc.request.url)
        except RuntimeError:  # httpx raises it for an error not tied to a request
            url = self.target.origin
        if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return (f"{url}: TLS verification failed", "the certificate does not verify (see the TLS step)",
                    "install a certificate from a public CA with its full chain (certbot, docs/deploy.md)")
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return (f"{url}: cannot connect ({exc})", "nothing listens there, or a firewall drops the connection",
                    "check that nginx (or daphne) runs and that the port is open to the internet")
        if isinstance(exc, httpx.TimeoutException):
            return (f"{url}: no answer within {self.timeout:g} s", "the server or the proxy hangs",
                    "check the daphne units (journalctl -u 'mcp-daphne@*') and the proxy's upstream")
        return (f"{url}: {type(exc).__name__}: {exc}", "the connection broke off mid-answer",
                "check the proxy's error log and the daphne units")

    def _get(self, url: str, **headers: str) -> httpx.Response:
        return self.http.get(url, headers={"Accept": "application/json", **headers})

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise StepFailed(f"{what}: HTTP {response.status_code}, not a JSON object "
                             f"({response.headers.get('content-type', 'no content type')})",
                             "a proxy, WAF or another site answers instead of this server",
                             "forward the path to daphne unchanged (docs/deploy.md's nginx server block)")
        return data

    # --- 1. DNS ---------------------------------------------------------------------------------

    def dns(self) -> tuple[Status, str]:
        host = self.target.host
        if self.target.is_loopback:
            return "skip", f"{host} is loopback (development): hosted clients cannot reach it"
        try:
            infos = socket.getaddrinfo(host, self.target.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise StepFailed(f"{host} does not resolve ({exc.strerror})", "there is no DNS record for the host name",
                             f"create an A record for {host} pointing at the server's public IPv4 address") from exc
        addresses = sorted({info[4][0] for info in infos})
        private = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_global]
        if private:
            raise StepFailed(
                f"{host} resolves to {', '.join(addresses)}; not public: {', '.join(private)}",
                "Claude's connectors run on Anthropic's servers and need every address to be public "
                "(split-horizon DNS or an intranet name cannot work, CLAUDE-01)",
                f"publish only public addresses for {host}, or put a public reverse proxy in front")
        if not any(ipaddress.ip_address(a.split("%")[0]).version == 4 for a in addresses):
            raise StepFailed(f"{host} resolves only to IPv6 ({', '.join(addresses)})",
                             "Claude's connectors are IPv4-only (CLAUDE-01)", f"add an A record for {host}")
        return "pass", f"{host} → {', '.join(addresses)} (public)"

    # --- 2. TLS ---------------------------------------------------------------------------------

    def tls(self) -> tuple[Status, str]:
        target = self.target
        if target.scheme == "http":
            if target.is_loopback:
                return "skip", "plain http on loopback (development only)"
            raise StepFailed(f"{target.origin} is plain http",
                             "hosted clients need https, and tokens would cross the network in clear",
                             "terminate TLS in nginx (docs/deploy.md) and set PUBLIC_URL=https://...")
        try:
            with socket.create_connection((target.host, target.port), timeout=self.timeout) as raw:
                with self.ssl_context.wrap_socket(raw, server_hostname=target.host) as tls:
                    certificate = tls.getpeercert()
                    version = tls.version()
        except ssl.SSLCertVerificationError as exc:
            raise StepFailed(f"certificate rejected: {exc.verify_message}", *self._tls_advice(exc.verify_message)) from exc
        except (ssl.SSLError, OSError) as exc:
            raise StepFailed(f"TLS handshake with {target.host}:{target.port} failed: {exc}",
                             "nothing speaks TLS on that port, or the proxy's TLS setup is broken",
                             "check the server block's listen ... ssl, ssl_certificate and ssl_certificate_key") from exc
        expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(certificate["notAfter"]), tz=timezone.utc)
        days = (expires - datetime.now(timezone.utc)).days
        renew = " (renew soon: certbot renew)" if days < 14 else ""
        return "pass", f"{version}, valid for {target.host} until {expires:%Y-%m-%d} ({days} days){renew}"

    @staticmethod
    def _tls_advice(message: str) -> tuple[str, str]:
        text = (message or "").lower()
        if "expired" in text:
            return "the certificate has expired", "renew it (certbot renew) and reload nginx"
        if "hostname" in text or "ip address mismatch" in text:
            return ("the certificate is for another name",
                    "issue a certificate that covers the host in PUBLIC_URL (certbot -d <host>)")
        if "self-signed" in text or "self signed" in text:
            return "the certificate is self-signed", "use a certificate from a public CA (Let's Encrypt via certbot)"
        return ("the chain does not lead to a trusted CA (an intermediate certificate is missing, or a private CA)",
                "serve the full chain (ssl_certificate fullchain.pem) from a public CA")

    # --- 3. The 401 challenge ----------------------------------------------------------------------

    def _unauthenticated_post(self, user_agent: str | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "MCP-Protocol-Version": PROBE_PROTOCOL_VERSION}
        if user_agent:
            headers["User-Agent"] = user_agent
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": PROBE_PROTOCOL_VERSION, "capabilities": {},
                           "clientInfo": {"name": "mcp-connection-doctor", "version": "1"}}}
        return self.http.post(self.target.mcp_url, headers=headers, content=json.dumps(body))

    def challenge(self) -> tuple[Status, str]:
        response = self._unauthenticated_post()
        self.found["challenge"] = response
        status = response.status_code
        if 300 <= status < 400:
            raise StepFailed(f"HTTP {status} redirect to {response.headers.get('location')}",
                             "clients do not follow redirects on the MCP URL (CLAUDE-12)",
                             "give clients the final URL, e.g. https://host/mcp, and serve it without a redirect")
        if status == 401:
            header = response.headers.get("www-authenticate")
            if not header:
                raise StepFailed("401 without WWW-Authenticate",
                                 "Claude never starts OAuth and says \"Couldn't reach the MCP server\" (CLAUDE-08)",
                                 "the proxy must pass WWW-Authenticate through; the server sends it on every 401")
            metadata = resource_metadata_of(header)
            if not metadata:
                raise StepFailed(f"401 whose WWW-Authenticate has no resource_metadata: {header}",
                                 "without it Claude never starts OAuth (CLAUDE-08, RFC 9728 §5.1)",
                                 "send Bearer resource_metadata=\"<origin>/.well-known/oauth-protected-resource/mcp\"")
            parts = urlsplit(metadata)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise StepFailed(f"resource_metadata is not an absolute URL: {metadata!r}",
                                 "clients resolve it as given; a relative URL fails discovery",
                                 "set PUBLIC_URL so the server can build absolute URLs")
            if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
                raise StepFailed(f"resource_metadata is plain http: {metadata}",
                                 "PUBLIC_URL is http, or TLS is terminated without SECURE_PROXY_SSL_HEADER",
                                 "set PUBLIC_URL=https://... (docs/deploy.md)")
            if not same_origin(metadata, self.target.origin):
                # RFC 9728 §3.1 derives the metadata URL from the resource: another origin means the
                # server believes it lives elsewhere.
                raise StepFailed(f"resource_metadata points at another origin: {metadata}",
                                 "the server names another URL than the one clients use; usually PUBLIC_URL is "
                                 "wrong (CLAUDE-11)",
                                 f"set PUBLIC_URL={self.target.origin} and restart")
            self.found["resource_metadata"] = metadata
            return "pass", f"401, resource_metadata={metadata}"
        if status in (502, 504):
            raise StepFailed(f"HTTP {status} from the proxy", "the proxy cannot reach daphne (no process is up, "
                             "or nginx still rests upstreams that failed moments ago: fail_timeout, 10 s)",
                             "check `systemctl status 'mcp-daphne@*'` and the upstream addresses in the server block")
        if looks_blocked(response):
            raise StepFailed(f"HTTP {status} ({response.headers.get('content-type', '')}) instead of 401",
                             "a WAF, CDN or bot rule answers before the server", self._waf_fix())
        if status == 404:
            raise StepFailed("HTTP 404", "no MCP endpoint at this URL",
                             "the URL must be the server's /mcp, and the proxy must forward /mcp to daphne")
        if status >= 500:
            raise StepFailed(f"HTTP {status}", "the server failed", "check `journalctl -u 'mcp-daphne@*'`")
        if 200 <= status < 300:
            raise StepFailed(f"HTTP {status} without a token", "the MCP endpoint is not protected by OAuth",
                             "serve /mcp from this project (every request needs a bearer token)")
        raise StepFailed(f"HTTP {status}", "an unexpected answer to an unauthenticated MCP request",
                         "check the proxy configuration against docs/deploy.md")

    @staticmethod
    def _waf_fix() -> str:
        return (f"allow User-Agent {CLAUDE_USER_AGENT} and Anthropic's egress range {ANTHROPIC_EGRESS} in the WAF, "
                "CDN or bot-protection rules for this host (CLIENT-07)")

    # --- 4. Protected-resource metadata -----------------------------------------------------------

    def prm(self) -> tuple[Status, str]:
        target = self.target
        urls = [target.prm_path_form(), target.prm_root_form()]
        advertised = self.found.get("resource_metadata")
        if advertised and advertised not in urls:
            urls.append(advertised)
        documents = {}
        for url in urls:
            response = self._get(url)
            if response.status_code == 404 and url == target.prm_path_form():
                raise StepFailed(f"{url}: 404", "the path-form protected-resource metadata is missing; since 2026-01 "
                                 "Claude without it only guesses root endpoints (CLAUDE-07, RFC 9728 §3.1)",
                                 "serve RFC 9728 metadata there (the proxy must forward /.well-known/ to daphne)")
            if response.status_code != 200:
                raise StepFailed(f"{url}: HTTP {response.status_code}", "protected-resource metadata is not served",
                                 "forward /.well-known/ to daphne unchanged")
            documents[url] = self._json(response, url)
        for url, document in documents.items():
            resource = document.get("resource")
            if resource != target.mcp_url:
                raise StepFailed(
                    f"{url} says resource={resource!r}, but the MCP URL is {target.mcp_url!r}",
                    "tokens are issued for the wrong audience: Claude loops on \"Authorization failed\" / "
                    "\"integration rejected the credentials\" (CLAUDE-11). Usually PUBLIC_URL is wrong",
                    f"set PUBLIC_URL={target.origin} and restart (or give clients the URL the server names)")
        servers = documents[target.prm_path_form()].get("authorization_servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
            raise StepFailed("authorization_servers is missing or empty", "clients cannot find where to sign in",
                             "list the issuer in authorization_servers")
        self.found["issuer"] = servers[0]
        return "pass", f"{len(documents)} document(s), resource={target.mcp_url}, authorization server {servers[0]}"

    # --- 5. Authorization-server metadata --------------------------------------------------------------

    def as_metadata(self) -> tuple[Status, str]:
        issuer = self.found["issuer"]
        url = as_metadata_url(issuer)
        response = self._get(url)
        self.found["date_response"] = response
        if response.status_code != 200:
            raise StepFailed(f"{url}: HTTP {response.status_code}", "authorization-server metadata is not served",
                             "forward /.well-known/ to daphne unchanged")
        metadata = self._json(response, url)
        self.found["metadata"] = metadata
        if metadata.get("issuer") != issuer:
            raise StepFailed(f"issuer is {metadata.get('issuer')!r}, the resource names {issuer!r}",
                             "RFC 8414 §3.3 makes clients reject metadata whose issuer differs by a byte",
                             f"set PUBLIC_URL={self.target.origin} (no trailing slash) and restart")
        if urlsplit(issuer).scheme != "https" and not is_loopback_host(urlsplit(issuer).hostname or ""):
            raise StepFailed(f"issuer {issuer} is not https", "hosted clients refuse plain-http authorization servers",
                             "set PUBLIC_URL=https://...")
        problems = []
        if "S256" not in (metadata.get("code_challenge_methods_supported") or []):
            problems.append("S256 is not in code_challenge_methods_supported (MCP clients refuse)")
        methods = metadata.get("token_endpoint_auth_methods_supported") or []
        if not methods or methods[0] != "none":
            problems.append(f"token_endpoint_auth_methods_supported starts with {methods[:1]}, not \"none\" "
                            "(Claude needs \"none\" for CIMD, CLAUDE-04; the C# SDK takes the first, CLIENT-04)")
        if metadata.get("authorization_response_iss_parameter_supported") is not True:
            problems.append("authorization_response_iss_parameter_supported is not true (RFC 9207)")
        cimd = metadata.get("client_id_metadata_document_supported") is True
        if not cimd and not metadata.get("registration_endpoint"):
            problems.append("neither CIMD nor a registration_endpoint: Claude has no way to get a client")
        if problems:
            raise StepFailed("; ".join(problems), "clients reject or misuse this metadata",
                             "use this project's defaults (OAUTH2_PROVIDER in project/settings.py); "
                             "turn CIMD_ENABLED or DCR_ENABLED back on")
        return "pass", (f"issuer {issuer}, S256, none first, iss on, CIMD "
                        + ("on" if cimd else "off (Claude falls back to registration)"))

    # --- 6. Registration, then its deletion ---------------------------------------------------------

    def registration(self) -> tuple[Status, str]:
        metadata = self.found["metadata"]
        endpoint = metadata.get("registration_endpoint")
        if not endpoint:
            return "skip", "no registration_endpoint (DCR_ENABLED=false): Claude uses CIMD"
        response = self.http.post(endpoint, json=CLAUDE_REGISTRATION, headers={"Accept": "application/json"})
        if response.status_code == 429:
            raise StepFailed("429: registration rate limit reached",
                             "REGISTER_RATE_LIMIT counts per client address; behind a proxy with TRUSTED_PROXIES=0 "
                             "every client shares the proxy's address",
                             "set TRUSTED_PROXIES to the number of proxies in front (docs/deploy.md), or raise the limit")
        if response.status_code in (401, 403):
            raise StepFailed(f"HTTP {response.status_code}: registration needs credentials",
                             "Claude registers anonymously; it shows \"Couldn't register with the sign-in service\" "
                             "(CLAUDE-23)", "keep DCR_REGISTRATION_PERMISSION_CLASSES open, or turn DCR off and rely on CIMD")
        if response.status_code != 201:
            error = self._json(response, endpoint) if "json" in response.headers.get("content-type", "") else {}
            raise StepFailed(
                f"HTTP {response.status_code}: {error.get('error', '')} {error.get('error_description', '')}".strip(),
                "Claude's own registration is refused: it shows \"Couldn't register with the sign-in service\" "
                "(CLAUDE-05, CLAUDE-23)", "the server must narrow grants it does not support instead of refusing")
        client = self._json(response, endpoint)
        client_id = client.get("client_id", "?")
        deleted = self._delete_registration(endpoint, client)
        if not client.get("client_secret"):
            raise StepFailed(f"registered {client_id} without a client_secret ({deleted})",
                             "Claude asked for client_secret_post and abandons a registration without a secret "
                             "(CLAUDE-05)", "issue a secret for client_secret_post registrations")
        return "pass", f"201 {client_id} (grants {' '.join(client.get('grant_types', []))}), {deleted}"

    def _delete_registration(self, endpoint: str, client: dict[str, Any]) -> str:
        client_id = client.get("client_id", "?")
        uri, token = client.get("registration_client_uri"), client.get("registration_access_token")
        leftover = f"remove client {client_id} in the admin (Clients)"
        if not uri or not token:
            raise StepFailed(f"registered {client_id} but got no registration_client_uri/registration_access_token",
                             "RFC 7592 management is off, so the doctor cannot delete its test client", leftover)
        if not same_origin(uri, endpoint):
            # Never send the registration access token anywhere but the server that issued it.
            raise StepFailed(f"registration_client_uri {uri} is on another origin than {endpoint}",
                             "PUBLIC_URL differs from the URL the doctor used", f"fix PUBLIC_URL, then {leftover}")
        response = self.http.delete(uri, headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 204:
            raise StepFailed(f"registered {client_id}, but DELETE {uri} answered {response.status_code}",
                             "RFC 7592 deletion failed", leftover)
        return "deleted again (RFC 7592)"

    # --- 7. JWKS ---------------------------------------------------------------------------------------

    def jwks(self) -> tuple[Status, str]:
        uri = self.found["metadata"].get("jwks_uri")
        if not uri:
            raise StepFailed("no jwks_uri in the metadata", "resource servers cannot verify the JWT access tokens",
                             "publish the signing keys (this project serves /jwks)")
        response = self._get(uri)
        if response.status_code != 200:
            raise StepFailed(f"{uri}: HTTP {response.status_code}", "the signing keys are not reachable",
                             "forward /jwks to daphne")
        keys = self._json(response, uri).get("keys")
        if not isinstance(keys, list) or not keys:
            raise StepFailed(f"{uri} lists no keys", "no signing key is active, so no token can be issued",
                             "run manage.py createsigningkey --activate --if-missing")
        return "pass", f"{len(keys)} key(s): {', '.join(str(k.get('kid', '?'))[:12] for k in keys)}"

    # --- 8. SSE through the proxy -------------------------------------------------------------------------

    def sse(self) -> tuple[Status, str]:
        url = self.target.mcp_url + SSE_PROBE_SUFFIX
        started = time.monotonic()
        first: float | None = None
        events = 0
        buffer = b""
        with self.http.stream("GET", url, headers={"Accept": "text/event-stream", "Cache-Control": "no-cache"}) as response:
            if response.status_code != 200:
                raise StepFailed(f"{url}: HTTP {response.status_code}",
                                 "the SSE probe beside /mcp is not reachable through the proxy",
                                 "forward every path under /mcp to daphne with the /mcp location of docs/deploy.md")
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith("text/event-stream"):
                raise StepFailed(f"{url}: content type {content_type!r}", "a proxy rewrites the stream",
                                 "proxy /mcp unchanged")
            for chunk in response.iter_raw():
                buffer += chunk
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    if block.startswith(b"data:") or b"\ndata:" in block:
                        events += 1
                        if first is None:
                            first = time.monotonic() - started
        total = time.monotonic() - started
        if first is None:
            raise StepFailed(f"{url}: the stream ended after {total:.1f} s without an event",
                             "a proxy drops or rewrites event streams", "proxy /mcp unchanged (docs/deploy.md)")
        encoding = response.headers.get("content-encoding")
        if first > self.sse_deadline:
            raise StepFailed(
                f"first event after {first:.1f} s (the server sent it at once; the stream lasted {total:.1f} s)"
                + (f", compressed ({encoding})" if encoding else ""),
                "a proxy buffers (or compresses) event streams: progress and notifications arrive late or never, "
                "and long tool calls time out",
                "nginx: proxy_buffering off; proxy_cache off; gzip off in the /mcp location (docs/deploy.md); "
                "CDNs: turn off response buffering for /mcp")
        return "pass", f"first event after {first:.2f} s, {events} events in {total:.1f} s"

    # --- 9. Clock ----------------------------------------------------------------------------------------

    def clock(self) -> tuple[Status, str]:
        before = time.time()
        response = self._get(self.target.prm_path_form())
        after = time.time()
        header = response.headers.get("date")
        if not header:
            return "skip", "the server sent no Date header"
        try:
            server = parsedate_to_datetime(header).timestamp()
        except (TypeError, ValueError):
            return "skip", f"unreadable Date header {header!r}"
        # Date has 1 s resolution: compare against the whole window the answer was produced in.
        skew = 0.0 if before - 1 <= server <= after else (server - after if server > after else server - before + 1)
        if abs(skew) > self.clock_tolerance:
            raise StepFailed(f"the server's clock is {skew:+.0f} s off this machine's",
                             "token lifetimes (iat, nbf, exp) and client assertions are judged by that clock",
                             "turn on NTP on the server (timedatectl set-ntp true, or chrony), and on this machine")
        return "pass", f"{skew:+.0f} s (within ±{self.clock_tolerance:g} s)"

    # --- 10. Claude-User ----------------------------------------------------------------------------------

    def claude_user(self) -> tuple[Status, str]:
        baseline = self.found["challenge"].status_code
        post = self._unauthenticated_post(CLAUDE_USER_AGENT)
        prm = self._get(self.target.prm_path_form(), **{"User-Agent": CLAUDE_USER_AGENT})
        for what, response, expected in (("POST /mcp", post, baseline), ("metadata", prm, 200)):
            if response.status_code != expected or looks_blocked(response):
                raise StepFailed(
                    f"{what} with User-Agent {CLAUDE_USER_AGENT}: HTTP {response.status_code} "
                    f"({response.headers.get('content-type', '')}), expected {expected}",
                    "a WAF or bot rule blocks Claude's user agent: OAuth completes, then nothing (CLIENT-07)",
                    self._waf_fix())
        return "pass", (f"not blocked (POST /mcp {post.status_code}, metadata {prm.status_code}); the doctor "
                        f"cannot test rules on Anthropic's addresses ({ANTHROPIC_EGRESS})")


def diagnose(url: str, **options: Any) -> Report:
    """Run every step against ``url`` (the MCP URL, or the origin whose ``/mcp`` it is)."""
    return Doctor(Target.parse(url), **options).run()
