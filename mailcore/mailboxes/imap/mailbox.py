"""`ImapMailbox`: the Mailbox interface on a real IMAP server, through imapclient.

Always UID commands; bodies are fetched with BODY.PEEK (never sets \\Seen) and only when asked;
summaries come from a few header fields, RFC822.SIZE, FLAGS and INTERNALDATE. Moves use UID
MOVE when offered, else UID COPY, confirm the copy (COPYUID, else the Message-ID in the
destination), flag the source \\Deleted and UID EXPUNGE exactly those UIDs -- never a bare
EXPUNGE, so other clients' \\Deleted mail is left alone; without UIDPLUS nothing is expunged.

Connections are TLS with certificate verification by default (STARTTLS or plain only when
configured), optionally through an HTTP CONNECT or SOCKS5 proxy. A dropped connection is
re-opened with exponential backoff and the operation retried when that is safe: reads always;
moves and appends after re-checking what the server already did. One lock serialises the public
operations, so the engine and the console can share an instance.

Caller-controlled strings never become command text: a search value or Message-ID goes through
`_imap_string` (a quoted string when it is printable ASCII, else a literal, with CHARSET UTF-8
when it is not ASCII), a folder name through `_folder_name` and a flag through `_flag`; what
no IMAP string can carry (NUL, a lone surrogate, more than `MAX_IMAP_STRING` bytes, a control
character in a folder name) raises `UnsendableValue` before anything is sent, and is never
retried. A search for such a value matches nothing, as no stored header can hold it.

UIDVALIDITY: the value first seen for a folder (or last returned by `uidvalidity()`) is
remembered; when the server's differs, the next operation given UIDs (summaries, fetch, move)
raises `UidValidityChanged` once, and `uidvalidity()` returns the new value.
"""

from __future__ import annotations

import functools
import imaplib
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, LoginError
from imapclient.imapclient import _literal
from imapclient.response_parser import parse_message_list

from mailcore.errors import (
    ConfigError,
    ConnectionLost,
    MailboxError,
    UidValidityChanged,
    UnsendableValue,
)
from mailcore.inbound import headers
from mailcore.mailboxes.protocol import MAX_SEARCH_VALUE, MoveResult, Summary, searchable
from mailcore.mailboxes.proxy import ProxyIMAPClient, ProxySpec, parse_proxy

log = logging.getLogger(__name__)

T = TypeVar("T")

SECURITIES = ("tls", "starttls", "plain")
DELETED = b"\\Deleted"
_HEADER_FIELDS = b"BODY[HEADER.FIELDS (DATE FROM SUBJECT MESSAGE-ID)]"
_SUMMARY_ITEMS = [
    "FLAGS",
    "INTERNALDATE",
    "RFC822.SIZE",
    "BODY.PEEK[HEADER.FIELDS (DATE FROM SUBJECT MESSAGE-ID)]",
]
_MID_ITEM = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
_MID_KEY = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
_COPYUID = re.compile(rb"\[COPYUID (\d+) ([0-9:,]+) ([0-9:,]+)\]", re.IGNORECASE)
_ESEARCH_ALL = re.compile(rb"\bALL ([0-9:,]+)", re.IGNORECASE)
_FETCH_BODY = re.compile(rb"\d+ \(UID (\d+) BODY\[\] \{\d+\}$", re.IGNORECASE)
_FETCH_SIZE = re.compile(
    rb"\d+ \((?:UID (\d+) RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+) UID (\d+))\)", re.IGNORECASE
)
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)
# Search values and folder names longer than this are refused (a search for one matches
# nothing): far above any real header or folder name, far below what a server takes in a line.
MAX_IMAP_STRING = MAX_SEARCH_VALUE
# RFC 3501 ATOM-CHAR; a flag is an atom, optionally after one backslash (system flags).
_ATOM_CHAR = r"[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]"
_ATOM = re.compile(f"{_ATOM_CHAR}+")
_FLAG = re.compile(rf"\\?{_ATOM_CHAR}+")
# Our own search keys and UID sets, never a caller's text.
_SEARCH_ATOM = re.compile(rb"[A-Za-z0-9:,*.()-]+")


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


# Errors after which the connection is unusable but the server may well answer again.
_DROPPED: tuple[type[BaseException], ...] = (
    imaplib.IMAP4.abort,
    ConnectionError,
    TimeoutError,
    socket.timeout,
    BrokenPipeError,
    EOFError,
)


def _is_drop(e: BaseException) -> bool:
    if isinstance(e, ssl.SSLCertVerificationError):
        return False
    if isinstance(e, _DROPPED):
        return True
    # A TLS record torn mid-stream is a drop; a failed handshake is a configuration problem
    # and is reported by _connect_error instead.
    return (isinstance(e, ssl.SSLError) and "EOF" in str(e)) or type(e) is OSError


class _Retry(Exception):
    """Internal: the connection dropped; reconnect and run again."""


@dataclass
class _BatchState:
    """What a move of one batch has done so far, so a retry can pick up safely."""

    uids: list[int]
    dest_uidnext: int | None = None  # destination UIDNEXT before anything was copied
    sent: bool = False  # MOVE/COPY may have reached the server
    message_ids: dict[int, str | None] = field(default_factory=dict)
    moved: dict[int, int | None] = field(default_factory=dict)


class ImapMailbox:
    """The Mailbox interface on an IMAP account (see the module docstring)."""

    def __init__(
        self,
        config: ImapConfig,
        *,
        retries: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
    ) -> None:
        self.config = config
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._lock = threading.RLock()
        self._client: IMAPClient | None = None
        self._selected: str | None = None
        self._current: dict[str, int] = {}  # UIDVALIDITY the server reported at the last SELECT
        self._known: dict[str, int] = {}  # UIDVALIDITY the caller's UIDs belong to
        self._capabilities: frozenset[str] = frozenset()
        self._watch_lock = threading.Lock()
        self._watcher: ImapMailbox | None = None  # the IDLE connection, see wait_for_changes

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> ImapMailbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<ImapMailbox {self.config.username}@{self.config.address}>"

    def connect(self) -> None:
        """Connect and log in now (otherwise the first operation does)."""
        self._run("connect", lambda c: None)

    def close(self) -> None:
        """Log out and close the connection; safe to call twice (a later operation reconnects)."""
        with self._watch_lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.close()
        with self._lock:
            client, self._client, self._selected = self._client, None, None
            if client is None:
                return
            try:
                client.logout()
            except Exception as e:  # already gone: just release the socket
                log.debug("logout from %s failed (%s); closing the socket", self.config.address, e)
                try:
                    client.shutdown()
                except Exception:
                    log.debug("socket shutdown failed", exc_info=True)

    @property
    def capabilities(self) -> frozenset[str]:
        """Capabilities the server advertised after login (upper case), empty before."""
        return self._capabilities

    def _connection(self) -> IMAPClient:
        if self._client is None:
            self._client = self._open()
        return self._client

    def _open(self) -> IMAPClient:
        cfg = self.config
        try:
            context = ssl.create_default_context(cafile=cfg.ca_file)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(
                f"IMAP ca_file {cfg.ca_file!r} cannot be used ({e}) -- give a PEM file "
                "holding the certificate of the CA that signed the server's certificate"
            ) from e
        if cfg.security == "plain" and not _is_loopback(cfg.host):
            log.warning(
                "%s: security=plain sends the password unencrypted; use tls or starttls",
                cfg.address,
            )
        proxy: ProxySpec | None = parse_proxy(cfg.proxy) if cfg.proxy else None
        client: IMAPClient | None = None
        try:
            client = ProxyIMAPClient(
                cfg.host,
                cfg.effective_port,
                proxy=proxy,
                ssl=cfg.security == "tls",
                ssl_context=context,
                timeout=cfg.timeout,
            )
            if cfg.security == "starttls":
                client.starttls(context)
            self._login(client)
            client.normalise_times = False  # keep INTERNALDATE's time zone
            self._capabilities = frozenset(
                (c.decode() if isinstance(c, bytes) else str(c)).upper()
                for c in client.capabilities()
            )
            if "QRESYNC" in self._capabilities:
                # Expunges then come back as one VANISHED range instead of an EXPUNGE line
                # per message (a batch move of 500 answers 500 lines otherwise).
                client.enable("QRESYNC")
        except BaseException as e:
            if client is not None:
                try:
                    client.shutdown()
                except Exception:
                    log.debug("shutdown after failed connect", exc_info=True)
            if isinstance(e, ConnectionLost):  # e.g. the proxy is unreachable: may come back
                raise _Retry(str(e)) from e
            if isinstance(e, MailboxError | KeyboardInterrupt | SystemExit):
                raise
            if isinstance(e, Exception) and _is_drop(e):
                raise _Retry(self._connect_error(e)) from e
            raise self._connect_error(e) from e
        via = f" through {proxy.url}" if proxy else ""
        log.info("connected to %s as %s (%s%s)", cfg.address, cfg.username, cfg.security, via)
        return client

    def _login(self, client: IMAPClient) -> None:
        cfg = self.config
        try:
            if cfg.oauth2_token:
                client.oauth2_login(cfg.username, cfg.oauth2_token)
            elif cfg.password is not None:
                # imaplib quotes the password but sends the user name as it is
                client.login(_login_name(cfg.username), cfg.password)
            else:
                raise MailboxError(
                    f"no password or OAuth2 token configured for {cfg.username!r} on {cfg.address}"
                )
        except LoginError as e:
            how = "OAuth2 token" if cfg.oauth2_token else "password"
            raise MailboxError(
                f"{cfg.address} refused the login of {cfg.username!r}: {_text(e)} "
                f"-- check the user name and {how}"
            ) from None  # the server's echo of the command may hold the secret
        except imaplib.IMAP4.error as e:
            if isinstance(e, imaplib.IMAP4.abort):
                raise
            raise MailboxError(
                f"{cfg.address} refused the login of {cfg.username!r}: {_text(e)}"
            ) from None

    def _connect_error(self, e: BaseException) -> MailboxError:
        cfg = self.config
        where = f"cannot connect to {cfg.address}"
        if isinstance(e, ssl.SSLCertVerificationError):
            reason = e.verify_message or str(e)
            if "mismatch" in reason or "not valid for" in reason:
                hint = "check the host name (it must match the server certificate)"
                reason = f"certificate verify failed (hostname mismatch: {reason})"
            else:
                hint = "check the host name, or set ca_file to the CA that signed its certificate"
                reason = f"certificate verify failed ({reason})"
            return MailboxError(f"{where}: {reason} -- {hint}")
        if isinstance(e, ssl.SSLError):
            return MailboxError(
                f"{where}: TLS handshake failed ({e.reason or e}) -- is port {cfg.effective_port} "
                f"{'IMAPS' if cfg.security == 'tls' else 'IMAP with STARTTLS'}? "
                "(security=tls is usually port 993, starttls port 143)"
            )
        if isinstance(e, CapabilityError):
            return MailboxError(
                f"{where}: the server does not offer STARTTLS -- use security=tls (port 993), "
                "or security=plain only on a trusted network"
            )
        if isinstance(e, socket.gaierror):
            return ConnectionLost(f"{where}: unknown host ({e.strerror}) -- check the host name")
        if isinstance(e, ConnectionRefusedError):
            return ConnectionLost(
                f"{where}: connection refused -- check the port and that the server is running"
            )
        if isinstance(e, TimeoutError | socket.timeout):
            return ConnectionLost(
                f"{where}: timed out after {cfg.timeout:g}s -- check the host, port and firewall"
            )
        if isinstance(e, OSError | imaplib.IMAP4.abort):
            return ConnectionLost(f"{where}: {_text(e)}")
        return MailboxError(f"{where}: {_text(e)}")

    def _drop(self) -> None:
        client, self._client, self._selected = self._client, None, None
        if client is not None:
            try:
                client.shutdown()
            except Exception:
                log.debug("shutdown of a dropped connection failed", exc_info=True)

    def _run(self, what: str, op: Callable[[IMAPClient], T]) -> T:
        """Run `op` under the lock, reconnecting with exponential backoff when the connection
        drops. `op` must be safe to run again (it re-checks state if it changes anything)."""
        with self._lock:
            attempt = 0
            while True:
                try:
                    client = self._connection()
                    # imaplib keeps unclaimed untagged responses (EXPUNGE, EXISTS...) forever
                    client._imap.untagged_responses.clear()
                    return op(client)
                except _Retry as e:
                    self._drop()
                    problem: BaseException = e
                except MailboxError:
                    raise
                except imaplib.IMAP4.abort as e:  # includes BYE and torn connections
                    self._drop()
                    problem = e
                except imaplib.IMAP4.error as e:
                    raise MailboxError(f"{what} on {self.config.address} failed: {_text(e)}") from e
                except Exception as e:
                    if not _is_drop(e):
                        raise
                    self._drop()
                    problem = e
                if attempt >= self.retries:
                    raise ConnectionLost(
                        f"{what}: connection to {self.config.address} lost ({_text(problem)}); "
                        f"gave up after {attempt + 1} attempts -- is the server up?"
                    ) from problem
                delay = min(self.max_backoff, self.backoff * 2**attempt)
                attempt += 1
                log.warning(
                    "%s: connection to %s lost (%s); reconnecting in %.2gs (attempt %d of %d)",
                    what,
                    self.config.address,
                    _text(problem),
                    delay,
                    attempt,
                    self.retries,
                )
                time.sleep(delay)

    # -- folders ------------------------------------------------------------------------------

    def _select(
        self, client: IMAPClient, folder: str, *, uids_from_caller: bool, sync: bool = False
    ) -> bool:
        """Select `folder` (if not already); False when it does not exist.

        With `uids_from_caller`, raise UidValidityChanged when the folder was renumbered since
        the caller got its UIDs. With `sync`, a folder already selected is brought up to date
        (NOOP): servers such as Dovecot do not show a SEARCH the mail that arrived since.
        """
        if self._selected == folder and sync:
            client.noop()
        if self._selected != folder:
            self._selected = None
            try:
                response = client.select_folder(folder)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as e:
                if b"NONEXISTENT" in _bytes(e) or not _folder_exists(client, folder):
                    return False
                raise
            self._selected = folder
            validity = int(response[b"UIDVALIDITY"])
            self._current[folder] = validity
            self._known.setdefault(folder, validity)
        if uids_from_caller and self._current[folder] != self._known[folder]:
            old, new = self._known[folder], self._current[folder]
            self._known[folder] = new
            raise UidValidityChanged(
                f"folder {folder!r} on {self.config.address} was renumbered (UIDVALIDITY "
                f"{old} -> {new}): UIDs listed before are void -- list the folder again"
            )
        return True

    def _ensure(self, client: IMAPClient, folder: str) -> None:
        if folder.upper() == "INBOX" or _folder_exists(client, folder):
            return
        try:
            client.create_folder(folder)
            log.info("created folder %r on %s", folder, self.config.address)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as e:
            if not _folder_exists(client, folder):  # someone else may just have created it
                raise MailboxError(
                    f"cannot create folder {folder!r} on {self.config.address}: {_text(e)}"
                ) from e

    def ensure_folder(self, folder: str) -> None:
        """Create the folder if it does not exist."""
        _folder_name(folder)
        self._run(f"create folder {folder!r}", lambda c: self._ensure(c, folder))

    def uidvalidity(self, folder: str) -> int:
        """The folder's UIDVALIDITY; it changes when UIDs are renumbered."""
        _folder_name(folder)

        def op(client: IMAPClient) -> int:
            if self._selected == folder:
                value = self._current[folder]
            else:
                try:
                    status = client.folder_status(folder, ["UIDVALIDITY"])
                except imaplib.IMAP4.abort:
                    raise
                except imaplib.IMAP4.error as e:
                    raise MailboxError(
                        f"no folder {folder!r} on {self.config.address}: {_text(e)}"
                    ) from e
                value = int(status[b"UIDVALIDITY"])
            self._known[folder] = value
            return value

        return self._run(f"uidvalidity of {folder!r}", op)

    def refresh(self, folder: str) -> None:
        """Bring the session's view of `folder` up to date (uids() already does this)."""
        _folder_name(folder)
        self._run(
            f"refresh {folder!r}",
            lambda c: self._select(c, folder, uids_from_caller=False, sync=True),
        )

    # -- reading ------------------------------------------------------------------------------

    def uids(self, folder: str) -> list[int]:
        """UIDs of messages not flagged \\Deleted, ascending ([] when the folder is missing)."""
        _folder_name(folder)

        def op(client: IMAPClient) -> list[int]:
            if not self._select(client, folder, uids_from_caller=False, sync=True):
                return []
            return sorted(self._search(client, b"UNDELETED"))

        return self._run(f"list {folder!r}", op)

    def search_from(self, folder: str, sender: str) -> list[int]:
        """UIDs (ascending, not \\Deleted) whose From contains `sender` (server-side search,
        case-insensitive); a `sender` no IMAP string can carry matches nothing."""
        return self._search_for(folder, b"FROM", sender, "sender filter")

    def find(self, folder: str, message_id: str) -> list[int]:
        """UIDs (ascending, not \\Deleted) whose Message-ID header contains `message_id`
        (UID SEARCH HEADER): candidates only, compare their bytes before relying on one."""
        needle = message_id.strip()
        if not needle:
            return []
        return self._search_for(folder, b"HEADER Message-ID", needle, "Message-ID")

    def _search_for(self, folder: str, key: bytes, value: str, what: str) -> list[int]:
        _folder_name(folder)
        if not searchable(value):  # no header the server stores can hold it: "none"
            log.info("search of %r for an unsendable %s matches nothing", folder, what)
            return []
        wire = _imap_string(value, what)

        def op(client: IMAPClient) -> list[int]:
            if not self._select(client, folder, uids_from_caller=False, sync=True):
                return []
            return sorted(self._search(client, b"UNDELETED", *key.split(), wire))

        return self._run(f"search {folder!r}", op)

    def discard(self, folder: str, uids: Sequence[int]) -> None:
        """Flag these UIDs \\Deleted and UID EXPUNGE exactly them (with UIDPLUS; without it they
        stay flagged, hidden from `uids`). Only for messages whose copy is confirmed elsewhere."""
        _folder_name(folder)
        wanted = _unique(uids)
        if not wanted:
            return

        def op(client: IMAPClient) -> None:
            if self._select(client, folder, uids_from_caller=True):
                self._remove(client, folder, wanted)

        self._run(f"remove from {folder!r}", op)

    def summaries(self, folder: str, uids: Sequence[int]) -> list[Summary]:
        """Summaries for these UIDs (missing UIDs are skipped), in the order given; no bodies."""
        _folder_name(folder)
        wanted = _unique(uids)
        if not wanted:
            return []

        def op(client: IMAPClient) -> list[Summary]:
            if not self._select(client, folder, uids_from_caller=True):
                return []
            found: dict[int, Summary] = {}
            for batch in _chunks(wanted, self.config.batch_size):
                for uid, data in client.fetch(batch, _SUMMARY_ITEMS).items():
                    found[int(uid)] = _summary(int(uid), data)
            return [found[u] for u in wanted if u in found]

        return self._run(f"list {folder!r}", op)

    def sizes(self, folder: str, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE by UID, nothing downloaded; missing UIDs are absent from the result."""
        _folder_name(folder)
        wanted = _unique(uids)
        if not wanted:
            return {}

        def op(client: IMAPClient) -> dict[int, int]:
            if not self._select(client, folder, uids_from_caller=True):
                return {}
            out: dict[int, int] = {}
            for batch in _chunks(wanted, self.config.batch_size):
                out.update(_fetch_sizes(client, batch))
                rest = [u for u in batch if u not in out]  # another shape: imapclient's turn
                for uid, data in client.fetch(rest, [b"RFC822.SIZE"]).items() if rest else ():
                    size = data.get(b"RFC822.SIZE")
                    if isinstance(size, int):
                        out[int(uid)] = size
            return out

        return self._run(f"sizes in {folder!r}", op)

    def fetch(self, folder: str, uids: Sequence[int]) -> dict[int, bytes]:
        """Raw bytes by UID, without setting \\Seen; missing UIDs are absent from the result."""
        _folder_name(folder)
        wanted = _unique(uids)
        if not wanted:
            return {}

        def op(client: IMAPClient) -> dict[int, bytes]:
            if not self._select(client, folder, uids_from_caller=True):
                return {}
            out: dict[int, bytes] = {}
            for batch in _chunks(wanted, self.config.batch_size):
                found, odd = _fetch_bodies(client, batch)
                out.update(found)
                # A response of a shape the quick reader does not know: imapclient's turn.
                rest = [u for u in batch if u not in out] if odd else []
                for uid, data in client.fetch(rest, ["BODY.PEEK[]"]).items() if rest else ():
                    body = data.get(b"BODY[]")
                    if body is not None:
                        out[int(uid)] = bytes(body)
            return out

        return self._run(f"fetch from {folder!r}", op)

    def wait_for_changes(
        self, folder: str, timeout: float, *, pending: Callable[[], bool] | None = None
    ) -> bool:
        """Block until new mail arrives in `folder` or `timeout` seconds pass; True if it did.

        IMAP IDLE on a connection of its own (opened on first use, same settings, reconnected
        like the main one), so this mailbox's other operations go on meanwhile. `pending()`,
        if given, is asked once IDLE runs, so mail that came between the caller's last look and
        the start of IDLE is not left waiting for the timeout. Keep `timeout` under the 29
        minutes after which servers may end an IDLE. Without IDLE on the server this just
        sleeps for `timeout` and returns True (poll anyway).
        """
        _folder_name(folder)
        with self._watch_lock:
            if self._watcher is None:
                self._watcher = ImapMailbox(
                    self.config,
                    retries=self.retries,
                    backoff=self.backoff,
                    max_backoff=self.max_backoff,
                )
            watcher = self._watcher

        def op(client: IMAPClient) -> bool:
            if "IDLE" not in watcher._capabilities:
                time.sleep(max(0.0, timeout))
                return True
            watcher._selected = None  # the IDLE session selects the folder itself
            client.select_folder(folder, readonly=True)
            client.idle()
            try:
                if pending is not None and pending():
                    return True
                deadline = time.monotonic() + timeout
                while (left := deadline - time.monotonic()) > 0:
                    # Only EXISTS means new mail; "OK Still here" and flag changes do not.
                    for response in client.idle_check(timeout=left):
                        if len(response) > 1 and response[1] == b"EXISTS":
                            return True
                return False
            finally:
                client.idle_done()

        return watcher._run(f"wait for mail in {folder!r}", op)

    # -- writing ------------------------------------------------------------------------------

    def append(self, folder: str, raw: bytes, flags: Sequence[str] = ()) -> int | None:
        """Store a message (creating the folder); returns its UID from APPENDUID, if sent.

        A retry after a dropped connection first looks for the message (by Message-ID) among
        those that arrived since, so a message is never stored twice; a message without a
        Message-ID is not retried.
        """
        _folder_name(folder)
        flags = tuple(_flag(f) for f in flags)
        message_id = headers.message_id(raw)
        state: dict[str, Any] = {"uidnext": None, "sent": False}

        def op(client: IMAPClient) -> int | None:
            self._ensure(client, folder)
            if state["sent"]:
                if message_id is None:
                    raise ConnectionLost(
                        f"append to {folder!r} on {self.config.address}: the connection dropped "
                        "while storing a message without Message-ID; it may or may not be there"
                    )
                found = self._find_new(client, folder, state["uidnext"], [message_id])
                if message_id in found:
                    return found[message_id]
            if state["uidnext"] is None:
                state["uidnext"] = _status_uidnext(client, folder)
            state["sent"] = True
            response = client.append(folder, raw, flags=flags)
            match = _APPENDUID.search(_bytes(response))
            return int(match.group(2)) if match and "UIDPLUS" in self._capabilities else None

        return self._run(f"append to {folder!r}", op)

    def move(self, folder: str, uids: Sequence[int], dest: str) -> MoveResult:
        """Move UIDs to `dest` (created if missing), in batches; the source copy goes only once
        the destination copy is confirmed. UIDs missing or already \\Deleted are skipped."""
        _folder_name(folder)
        _folder_name(dest)
        wanted = _unique(uids)
        if not wanted:
            return MoveResult()
        moved: dict[int, int | None] = {}
        with self._lock:
            self._run(f"create folder {dest!r}", lambda c: self._ensure(c, dest))
            if dest == folder:
                present = set(self.uids(folder))
                return MoveResult({u: u for u in wanted if u in present})
            for batch in _chunks(wanted, self.config.batch_size):
                state = _BatchState(batch)
                self._run(
                    f"move from {folder!r} to {dest!r}",
                    functools.partial(self._move_batch, folder=folder, dest=dest, st=state),
                )
                moved.update(state.moved)
        return MoveResult(moved)

    def _move_batch(self, client: IMAPClient, folder: str, dest: str, st: _BatchState) -> None:
        if not self._select(client, folder, uids_from_caller=True):
            return
        if not st.sent:
            if self._atomic_move():
                # UID MOVE reports every new UID (COPYUID), so the Message-IDs -- needed only
                # to recognise copies -- are fetched on a retry, from what is still here.
                live = set(self._search(client, b"UID", _uidset(st.uids).encode(), b"UNDELETED"))
                skipped = [u for u in st.uids if u not in live]
                todo = [u for u in st.uids if u in live]
            else:
                info = client.fetch(st.uids, ["FLAGS", _MID_ITEM])
                st.message_ids = {
                    int(u): headers.message_id(d.get(_MID_KEY, b"")) for u, d in info.items()
                }
                skipped = [u for u in st.uids if u in info and DELETED in info[u][b"FLAGS"]]
                todo = [u for u in st.uids if u in info and u not in skipped]
            if skipped:
                log.info("not moving %s from %r: gone or flagged \\Deleted", skipped, folder)
            st.uids = todo
            if not todo:
                return
            st.dest_uidnext = _status_uidnext(client, dest)
            st.sent = True
            self._transfer(client, folder, dest, todo, st)
            return
        # Retry after a drop: work out what the interrupted attempt already did.
        info = client.fetch(st.uids, ["FLAGS", _MID_ITEM]) if st.uids else {}
        for u, d in info.items():
            st.message_ids.setdefault(int(u), headers.message_id(d.get(_MID_KEY, b"")))
        gone = [u for u in st.uids if u not in info]
        flagged = [u for u in st.uids if u in info and DELETED in info[u][b"FLAGS"]]
        pending = [u for u in st.uids if u in info and DELETED not in info[u][b"FLAGS"]]
        mids = [m for u in st.uids if (m := st.message_ids.get(u))]
        in_dest = self._find_new(client, dest, st.dest_uidnext, mids)
        for u in gone + flagged:
            if st.moved.get(u) is None:
                st.moved[u] = in_dest.get(st.message_ids.get(u) or "")
        already = [u for u in pending if (st.message_ids.get(u) or "") in in_dest]
        for u in already:
            st.moved[u] = in_dest[st.message_ids[u] or ""]
        self._select(client, folder, uids_from_caller=True)  # _find_new selected `dest`
        if flagged or already:  # their copies are confirmed; finish removing the originals
            self._remove(client, folder, flagged + already)
        rest = [u for u in pending if u not in already]
        if rest:
            self._transfer(client, folder, dest, rest, st)

    def _transfer(
        self, client: IMAPClient, folder: str, dest: str, uids: list[int], st: _BatchState
    ) -> None:
        uidset = _uidset(uids)
        mailbox = client._normalise_folder(_folder_name(dest))
        imap = client._imap
        if self.config.use_move and "MOVE" in self._capabilities:
            imap.untagged_responses.pop("COPYUID", None)
            typ, data = imap._simple_command("UID", "MOVE", uidset, mailbox)
            codes = imap.untagged_responses.pop("COPYUID", [])
            if typ != "OK":
                raise MailboxError(
                    f"moving {len(uids)} message(s) from {folder!r} to {dest!r} on "
                    f"{self.config.address} was refused: {_text(data)}"
                )
            mapping = self._copyuid(b" ".join(b"[COPYUID " + _bytes(c) + b"]" for c in codes))
            for u in uids:
                st.moved[u] = mapping.get(u)
            if len(mapping) < len(uids):
                self._fill_from_dest(client, dest, uids, st)
            return
        typ, data = imap._simple_command("UID", "COPY", uidset, mailbox)
        if typ != "OK":
            raise MailboxError(
                f"copying {len(uids)} message(s) from {folder!r} to {dest!r} on "
                f"{self.config.address} was refused: {_text(data)}"
            )
        confirmed: dict[int, int | None] = dict(self._copyuid(b" ".join(_bytes(d) for d in data)))
        missing: list[int] = []
        if len(confirmed) < len(uids):
            # No COPYUID: confirm by Message-ID among what arrived in `dest` since.
            self._fill_from_dest(client, dest, uids, st)
            self._select(client, folder, uids_from_caller=True)  # _find_new selected `dest`
            for u in uids:
                if u in confirmed:
                    continue
                if st.moved.get(u) is not None:
                    confirmed[u] = st.moved[u]
                elif st.message_ids.get(u) is None:
                    # Nothing to recognise it by: the server's OK for COPY is all there is.
                    log.info("copy of UID %d to %r trusted on the server's OK", u, dest)
                    confirmed[u] = None
                else:
                    missing.append(u)
        st.moved.update(confirmed)
        self._remove(client, folder, [u for u in uids if u in confirmed])
        if missing:
            raise MailboxError(
                f"copy of UID(s) {_uidset(missing)} from {folder!r} to {dest!r} on "
                f"{self.config.address} could not be confirmed; those originals were left in place"
            )

    def _search(self, client: IMAPClient, *criteria: bytes | _Wire) -> list[int]:
        """UID SEARCH of our own keys (bytes) and callers' values (`_Wire`, from
        `_imap_string`: quoted or sent as literals); with ESEARCH the answer is a compact UID
        set, not one number each."""
        args: list[bytes] = []
        for item in criteria:
            if isinstance(item, _Wire):
                args.append(item.arg)
            elif _SEARCH_ATOM.fullmatch(item):
                args.append(item)
            else:  # a caller's text passed as a key: a bug here, not the caller's fault
                raise ValueError(f"search key {item!r} is not an IMAP atom")
        if not all(i.ascii for i in criteria if isinstance(i, _Wire)):
            args[:0] = [b"CHARSET", b"UTF-8"]
        esearch = "ESEARCH" in self._capabilities
        if esearch:
            args[:0] = [b"RETURN", b"(ALL)"]
        imap = client._imap
        imap.untagged_responses.pop("ESEARCH", None)
        imap.untagged_responses.pop("SEARCH", None)
        try:
            typ, data = client._raw_command(b"SEARCH", args, uid=True)
        except imaplib.IMAP4.abort as e:
            if "continuation" not in str(e):
                raise  # a dropped connection
            # The server answered a literal's {n} with NO or BAD instead of "+": sending the
            # same value again would be refused again.
            self._drop()
            raise MailboxError(f"search on {self.config.address} refused: {_text(e)}") from None
        if typ != "OK":
            raise MailboxError(f"search on {self.config.address} failed: {_text(data)}")
        if not esearch:
            lines = imap.untagged_responses.pop("SEARCH", [b""])
            return [int(u) for line in lines for u in parse_message_list([line])]
        found: list[int] = []
        for line in imap.untagged_responses.pop("ESEARCH", []):
            match = _ESEARCH_ALL.search(_bytes(line))
            if match:
                found.extend(_expand(match.group(1)))
        return found

    def _atomic_move(self) -> bool:
        """UID MOVE with COPYUID: one command moves and reports every new UID."""
        caps = self._capabilities
        return self.config.use_move and "MOVE" in caps and "UIDPLUS" in caps

    def _copyuid(self, text: bytes) -> dict[int, int]:
        # A server that does not advertise UIDPLUS makes no promise about COPYUID codes.
        return _copyuid(text) if "UIDPLUS" in self._capabilities else {}

    def _remove(self, client: IMAPClient, folder: str, uids: list[int]) -> None:
        """Flag `uids` \\Deleted and expunge exactly those (UIDPLUS), never others."""
        if not uids:
            return
        client.add_flags(uids, [DELETED], silent=True)
        if "UIDPLUS" in self._capabilities:
            client.uid_expunge(uids)
        else:
            log.warning(
                "%s has no UIDPLUS: %d moved message(s) left flagged \\Deleted in %r (expunging "
                "would also remove other clients' deleted mail)",
                self.config.address,
                len(uids),
                folder,
            )

    def _fill_from_dest(
        self, client: IMAPClient, dest: str, uids: list[int], st: _BatchState
    ) -> None:
        mids = [m for u in uids if (m := st.message_ids.get(u))]
        found = self._find_new(client, dest, st.dest_uidnext, mids)
        for u in uids:
            mid = st.message_ids.get(u)
            if mid and mid in found and st.moved.get(u) is None:
                st.moved[u] = found[mid]

    def _find_new(
        self, client: IMAPClient, folder: str, since_uid: int | None, message_ids: Iterable[str]
    ) -> dict[str, int]:
        """Message-ID -> UID among messages of `folder` with UID >= since_uid (one FETCH)."""
        wanted = set(message_ids)
        if not wanted:
            return {}
        self._selected = None
        client.select_folder(folder, readonly=True)
        first = since_uid or 1
        found: dict[str, int] = {}
        # "n:*" also matches the highest UID when all are below n
        recent = [u for u in self._search(client, b"UID", b"%d:*" % first) if u >= first]
        for batch in _chunks(sorted(int(u) for u in recent), self.config.batch_size):
            for uid, data in client.fetch(batch, [_MID_ITEM]).items():
                mid = headers.message_id(data.get(_MID_KEY, b""))
                if mid in wanted:
                    found.setdefault(mid, int(uid))
        return found


def _login_name(username: str) -> str:
    """The user name for LOGIN: as it is when it is an atom, else a quoted string."""
    if _ATOM.fullmatch(username):
        return username
    wire = _imap_string(username, "user name")
    if wire.literal:  # imaplib sends LOGIN as one line of ASCII
        raise UnsendableValue(
            "the IMAP user name must be printable ASCII for LOGIN -- check the setting"
        )
    return wire.data.decode("ascii")


def _folder_exists(client: IMAPClient, folder: str) -> bool:
    """Whether `folder` itself exists: LIST takes * and % as wildcards, so a name holding one
    would otherwise be taken for any folder it matches."""
    return any(name == folder for _flags, _delim, name in client.list_folders("", folder))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- helpers (pure) -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Wire:
    """One caller's string as it goes on the wire: a quoted string or a literal's bytes."""

    data: bytes
    literal: bool

    @property
    def arg(self) -> bytes:
        """The argument for imapclient's `_raw_command`, which sends `_literal`s as {n}."""
        return _literal(self.data) if self.literal else self.data

    @property
    def ascii(self) -> bool:
        return self.data.isascii()


def _imap_string(value: str, what: str = "value") -> _Wire:
    """`value` as an IMAP string: quoted when printable ASCII, else a literal (which carries
    CR, LF and UTF-8 as data). Raises UnsendableValue for what no IMAP string can carry."""
    if "\x00" in value:
        raise UnsendableValue(f"the {what} holds a NUL character, which IMAP cannot carry")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsendableValue(
            f"the {what} is not valid text (it holds a lone surrogate); it cannot be sent"
        ) from None
    if len(data) > MAX_IMAP_STRING:
        raise UnsendableValue(
            f"the {what} is {len(data)} bytes long; at most {MAX_IMAP_STRING} are sent to the "
            "mail server -- shorten it"
        )
    if all(0x20 <= b < 0x7F for b in data):
        return _Wire(b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"', False)
    return _Wire(data, True)


def _folder_name(folder: str) -> str:
    """`folder`, checked: imapclient sends it quoted, in modified UTF-7 (printable ASCII), but
    a name with a line break or another control character is never meant, so it is refused."""
    if not isinstance(folder, str) or not folder:
        raise UnsendableValue(f"the folder name {folder!r} is empty -- name a folder")
    if len(folder.encode("utf-8", "replace")) > MAX_IMAP_STRING:
        raise UnsendableValue(
            f"the folder name is over {MAX_IMAP_STRING} bytes long -- use a shorter one"
        )
    bad = next((c for c in folder if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        raise UnsendableValue(
            f"the folder name {folder!r} holds the control character {bad!r}; IMAP folder names "
            "cannot -- use another name"
        )
    return folder


def _flag(flag: str) -> str:
    """`flag`, checked to be an IMAP flag (an atom, or a backslash and an atom): imapclient
    sends flags as they are, so anything else could end the command early."""
    if not isinstance(flag, str) or not _FLAG.fullmatch(flag):
        raise UnsendableValue(
            f"{flag!r} is not an IMAP flag (letters, digits and a few marks, optionally after "
            "one backslash, e.g. \\Seen or $Label)"
        )
    return flag


def _summary(uid: int, data: dict[bytes, Any]) -> Summary:
    header = bytes(data.get(_HEADER_FIELDS, b"") or b"")
    fields = headers.header_fields(header)
    date = headers.parse_date(fields.get("date"))
    if date is None:
        internal = data.get(b"INTERNALDATE")
        date = internal if isinstance(internal, datetime) else None
    return Summary(
        uid=uid,
        date=date,
        sender=headers.decode_words(fields.get("from", "")),
        subject=headers.decode_words(fields.get("subject", "")),
        size=int(data.get(b"RFC822.SIZE", 0)),
        flags=tuple(f.decode() if isinstance(f, bytes) else str(f) for f in data.get(b"FLAGS", ())),
        message_id=headers.message_id(header),
    )


def _copyuid(text: bytes) -> dict[int, int]:
    """Source UID -> destination UID from every COPYUID response code in `text`."""
    mapping: dict[int, int] = {}
    for match in _COPYUID.finditer(text):
        src, dst = _expand(match.group(2)), _expand(match.group(3))
        if len(src) == len(dst):
            mapping.update(zip(src, dst, strict=True))
    return mapping


def _fetch_bodies(client: IMAPClient, uids: list[int]) -> tuple[dict[int, bytes], bool]:
    """UID FETCH BODY.PEEK[] read straight from imaplib's literals (imapclient's generic
    response parser costs more than the rest of the fetch). Returns the bodies and whether a
    literal came in another shape than ``* n FETCH (UID u BODY[] {size}`` (then left out)."""
    imap = client._imap
    imap.untagged_responses.pop("FETCH", None)
    typ, data = imap._simple_command("UID", "FETCH", _uidset(uids), "(UID BODY.PEEK[])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"UID FETCH failed: {_text(data)}")
    wanted = set(uids)
    out: dict[int, bytes] = {}
    odd = False
    for item in imap.untagged_responses.pop("FETCH", []):
        if isinstance(item, tuple):
            match = _FETCH_BODY.match(_bytes(item[0]))
            if match and int(match.group(1)) in wanted and isinstance(item[1], bytes):
                out[int(match.group(1))] = item[1]
            else:
                odd = True
    return out, odd


def _fetch_sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    """UID FETCH RFC822.SIZE read straight from imaplib's untagged lines, as `_fetch_bodies`
    does (the generic parser would cost as much as fetching the bodies); lines of another
    shape are left out."""
    imap = client._imap
    imap.untagged_responses.pop("FETCH", None)
    typ, data = imap._simple_command("UID", "FETCH", _uidset(uids), "(UID RFC822.SIZE)")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"UID FETCH failed: {_text(data)}")
    wanted = set(uids)
    out: dict[int, int] = {}
    for item in imap.untagged_responses.pop("FETCH", []):
        match = _FETCH_SIZE.fullmatch(item) if isinstance(item, bytes) else None
        if match:
            uid = int(match.group(1) or match.group(4))
            if uid in wanted:
                out[uid] = int(match.group(2) or match.group(3))
    return out


def _expand(uidset: bytes) -> list[int]:
    out: list[int] = []
    for part in uidset.decode().split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.extend(range(a, b + 1) if a <= b else range(a, b - 1, -1))
        elif part:
            out.append(int(part))
    return out


def _uidset(uids: Iterable[int]) -> str:
    """Compact IMAP UID set: [1, 2, 3, 7] -> "1:3,7"."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _status_uidnext(client: IMAPClient, folder: str) -> int | None:
    status = client.folder_status(folder, ["UIDNEXT"])
    value = status.get(b"UIDNEXT")
    return int(value) if value is not None else None


def _unique(uids: Sequence[int]) -> list[int]:
    seen: set[int] = set()
    out: list[int] = []
    for u in uids:
        u = int(u)
        if u < 1:
            raise ValueError(f"UIDs are positive integers, not {u}")
        if u not in seen:
            seen.add(u)
            out.append(u)
    return out


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, BaseException) and value.args:
        return _bytes(value.args[0])
    if isinstance(value, list | tuple):
        return b" ".join(_bytes(v) for v in value)
    return str(value).encode("utf-8", "replace")


def _text(value: Any) -> str:
    """A server response or exception as readable text."""
    return _bytes(value).decode("utf-8", "replace").strip() or type(value).__name__
