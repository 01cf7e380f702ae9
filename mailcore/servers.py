"""What a mail server connection needs, whatever the protocol: `ServerLogin` (host, port,
security, credentials) and `login_from_url`, the part of an `imaps://` or `smtps://` URL they
share. `ImapConfig` (mailboxes) and `SmtpConfig` (outbound) extend it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from mailcore.errors import ConfigError

SECURITIES = ("tls", "starttls", "plain")


@dataclass
class ServerLogin:
    """Where a server is and how to log in to it; `protocol` names it in error messages."""

    host: str
    port: int | None = None
    security: str = "tls"  # "tls" | "starttls" | "plain"
    username: str = ""
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ca_file: str | None = None  # trust this CA (e.g. a self-signed server) instead of the system's

    protocol = "server"  # a class attribute, not a field

    def __post_init__(self) -> None:
        if self.security not in SECURITIES:
            raise ConfigError(
                f"{self.protocol} security {self.security!r} is not one of {', '.join(SECURITIES)}"
            )
        if not self.host:
            raise ConfigError(f"{self.protocol} host is empty")
        for name, value in self.secrets().items():
            if value and any(c in value for c in "\r\n\x00"):  # the value itself is secret
                raise ConfigError(
                    f"{self.protocol} {name} holds a line break or NUL character, which cannot"
                    " be sent to the server -- check the setting"
                )

    def secrets(self) -> dict[str, str | None]:
        """The values that go to the server in the login, checked for line breaks."""
        return {"username": self.username, "password": self.password}


def login_from_url(url: str, protocol: str, tls_scheme: str) -> tuple[dict[str, Any], str]:
    """host, port, security, username and password of `url` (`tls_scheme` means TLS from the
    start, the other scheme STARTTLS), and its query string; user and password are
    percent-decoded."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    plain_scheme = tls_scheme.removesuffix("s")
    if scheme not in (plain_scheme, tls_scheme):
        raise ConfigError(
            f"{protocol} URL must start with {tls_scheme}:// or {plain_scheme}://, not {url!r}"
        )
    try:
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"{protocol} URL has a bad port: {e}") from None
    login: dict[str, Any] = {
        "host": parts.hostname or "",
        "port": port,
        "security": "tls" if scheme == tls_scheme else "starttls",
        "username": unquote(parts.username) if parts.username else "",
        "password": unquote(parts.password) if parts.password is not None else None,
    }
    return login, parts.query
