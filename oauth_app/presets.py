"""Client presets for the admin's "Add client" page: what each MCP client in the field needs.

A preset fills in the redirect URIs, client type, grant type and token endpoint auth method. The
redirect URIs are the ones the clients really use, as quoted in the requirements checklist
(CLAUDE-02, CLIENT-01..03). Hosted clients that publish a Client ID Metadata Document (Claude.ai,
ChatGPT, VS Code) need no manual client at all; a preset is for pre-registering them anyway (a
fixed ``client_id``, restricted scopes) or for clients that cannot register themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Client

PUBLIC, CONFIDENTIAL = Client.CLIENT_PUBLIC, Client.CLIENT_CONFIDENTIAL
CODE, CLIENT_CREDENTIALS = Client.GRANT_AUTHORIZATION_CODE, Client.GRANT_CLIENT_CREDENTIALS


@dataclass(frozen=True, slots=True)
class Preset:
    key: str
    label: str
    hint: str
    name: str
    client_type: str
    grant_type: str
    auth_method: str
    redirect_uris: tuple[str, ...] = ()

    def initial(self) -> dict[str, str]:
        """Initial values for the admin's client form."""
        return {
            "name": self.name, "client_type": self.client_type, "authorization_grant_type": self.grant_type,
            "token_endpoint_auth_method": self.auth_method, "redirect_uris": "\n".join(self.redirect_uris),
        }


PRESETS: tuple[Preset, ...] = (
    Preset("claude", "Claude.ai / Claude Desktop", "Hosted connector; public client with PKCE (CLAUDE-02).",
           "Claude", PUBLIC, CODE, "none",
           ("https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback")),
    Preset("chatgpt", "ChatGPT", "Connectors and developer mode (CLIENT-01).",
           "ChatGPT", PUBLIC, CODE, "none", ("https://chatgpt.com/connector_platform_oauth_redirect",)),
    Preset("cursor", "Cursor", "Desktop app, web agents and its local callback (CLIENT-02).",
           "Cursor", PUBLIC, CODE, "none",
           ("cursor://anysphere.cursor-mcp/oauth/callback", "https://www.cursor.com/agents/mcp/oauth/callback",
            "http://localhost:8787/callback")),
    Preset("vscode", "VS Code", "Loopback on any port, plus vscode.dev (CLIENT-03).",
           "VS Code", PUBLIC, CODE, "none", ("http://127.0.0.1:33418/", "https://vscode.dev/redirect")),
    Preset("claude-code", "Claude Code", "Local CLI; loopback callback on a varying port (CLAUDE-02).",
           "Claude Code", PUBLIC, CODE, "none", ("http://localhost/callback", "http://127.0.0.1/callback")),
    Preset("inspector", "MCP Inspector", "The MCP Inspector's OAuth callbacks on localhost:6274.",
           "MCP Inspector", PUBLIC, CODE, "none",
           ("http://localhost:6274/oauth/callback", "http://localhost:6274/oauth/callback/debug")),
    Preset("web", "Confidential web app", "A server-side app that keeps a secret; add its callback URL.",
           "", CONFIDENTIAL, CODE, "client_secret_basic"),
    Preset("m2m", "Machine to machine", "client_credentials: no person, no redirect; the token speaks for the client.",
           "", CONFIDENTIAL, CLIENT_CREDENTIALS, "client_secret_basic"),
)

BY_KEY = {preset.key: preset for preset in PRESETS}

#: The grant types this server supports, as DOT names them (RFC 9700: no implicit, no password;
#: no device code, no OIDC hybrid). Refresh tokens come with the authorization-code grant.
SUPPORTED_GRANTS = (CODE, CLIENT_CREDENTIALS)

#: Which token endpoint auth methods go with which client type.
AUTH_METHODS_BY_TYPE = {
    PUBLIC: (Client.AuthMethod.NONE,),
    CONFIDENTIAL: (Client.AuthMethod.CLIENT_SECRET_BASIC, Client.AuthMethod.CLIENT_SECRET_POST),
}
