"""`ImapConfig`: how to reach and log in to one IMAP account, and its `imaps://` URLs."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from mailcore.errors import ConfigError
from mailcore.mailboxes.proxy import parse_proxy

SECURITIES = ("tls", "starttls", "plain")


@dataclass
class ImapConfig:
    """How to reach and log in to one IMAP account."""

    host: str
    port: int | None = None
    security: str = "tls"  # "tls" | "starttls" | "plain"
    username: str = ""
    password: str | None = field(default=None, repr=False)
    oauth2_token: str | None = field(default=None, repr=False)
    proxy: str | None = None  # "http://host:port" or "socks5://host:port"
    timeout: float = 30.0
    use_move: bool = True
    ca_file: str | None = None
    batch_size: int = 500

    def __post_init__(self) -> None:
        if self.security not in SECURITIES:
            raise ConfigError(
                f"IMAP security {self.security!r} is not one of {', '.join(SECURITIES)}"
            )
        if not self.host:
            raise ConfigError("IMAP host is empty")
        if self.batch_size < 1:
            raise ConfigError(f"IMAP batch_size must be at least 1, not {self.batch_size}")
        if self.proxy:
            parse_proxy(self.proxy)  # fail at configuration time, not at the first poll
        for name in ("username", "password", "oauth2_token"):
            value = getattr(self, name)
            if value and any(c in value for c in "\r\n\x00"):  # the value itself is secret
                raise ConfigError(
                    f"IMAP {name} holds a line break or NUL character, which cannot be sent "
                    "to the server -- check the setting"
                )

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
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("imap", "imaps"):
            raise ConfigError(f"IMAP URL must start with imaps:// or imap://, not {scheme!r}://")
        try:
            port = parts.port
        except ValueError as e:
            raise ConfigError(f"IMAP URL has a bad port: {e}") from None
        settings: dict[str, Any] = {
            "host": parts.hostname or "",
            "port": port,
            "security": "tls" if scheme == "imaps" else "starttls",
            "username": unquote(parts.username) if parts.username else "",
            "password": unquote(parts.password) if parts.password is not None else None,
        }
        known = {f.name for f in fields(cls)}
        for key, value in parse_qsl(parts.query):
            if key not in known or key in ("host", "port", "username", "password"):
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
