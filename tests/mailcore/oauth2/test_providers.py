"""The [oauth2] table: the Microsoft 365 and Google presets, a generic provider, and settings
that cannot work refused with what to set."""

from __future__ import annotations

import pytest

from mailcore.errors import ConfigError
from mailcore.mailboxes.imap import ImapConfig
from mailcore.oauth2.providers import Flow, Mechanism, ProviderKind, oauth2_settings


def test_microsoft_uses_the_device_code_flow_of_its_tenant() -> None:
    chosen = oauth2_settings({"provider": "microsoft", "client_id": "app", "tenant": "contoso"})
    provider = chosen.provider
    assert provider.kind is ProviderKind.MICROSOFT and provider.flow is Flow.DEVICE
    assert provider.device_url == "https://login.microsoftonline.com/contoso/oauth2/v2.0/devicecode"
    assert provider.token_url == "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
    assert set(provider.scopes.split()) == {
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
        "offline_access",
    }
    default = oauth2_settings({"provider": "microsoft", "client_id": "app"}).provider
    assert "/organizations/" in default.token_url
    assert chosen.account == "default" and chosen.mechanism is Mechanism.AUTO


def test_google_uses_the_loopback_flow_and_keeps_the_secret_out_of_repr() -> None:
    chosen = oauth2_settings(
        {"provider": "Google", "client_id": "app", "client_secret": "s3cr3t", "account": "ops"}
    )
    provider = chosen.provider
    assert provider.flow is Flow.LOOPBACK and provider.scopes == "https://mail.google.com/"
    assert provider.authorize_url and provider.authorize_url.startswith("https://accounts.google")
    assert "s3cr3t" not in repr(chosen) and chosen.account == "ops"


def test_a_generic_provider_needs_its_endpoints() -> None:
    with pytest.raises(ConfigError, match="token_url and device_url"):
        oauth2_settings({"provider": "generic", "client_id": "x", "token_url": "https://t/"})
    chosen = oauth2_settings(
        {"provider": "generic", "client_id": "x", "token_url": "https://t/", "device_url": "d"},
        mechanism="oauthbearer",
        refresh_margin=None,
    )
    assert chosen.provider.flow is Flow.DEVICE and chosen.mechanism is Mechanism.OAUTHBEARER


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"provider": "microsoft"}, "client_id is not set"),
        ({"provider": "yahoo", "client_id": "x"}, "provider: microsoft, google, generic"),
        ({"provider": "google", "client_id": "x", "mechanism": "plain"}, "mechanism"),
        ({"provider": "google", "client_id": "x", "refresh_margin": "soon"}, "refresh_margin"),
        ({"provider": "google", "client_id": "x", "refresh_margin": 99999}, "between 0 and"),
        ({"provider": "google", "client_id": "x", "tennant": "x"}, "unknown key(s) tennant"),
        ({"provider": "google", "client_id": "x", "account": "x" * 129}, "128 characters"),
    ],
)
def test_settings_that_cannot_work_say_what_to_set(table: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        oauth2_settings(table)
    assert says in str(caught.value)


def test_imap_refuses_an_unknown_mechanism_and_a_source_in_its_url() -> None:
    with pytest.raises(ConfigError, match="oauth2_mechanism"):
        ImapConfig("mail.example.com", oauth2_mechanism="plain")
    with pytest.raises(ConfigError, match="unknown parameter 'oauth2_source'"):
        ImapConfig.from_url("imaps://u@mail.example.com/?oauth2_source=x")
    config = ImapConfig.from_url("imaps://u@mail.example.com/?oauth2_mechanism=oauthbearer")
    assert config.oauth2_mechanism == "oauthbearer"
