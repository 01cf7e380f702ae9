"""The configured outbound server: the ``[smtp]`` table of the settings (``url``, ``sender``,
any other SmtpConfig field), each key overridable as ``MAILCORE_SMTP_<KEY>``; and whether mail
goes out with a VERP envelope sender (``[outbound] verp``, on by default once ``[ident]
domain`` is set).

One reading for `mailcore send` and the console's "send a test", so both agree on what is set.
Without an SMTP password, an ``[oauth2]`` table makes the login XOAUTH2/OAUTHBEARER with the
same refreshing tokens as the IMAP login (Microsoft 365 and Gmail take no passwords).
"""

from __future__ import annotations

from typing import Any

from mailcore.config import Ident, Settings, oauth2_source
from mailcore.errors import ConfigError
from mailcore.ident import IdentScheme
from mailcore.outbound.smtp import SmtpConfig

__all__ = [
    "configured_sender",
    "sent_folder_setting",
    "smtp_from_settings",
    "smtp_server",
    "verp_scheme",
]

MISSING_URL = (
    "no SMTP server configured: set MAILCORE_SMTP_URL (or url in the [smtp] table of the config"
    " file), e.g. smtps://user@smtp.example.com:465/"
)
MISSING_SENDER = "no sender address configured: set MAILCORE_SMTP_SENDER (or sender in [smtp])"


def _section(settings: Settings) -> dict[str, Any]:
    return settings.section("smtp") if hasattr(settings, "section") else {}


def smtp_server(settings: Settings, **overrides: Any) -> SmtpConfig | None:
    """The [smtp] server with `overrides` applied (None values ignored); None when no url."""
    section = _section(settings)
    url = section.get("url")
    if not url:
        return None
    extra = {k: v for k, v in section.items() if k not in ("url", "sender", "sent_folder")}
    extra["verp"] = verp_scheme(settings)
    if not extra.get("password") and hasattr(settings, "section"):
        source = oauth2_source(settings)  # [oauth2]: the SMTP login takes a fresh token too
        if source is not None:
            extra.update(oauth2_source=source, oauth2_mechanism=source.settings.mechanism)
    extra.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(extra.get("port"), str):
        extra["port"] = int(extra["port"])  # from the environment
    if isinstance(extra.get("timeout"), str):
        extra["timeout"] = float(extra["timeout"])
    try:
        return SmtpConfig.from_url(str(url), **extra)
    except TypeError as exc:  # an unknown key in [smtp]
        raise ConfigError(f"[smtp] table: {exc}") from None


def configured_sender(settings: Settings, smtp: SmtpConfig | None = None) -> str | None:
    """[smtp] sender, else the SMTP login when it is an address; None when neither."""
    sender = _section(settings).get("sender")
    if sender:
        return str(sender)
    login = smtp.username if smtp is not None else ""
    return login if "@" in login else None


def sent_folder_setting(settings: Settings) -> str | None:
    """[smtp] sent_folder: where sent mail is also filed, or None to file no copy."""
    folder = _section(settings).get("sent_folder")
    return str(folder) if folder else None


def smtp_from_settings(settings: Settings) -> tuple[SmtpConfig, str]:
    """(server, sender) from the settings, or ConfigError naming the setting to set."""
    smtp = smtp_server(settings)
    if smtp is None:
        raise ConfigError(MISSING_URL)
    sender = configured_sender(settings, smtp)
    if not sender:
        raise ConfigError(MISSING_SENDER)
    return smtp, sender


_ON = frozenset({"true", "yes", "on", "1"})
_OFF = frozenset({"false", "no", "off", "0"})


def verp_scheme(settings: Settings, scheme: IdentScheme | None = None) -> IdentScheme | None:
    """The scheme (`scheme`, else the settings') whose bounce address is the envelope sender
    of the mail mailcore composes: ``bounce+<id>.<token>@<[ident] domain>``, so that a bounce
    names the mail it returns. None when the domain is not configured (bounces to the default
    example.com reach nobody) or ``[outbound] verp = false`` (MAILCORE_OUTBOUND_VERP)."""
    scheme = scheme or settings.scheme
    if scheme.domain == Ident.domain:
        return None
    value = settings.section("outbound").get("verp", True) if hasattr(settings, "section") else True
    if isinstance(value, str) and value.strip().lower() in _ON | _OFF:
        value = value.strip().lower() in _ON
    if not isinstance(value, bool):
        raise ConfigError(f"[outbound] verp must be true or false, not {value!r}")
    return scheme if value else None
