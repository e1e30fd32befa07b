"""Database models of the authorization server that django-oauth-toolkit does not provide.

* :class:`Client` is DOT's swappable ``Application`` with the few fields an MCP deployment
  needs (allowed scopes, the registered token endpoint auth method, an on/off switch).
* :class:`Scope` keeps scopes in the database, editable in the admin, with who may grant them.
* :class:`ConsumedCode` remembers exchanged authorization codes so that a replay revokes
  the tokens the code produced (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication

from .redirects import allowed_schemes_for, validate_redirect_uri


class Scope(models.Model):
    """An OAuth scope.

    Fields:

    * ``name``: the scope token as it appears in requests (``admin``, ``user``, ``mcp``).
    * ``description``: a plain-language sentence shown on the consent page.
    * ``grantable_by``: who may grant it on the consent page: everyone, staff (plus the listed
      users and groups), or only the listed users and groups.
    * ``users`` / ``groups``: the explicitly entitled principals.
    """

    class GrantableBy(models.TextChoices):
        EVERYONE = "everyone", _("Every user")
        STAFF = "staff", _("Staff, plus the listed users and groups")
        LISTED = "listed", _("Only the listed users and groups")

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=255)
    grantable_by = models.CharField(max_length=16, choices=GrantableBy.choices, default=GrantableBy.EVERYONE)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="oauth_scopes")
    groups = models.ManyToManyField(Group, blank=True, related_name="oauth_scopes")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def is_grantable_by(self, user) -> bool:
        """Whether ``user`` may grant this scope to a client."""
        if not user.is_active:
            return False
        if self.grantable_by == self.GrantableBy.EVERYONE:
            return True
        if self.grantable_by == self.GrantableBy.STAFF and user.is_staff:
            return True
        if self.users.filter(pk=user.pk).exists():
            return True
        return self.groups.filter(pk__in=user.groups.values("pk")).exists()


class Client(AbstractApplication):
    """An OAuth client (DOT ``Application``), as registered manually, by DCR or by CIMD.

    Extra fields:

    * ``allowed_scopes``: scopes this client may request; empty means every scope.
    * ``token_endpoint_auth_method``: the RFC 7591 method the client registered with (or that was
      negotiated for its CIMD document), so the registration response and the admin report it
      truthfully and ``/token`` enforces it.
    * ``jwks_uri`` / ``jwks``: where a ``private_key_jwt`` client's public keys are (RFC 7591 §2),
      and ``token_endpoint_auth_signing_alg``, the algorithm it registered, if any.
    * ``is_active``: a disabled client can neither authorize nor use its tokens.
    """

    class AuthMethod(models.TextChoices):
        NONE = "none", _("none (public client)")
        CLIENT_SECRET_BASIC = "client_secret_basic", _("client_secret_basic")
        CLIENT_SECRET_POST = "client_secret_post", _("client_secret_post")
        PRIVATE_KEY_JWT = "private_key_jwt", _("private_key_jwt (RFC 7523 client assertion)")

    allowed_scopes = models.ManyToManyField(
        Scope, blank=True, related_name="clients", help_text=_("Leave empty to allow every scope.")
    )
    token_endpoint_auth_method = models.CharField(
        max_length=32, choices=AuthMethod.choices, default=AuthMethod.CLIENT_SECRET_BASIC
    )
    is_active = models.BooleanField(default=True, help_text=_("Disabled clients cannot obtain or use tokens."))
    jwks_uri = models.CharField(max_length=2000, blank=True, help_text=_("private_key_jwt: URL of the client's JWK Set."))
    jwks = models.JSONField(null=True, blank=True, help_text=_("private_key_jwt: the client's JWK Set, inline."))
    token_endpoint_auth_signing_alg = models.CharField(max_length=16, blank=True)

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = _("client")

    def clean(self) -> None:
        """DOT's checks plus ours: ``http`` redirect URIs only for loopback hosts (RFC 8252 §7.3)."""
        errors: dict[str, list[ValidationError]] = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors.update(exc.error_dict)
        for uri in self.redirect_uris.split():
            try:
                validate_redirect_uri(uri)
            except ValidationError as exc:
                errors.setdefault("redirect_uris", []).extend(exc.error_list)
        if self.token_endpoint_auth_method == self.AuthMethod.PRIVATE_KEY_JWT:
            errors.update(self._key_errors())
        if errors:
            raise ValidationError(errors)

    def _key_errors(self) -> dict[str, list[ValidationError]]:
        """RFC 7591 §2: a private_key_jwt client has exactly one of jwks_uri and jwks, with public keys."""
        from .client_metadata import InvalidClientMetadata, check_jwks

        if bool(self.jwks_uri) == (self.jwks is not None):
            return {"jwks_uri": [ValidationError(_("A private_key_jwt client needs exactly one of jwks_uri and jwks."))]}
        if self.jwks_uri and not self.jwks_uri.startswith("https://"):
            return {"jwks_uri": [ValidationError(_("jwks_uri must be an https URL."))]}
        if self.jwks is not None:
            try:
                check_jwks(self.jwks if isinstance(self.jwks, dict) else {})
            except InvalidClientMetadata as exc:
                return {"jwks": [ValidationError(exc.description)]}
        return {}

    def get_allowed_schemes(self) -> list[str]:
        """DOT's per-client scheme hook: loopback http and private-use schemes only for the clients
        that registered them (see :mod:`oauth_app.redirects`)."""
        return allowed_schemes_for(self.redirect_uris.split())

    def apply_metadata(self, metadata) -> None:
        """Take over what DOT's own DCR/CIMD code has no field for, from the effective metadata
        (:class:`oauth_app.client_metadata.ClientMetadata`)."""
        self.token_endpoint_auth_method = metadata.token_endpoint_auth_method
        self.jwks_uri = metadata.jwks_uri
        self.jwks = metadata.jwks
        self.token_endpoint_auth_signing_alg = metadata.token_endpoint_auth_signing_alg
        if metadata.token_endpoint_auth_method == self.AuthMethod.PRIVATE_KEY_JWT:
            # It authenticates, with keys instead of a secret: confidential (RFC 6749 §2.1), so DOT
            # never lets it through on its client_id alone.
            self.client_type = self.CLIENT_CONFIDENTIAL
        elif metadata.token_endpoint_auth_method == self.AuthMethod.NONE:
            self.client_type = self.CLIENT_PUBLIC

    def save(self, *args, **kwargs) -> None:
        if self.registration_source == self.RegistrationSource.CIMD:
            # DOT's CIMD upsert sets only the fields it knows; the negotiated auth method and keys
            # were left for this save by our fetcher (oauth_app.cimd).
            from .cimd import take_pending_metadata

            metadata = take_pending_metadata(self.client_id)
            if metadata is not None:
                self.apply_metadata(metadata)
                if kwargs.get("update_fields") is not None:
                    kwargs["update_fields"] = {*kwargs["update_fields"], "token_endpoint_auth_method", "jwks_uri", "jwks",
                                               "token_endpoint_auth_signing_alg", "client_type"}
        super().save(*args, **kwargs)
    def get_absolute_url(self) -> str:
        # DOT's reverses "oauth2_provider:detail", a view this server does not mount (a 500 on
        # the admin's "View on site"); the client's page is its admin page.
        return reverse("admin:oauth_app_client_change", args=[self.pk])

    def is_usable(self, request) -> bool:
        return self.is_active

    def allowed_scope_names(self) -> set[str] | None:
        """The scope names this client may request, or ``None`` when it is unrestricted."""
        names = {scope.name for scope in self.allowed_scopes.all()}
        return names or None


class ConsumedCode(models.Model):
    """An authorization code that has been exchanged, kept to detect replays.

    Only the SHA-256 of the code is stored. ``access_token`` and ``token_family`` point at what
    the exchange produced, so a replay can revoke exactly that.
    """

    code_checksum = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE)
    # No constraint and nothing done on delete: every refresh deletes the access token it replaces,
    # and Django would spend a query per deletion clearing this column. A replay looks the token up
    # by id and finds nothing if it is gone; ids are never reused (AUTOINCREMENT, sequences), and
    # these rows live a day (clearconsumedcodes).
    access_token = models.ForeignKey(
        "oauth2_provider.AccessToken",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    token_family = models.UUIDField(null=True, blank=True)
    consumed_at = models.DateTimeField(auto_now_add=True)

    @staticmethod
    def checksum(code: str) -> str:
        return hashlib.sha256(code.encode("utf-8")).hexdigest()

    def __str__(self) -> str:
        return f"code {self.code_checksum[:8]}… of {self.application}"


class SigningKey(models.Model):
    """A key that signs JWT access tokens (RFC 9068), with its rotation state.

    Fields:

    * ``kid``: the RFC 7638 JWK thumbprint of the public key.
    * ``algorithm``: ``RS256`` (default), ``ES256`` or ``EdDSA``.
    * ``state``: ``next`` (published, not yet signing), ``active`` (signs; exactly one),
      ``retiring`` (published so its tokens still verify), ``retired`` (neither).
    * ``private_key``: the PKCS#8 PEM, encrypted with the key-encryption key (Fernet).
    * ``public_jwk``: the public JWK as published at ``/jwks``.
    """

    class Algorithm(models.TextChoices):
        RS256 = "RS256", "RS256 (RSA 2048, SHA-256)"
        ES256 = "ES256", "ES256 (ECDSA P-256)"
        EDDSA = "EdDSA", "EdDSA (Ed25519)"

    class State(models.TextChoices):
        NEXT = "next", _("next")
        ACTIVE = "active", _("active")
        RETIRING = "retiring", _("retiring")
        RETIRED = "retired", _("retired")

    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=8, choices=Algorithm.choices, default=Algorithm.RS256)
    state = models.CharField(max_length=8, choices=State.choices, default=State.NEXT, db_index=True)
    private_key = models.BinaryField(editable=False)
    public_jwk = models.JSONField(editable=False)
    created = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retiring_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["state"], condition=models.Q(state="active"), name="one_active_signing_key"),
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.algorithm}, {self.state})"


class TokenKey(models.Model):
    """Which signing key signed an access token, so a key's dependants can be counted and revoked."""

    # No constraint and nothing done on delete, for the same reason as ConsumedCode.access_token: a
    # link whose token is gone is left behind (every lookup joins the live token, so it is never
    # seen) and ``prunesigningkeys`` deletes it.
    access_token = models.OneToOneField("oauth2_provider.AccessToken", on_delete=models.DO_NOTHING, primary_key=True,
                                        db_constraint=False, related_name="signing_key_link")
    kid = models.CharField(max_length=64, db_index=True)
