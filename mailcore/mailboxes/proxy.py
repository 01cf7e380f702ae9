"""TCP connections through an HTTP CONNECT or SOCKS5 proxy, and an IMAP client that uses them.

One setting, `proxy = "http://host:port"` (or `socks5://`, `socks5h://` to let the proxy resolve
names, credentials as `user:pass@`), sends the whole IMAP session through a tunnel. For IMAPS and
STARTTLS the TLS session runs inside the tunnel and the certificate is still checked against the
IMAP server's host name, so the proxy sees only ciphertext.

python-socks is imported only when a SOCKS proxy is used: `mailcore ingest` starts once per
mail and most configurations have no proxy.
"""

from __future__ import annotations

import base64
import imaplib
import logging
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import unquote, urlsplit, urlunsplit

from imapclient import IMAPClient

from mailcore.errors import ConfigError, ConnectionLost, MailboxError

if TYPE_CHECKING:
    from python_socks.sync import Proxy

log = logging.getLogger(__name__)

# The IMAP connection's read buffer: imaplib's default 8 KB costs a recv per 8 KB of a FETCH,
# a good part of the CPU of reading 500 bodies; 128 KB takes a dozen times fewer.
_READ_BUFFER = 128 * 1024


class ProxyKind(StrEnum):
    """The protocols a proxy URL can name (python-socks's ProxyType, by name)."""

    HTTP = "HTTP"
    SOCKS5 = "SOCKS5"
    SOCKS4 = "SOCKS4"


_SCHEMES = {
    "http": (ProxyKind.HTTP, None),
    "socks5": (ProxyKind.SOCKS5, False),  # names resolved here, the proxy gets an IP
    "socks5h": (ProxyKind.SOCKS5, True),  # the proxy resolves names (e.g. internal DNS)
    "socks4": (ProxyKind.SOCKS4, False),
}


@dataclass(frozen=True)
class ProxySpec:
    """A parsed proxy URL."""

    type: ProxyKind
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    rdns: bool | None = None
    url: str = ""  # for messages, credentials removed

    def proxy(self) -> Proxy:
        """The python-socks connector for this proxy."""
        from python_socks import ProxyType
        from python_socks.sync import Proxy

        return Proxy(
            ProxyType[self.type.value],
            self.host,
            self.port,
            self.username or None,
            self.password or None,
            self.rdns,
        )


def redact(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def parse_proxy(url: str) -> ProxySpec:
    """Parse `http://host:port`, `socks5://user:pass@host:port`, ...; ConfigError when malformed."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigError(
            f"proxy {redact(url)!r}: unsupported scheme {scheme!r} "
            "-- use http://host:port, socks5://host:port or socks5h://host:port"
        )
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError(
            f"proxy {redact(url)!r}: give both a host and a port, e.g. http://proxy:3128"
        )
    proxy_type, rdns = _SCHEMES[scheme]

    return ProxySpec(
        type=proxy_type,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        rdns=rdns,
        url=redact(url),
    )


def open_connection(
    host: str, port: int, *, proxy: str | ProxySpec | None = None, timeout: float | None = None
) -> socket.socket:
    """A connected TCP socket to host:port, through `proxy` when given.

    An unreachable proxy raises ConnectionLost, a refusal by the proxy MailboxError, both
    naming the proxy (never its password); socket errors of a direct connection propagate as
    OSError for the caller to classify.
    """
    if proxy is None:
        return socket.create_connection((host, port), timeout=timeout)
    spec = parse_proxy(proxy) if isinstance(proxy, str) else proxy
    where = f"{host}:{port} through proxy {spec.url}"
    if spec.type == ProxyKind.HTTP:
        return _http_connect(spec, host, port, timeout, where)
    from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

    try:
        sock = spec.proxy().connect(host, port, timeout=timeout)
    except ProxyTimeoutError as e:
        raise ConnectionLost(
            f"cannot connect to {where}: timed out -- is the proxy reachable?"
        ) from e
    except ProxyConnectionError as e:
        raise ConnectionLost(
            f"cannot connect to {where}: {e} -- check the proxy host and port"
        ) from e
    except ProxyError as e:
        raise MailboxError(
            f"cannot connect to {where}: the proxy refused ({e}) "
            "-- check that it allows tunnels to this host and port"
        ) from e
    log.debug("tunnel to %s:%s open through %s", host, port, spec.url)
    return sock


def _http_connect(
    spec: ProxySpec, host: str, port: int, timeout: float | None, where: str
) -> socket.socket:
    """Open an HTTP CONNECT tunnel, consuming exactly the proxy's answer.

    python-socks reads the answer with one recv(), which can swallow the first bytes the
    server sends through the tunnel -- fatal for IMAP, whose server speaks first. Here the
    header is peeked at and only its own bytes are consumed.
    """
    try:
        sock = socket.create_connection((spec.host, spec.port), timeout=timeout)
    except TimeoutError as e:
        raise ConnectionLost(
            f"cannot connect to {where}: timed out -- is the proxy reachable?"
        ) from e
    except OSError as e:
        raise ConnectionLost(
            f"cannot connect to {where}: {e.strerror or e} -- check the proxy host and port"
        ) from e
    try:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
        if spec.username is not None:
            token = base64.b64encode(f"{spec.username}:{spec.password or ''}".encode()).decode()
            request.append(f"Proxy-Authorization: Basic {token}")
        sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode("ascii"))
        head = _read_http_head(sock)
    except OSError as e:
        sock.close()
        raise ConnectionLost(
            f"cannot connect to {where}: the proxy dropped the tunnel ({e})"
        ) from e
    except BaseException:
        sock.close()
        raise
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or parts[1] != "200":
        sock.close()
        raise MailboxError(
            f"cannot connect to {where}: the proxy refused ({status.strip() or 'no answer'}) "
            "-- check that it allows tunnels to this host and port"
        )
    log.debug("tunnel to %s:%s open through %s", host, port, spec.url)
    return sock


def _read_http_head(sock: socket.socket, limit: int = 16384) -> bytes:
    """Read up to and including the blank line ending an HTTP response head, not a byte more."""
    head = b""
    while b"\r\n\r\n" not in head:
        peek = sock.recv(4096, socket.MSG_PEEK)
        if not peek:
            raise ConnectionResetError("the proxy closed the connection")
        end = (head + peek).find(b"\r\n\r\n")
        want = end + 4 - len(head) if end >= 0 else len(peek)
        while want > 0:
            chunk = sock.recv(want)
            if not chunk:
                raise ConnectionResetError("the proxy closed the connection")
            head += chunk
            want -= len(chunk)
        if len(head) > limit:
            raise ConnectionResetError("the proxy's answer is too long")
    return head


class TunnelIMAP4(imaplib.IMAP4):
    """imaplib.IMAP4 whose socket is opened by `open_connection` (direct or through a proxy),
    wrapped in TLS for the IMAP server's host name when `ssl_context` is given (IMAPS)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        proxy: str | ProxySpec | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float | None = None,
    ) -> None:
        self._proxy = proxy
        self._tls_context = ssl_context
        self._connect_timeout = timeout
        super().__init__(host, port, timeout)

    def open(self, host: str = "", port: int = 143, timeout: float | None = None) -> None:
        """imaplib's `open` with a larger read buffer (`_READ_BUFFER`), made before anything is
        read. Python 3.14's imaplib buffers reads itself (its `file` is then a property); a
        STARTTLS upgrade goes back to imaplib's own buffer."""
        super().open(host, port, timeout)
        if not isinstance(getattr(type(self), "file", None), property):
            default = self.file
            self.file = cast(IO[bytes], self.sock.makefile("rb", buffering=_READ_BUFFER))
            default.close()  # the socket stays open: it counts its files

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = open_connection(
            self.host,
            self.port,
            proxy=self._proxy,
            timeout=timeout if timeout is not None else self._connect_timeout,
        )
        if self._tls_context is None:
            return sock
        try:
            return self._tls_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class ProxyIMAPClient(IMAPClient):
    """IMAPClient whose connection goes through `proxy` (or straight when None).

    Same arguments as IMAPClient plus `proxy`; `ssl=True` means IMAPS (TLS from the first
    byte), and `starttls()` works unchanged since imaplib upgrades the tunnelled socket.
    """

    def __init__(self, host: str, port: int, *, proxy: str | ProxySpec | None = None, **kw: Any):
        self._proxy_spec = parse_proxy(proxy) if isinstance(proxy, str) else proxy
        super().__init__(host, port, **kw)

    def _create_IMAP4(self) -> imaplib.IMAP4:  # noqa: N802 -- imapclient's hook name
        connect_timeout = getattr(self._timeout, "connect", None)
        context = None
        if self.ssl:
            context = self.ssl_context or ssl.create_default_context()
        return TunnelIMAP4(
            self.host,
            self.port,
            proxy=self._proxy_spec,
            ssl_context=context,
            timeout=connect_timeout,
        )
