"""`ImapConfig`: how to reach and log in to one IMAP account, and its `imaps://` URLs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import parse_qsl

from mailcore.errors import ConfigError
from mailcore.mailboxes.proxy import parse_proxy
from mailcore.servers import SECURITIES, ServerLogin, login_from_url

__all__ = ["SECURITIES", "ImapConfig"]


@dataclass
class ImapConfig(ServerLogin):
    """How to reach and log in to one IMAP account."""

    oauth2_token: str | None = field(default=None, repr=False)
    # OAuth2 with refresh: called at each login for a fresh access token, with True once after
    # the server refused one (mailcore.oauth2.TokenSource); wins over oauth2_token
    oauth2_source: Callable[[bool], str] | None = field(default=None, repr=False, compare=False)
    oauth2_mechanism: str = "auto"  # auto (the server's AUTH= list) | xoauth2 | oauthbearer
    proxy: str | None = None  # "http://host:port" or "socks5://host:port"
    use_move: bool = True
    batch_size: int = 500

    protocol = "IMAP"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.batch_size < 1:
            raise ConfigError(f"IMAP batch_size must be at least 1, not {self.batch_size}")
        if self.proxy:
            parse_proxy(self.proxy)  # fail at configuration time, not at the first poll
        if self.oauth2_mechanism not in ("auto", "xoauth2", "oauthbearer"):
            raise ConfigError(
                f"IMAP oauth2_mechanism {self.oauth2_mechanism!r} is not auto, xoauth2 or"
                " oauthbearer"
            )

    def secrets(self) -> dict[str, str | None]:
        return {**super().secrets(), "oauth2_token": self.oauth2_token}

    @property
    def effective_port(self) -> int:
        """The configured port, or 993 for TLS and 143 otherwise."""
        return self.port or (993 if self.security == "tls" else 143)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.effective_port}"

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> ImapConfig:
        """Parse `imaps://user:pass@host:993/` (TLS) or `imap://user@host/?security=starttls`.

        `imap://` defaults to STARTTLS; `?security=plain` sends the password in clear. Other
        query parameters (timeout, use_move, ca_file, batch_size, proxy) and keyword overrides
        set the remaining fields; user and password are percent-decoded.
        """
        settings, query = login_from_url(url, "IMAP", "imaps")
        known = {f.name for f in fields(cls)}
        for key, value in parse_qsl(query):
            if key not in known or key in ("host", "port", "username", "password", "oauth2_source"):
                raise ConfigError(f"IMAP URL: unknown parameter {key!r}")
            settings[key] = _coerce(key, value)
        settings.update(overrides)
        return cls(**settings)


def _coerce(key: str, value: str) -> Any:
    try:
        if key == "timeout":
            return float(value)
        if key == "batch_size":
            return int(value)
    except ValueError:
        raise ConfigError(f"IMAP URL: {key}={value!r} is not a number") from None
    if key == "use_move":
        if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigError(f"IMAP URL: use_move={value!r} is not true or false")
        return value.lower() in ("1", "true", "yes")
    return value
