"""Where an account's tokens come from: the `[oauth2]` table of the settings.

    [oauth2]
    provider = "microsoft"        # microsoft | google | generic
    account = "ops"               # the name the tokens are stored under (default: "default")
    client_id = "..."             # your app registration
    client_secret = "..."         # confidential clients only: better MAILCORE_OAUTH2_CLIENT_SECRET
    tenant = "contoso.onmicrosoft.com"   # microsoft: default "organizations"
    scopes = "..."                # space-separated; the presets choose IMAP + SMTP + offline_access
    token_url = "https://..."     # generic (the presets know theirs)
    device_url = "https://..."    # generic: RFC 8628 device authorization endpoint, or
    authorize_url = "https://..." # generic: authorization endpoint for the loopback flow
    mechanism = "auto"            # auto | xoauth2 | oauthbearer
    refresh_margin = 300          # seconds before expiry at which a token is refreshed

Microsoft 365 logs in with the device-code flow (RFC 8628), Google with the installed-app
loopback flow (RFC 8252, PKCE); a generic provider with the device flow when it has a
`device_url`, else the loopback flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mailcore.errors import ConfigError


class ProviderKind(StrEnum):
    MICROSOFT = "microsoft"
    GOOGLE = "google"
    GENERIC = "generic"


class Mechanism(StrEnum):
    """The SASL mechanism an OAuth2 login uses; AUTO follows the server's AUTH= list."""

    AUTO = "auto"
    XOAUTH2 = "xoauth2"
    OAUTHBEARER = "oauthbearer"


class Flow(StrEnum):
    DEVICE = "device"  # RFC 8628
    LOOPBACK = "loopback"  # RFC 8252 with PKCE (RFC 7636)


MICROSOFT_LOGIN = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
MICROSOFT_SCOPES = (
    "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send"
    " offline_access"
)
GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
GOOGLE_SCOPES = "https://mail.google.com/"
KNOWN_KEYS = {
    "provider",
    "account",
    "client_id",
    "client_secret",
    "tenant",
    "scopes",
    "token_url",
    "device_url",
    "authorize_url",
    "mechanism",
    "refresh_margin",
}


@dataclass(frozen=True)
class Provider:
    """An authorization server's endpoints and this application's registration there."""

    kind: ProviderKind
    client_id: str
    token_url: str
    scopes: str
    client_secret: str | None = field(default=None, repr=False)
    device_url: str | None = None
    authorize_url: str | None = None

    @property
    def flow(self) -> Flow:
        return Flow.DEVICE if self.device_url else Flow.LOOPBACK


@dataclass(frozen=True)
class OAuth2Settings:
    """The `[oauth2]` table, checked."""

    provider: Provider
    account: str = "default"
    mechanism: Mechanism = Mechanism.AUTO
    refresh_margin: float = 300.0


def configured(section: dict[str, Any]) -> bool:
    """Whether the `[oauth2]` table asks for OAuth2 logins at all."""
    return bool(section.get("provider"))


def oauth2_settings(section: dict[str, Any], **overrides: str | None) -> OAuth2Settings:
    """The `[oauth2]` table (with `overrides`, e.g. command line options, where not None) as
    OAuth2Settings, or ConfigError naming what to set."""
    values = dict(section) | {k: v for k, v in overrides.items() if v is not None}
    unknown = set(values) - KNOWN_KEYS
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(sorted(unknown))} in [oauth2]; known:"
            f" {', '.join(sorted(KNOWN_KEYS))}"
        )
    try:
        kind = ProviderKind(str(values.get("provider") or ProviderKind.GENERIC).lower())
        mechanism = Mechanism(str(values.get("mechanism") or Mechanism.AUTO).lower())
        margin = float(values.get("refresh_margin", 300))
    except ValueError as e:
        raise ConfigError(
            f"[oauth2]: {e} (provider: {', '.join(ProviderKind)}; mechanism:"
            f" {', '.join(Mechanism)}; refresh_margin: seconds)"
        ) from None
    if not 0 <= margin <= 3600:
        raise ConfigError("[oauth2] refresh_margin must be between 0 and 3600 seconds")
    account = str(values.get("account") or "default")
    if not 0 < len(account) <= 128:
        raise ConfigError("[oauth2] account must be a name of at most 128 characters")
    return OAuth2Settings(_provider(kind, values), account, mechanism, margin)


def _provider(kind: ProviderKind, values: dict[str, Any]) -> Provider:
    client_id = str(values.get("client_id") or "")
    if not client_id:
        raise ConfigError(
            "[oauth2] client_id is not set: register an application with the provider (Entra ID"
            " app registration, Google Cloud OAuth client) and set its client id"
        )
    secret = str(values["client_secret"]) if values.get("client_secret") else None
    scopes = str(values.get("scopes") or "")
    if kind is ProviderKind.MICROSOFT:
        base = MICROSOFT_LOGIN.format(tenant=values.get("tenant") or "organizations")
        return Provider(
            kind,
            client_id,
            str(values.get("token_url") or f"{base}/token"),
            scopes or MICROSOFT_SCOPES,
            secret,
            device_url=str(values.get("device_url") or f"{base}/devicecode"),
        )
    if kind is ProviderKind.GOOGLE:
        return Provider(
            kind,
            client_id,
            str(values.get("token_url") or GOOGLE_TOKEN),
            scopes or GOOGLE_SCOPES,
            secret,
            authorize_url=str(values.get("authorize_url") or GOOGLE_AUTHORIZE),
        )
    token_url = str(values.get("token_url") or "")
    device_url = str(values.get("device_url") or "") or None
    authorize_url = str(values.get("authorize_url") or "") or None
    if not token_url or not (device_url or authorize_url):
        raise ConfigError(
            "[oauth2] provider = generic needs token_url and device_url (device-code flow) or"
            " authorize_url (loopback flow)"
        )
    return Provider(kind, client_id, token_url, scopes, secret, device_url, authorize_url)
