"""`ImapSession`: one IMAP connection and what is known about it.

Connects (TLS with certificate verification by default, STARTTLS or plain only when
configured, optionally through an HTTP CONNECT or SOCKS5 proxy) and logs in; `run` runs an
operation under the session's lock, re-opening a dropped connection with exponential backoff
and running the operation again; failures become MailboxError / ConnectionLost with a hint.

UIDVALIDITY: the value first seen for a folder (or last returned by `uidvalidity()`) is
remembered in `known`; when the server's (`current`, from the last SELECT) differs, `select`
with `uids_from_caller` raises `UidValidityChanged` once.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, LoginError

from mailcore.errors import (
    AuthError,
    ConfigError,
    ConnectionLost,
    MailboxError,
    UidValidityChanged,
)
from mailcore.mailboxes.imap import wire
from mailcore.mailboxes.imap.config import ImapConfig
from mailcore.mailboxes.imap.values import _bytes, _text
from mailcore.mailboxes.imap.wire import _login_name, _Wire, clear_untagged
from mailcore.mailboxes.proxy import ProxyIMAPClient, ProxySpec, parse_proxy

log = logging.getLogger(__name__)

T = TypeVar("T")

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


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and after how long, a dropped connection is re-opened."""

    retries: int = 4
    backoff: float = 0.25  # seconds before the first retry, doubled each time
    max_backoff: float = 8.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt + 1`."""
        return min(self.max_backoff, self.backoff * 2**attempt)


class ImapSession:
    """One connection to an IMAP account, re-opened when it drops (see the module docstring)."""

    def __init__(self, config: ImapConfig, policy: RetryPolicy) -> None:
        self.config = config
        self.policy = policy
        self.lock = threading.RLock()
        self.client: IMAPClient | None = None
        self.selected: str | None = None
        self.current: dict[str, int] = {}  # UIDVALIDITY the server reported at the last SELECT
        self.known: dict[str, int] = {}  # UIDVALIDITY the caller's UIDs belong to
        self.capabilities: frozenset[str] = frozenset()

    # -- connection ---------------------------------------------------------------------------

    def close(self) -> None:
        """Log out and close the connection; safe to call twice (a later `run` reconnects)."""
        with self.lock:
            client, self.client, self.selected = self.client, None, None
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

    def connection(self) -> IMAPClient:
        if self.client is None:
            self.client = self._open()
        return self.client

    def _open(self) -> IMAPClient:
        cfg = self.config
        context = None if cfg.security == "plain" else self._tls_context()
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
            wire.quiet(client)  # the login's lines are not traced either, unless wanted
            if context is not None and cfg.security == "starttls":
                client.starttls(context)
            self._login(client)
            client.normalise_times = False  # keep INTERNALDATE's time zone
            self.capabilities = frozenset(
                (c.decode() if isinstance(c, bytes) else str(c)).upper()
                for c in client.capabilities()
            )
            if "QRESYNC" in self.capabilities:
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
            if isinstance(e, MailboxError | AuthError | KeyboardInterrupt | SystemExit):
                raise
            if isinstance(e, Exception) and _is_drop(e):
                raise _Retry(self._connect_error(e)) from e
            raise self._connect_error(e) from e
        via = f" through {proxy.url}" if proxy else ""
        log.info("connected to %s as %s (%s%s)", cfg.address, cfg.username, cfg.security, via)
        return client

    def _tls_context(self) -> ssl.SSLContext:
        """Certificate checks against `ca_file`, else the system's CAs (loading those takes
        tens of milliseconds, so plain IMAP does without: `mailcore ingest` runs per mail)."""
        try:
            return ssl.create_default_context(cafile=self.config.ca_file)
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(
                f"IMAP ca_file {self.config.ca_file!r} cannot be used ({e}) -- give a PEM file "
                "holding the certificate of the CA that signed the server's certificate"
            ) from e

    def _login(self, client: IMAPClient) -> None:
        cfg = self.config
        try:
            if cfg.oauth2_source is not None:
                self._oauth2_login(client, cfg.oauth2_source)
            elif cfg.oauth2_token:
                client.oauth2_login(cfg.username, cfg.oauth2_token)
            elif cfg.password is not None:
                # imaplib quotes the password but sends the user name as it is
                client.login(_login_name(cfg.username), cfg.password)
            else:
                raise MailboxError(
                    f"no password or OAuth2 token configured for {cfg.username!r} on {cfg.address}"
                )
        except LoginError as e:
            # imapclient turns every error of LOGIN into LoginError, a connection torn during
            # it too: that is a drop (retried), not a refusal of the credentials.
            cause = e.__context__
            if cause is not None and (isinstance(cause, imaplib.IMAP4.abort) or _is_drop(cause)):
                raise ConnectionLost(
                    f"{cfg.address}: the connection dropped during the login of {cfg.username!r}"
                ) from None  # the command's echo may hold the secret
            if _unavailable(e):
                raise ConnectionLost(
                    f"{cfg.address} could not check the login of {cfg.username!r}: its "
                    "authentication backend is unavailable ([UNAVAILABLE]) -- a problem of the "
                    "server (e.g. its OAuth2 provider unreachable), not of the credentials"
                ) from None
            how = "password"
            if cfg.oauth2_source is not None:
                how = "OAuth2 account (its token was refreshed and refused again)"
            elif cfg.oauth2_token:
                how = "OAuth2 token"
            raise MailboxError(
                f"{cfg.address} refused the login of {cfg.username!r}: {_text(e)} "
                f"-- check the user name and {how}"
            ) from None  # the server's echo of the command may hold the secret
        except imaplib.IMAP4.error as e:
            if isinstance(e, imaplib.IMAP4.abort):
                raise
            if _unavailable(e):
                raise ConnectionLost(
                    f"{cfg.address}: authentication backend unavailable ([UNAVAILABLE])"
                ) from None
            raise MailboxError(
                f"{cfg.address} refused the login of {cfg.username!r}: {_text(e)}"
            ) from None

    def _oauth2_login(self, client: IMAPClient, source: Callable[[bool], str]) -> None:
        """Log in with the source's token, and once more with a refreshed one when the server
        refused it (revoked, or expired earlier than said)."""
        mechanism = self.config.oauth2_mechanism
        if mechanism == "auto":
            offered = {_text(c).upper() for c in client.capabilities()}
            oauthbearer = "AUTH=OAUTHBEARER" in offered and "AUTH=XOAUTH2" not in offered
            mechanism = "oauthbearer" if oauthbearer else "xoauth2"
        user = self.config.username
        login = client.oauthbearer_login if mechanism == "oauthbearer" else client.oauth2_login
        try:
            login(user, source(False))
        except LoginError as e:
            cause = e.__context__
            if cause is not None and (isinstance(cause, imaplib.IMAP4.abort) or _is_drop(cause)):
                raise
            if _unavailable(e):  # the server cannot check any token now: a new one won't help
                raise
            log.info(
                "%s refused the OAuth2 token of %s; refreshing it once", self.config.address, user
            )
            login(user, source(True))

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

    def drop(self) -> None:
        client, self.client, self.selected = self.client, None, None
        if client is not None:
            try:
                client.shutdown()
            except Exception:
                log.debug("shutdown of a dropped connection failed", exc_info=True)

    def run(self, what: str, op: Callable[[IMAPClient], T]) -> T:
        """Run `op` under the lock, reconnecting with exponential backoff when the connection
        drops. `op` must be safe to run again (it re-checks state if it changes anything)."""
        with self.lock:
            attempt = 0
            while True:
                try:
                    client = self.connection()
                    # imaplib keeps unclaimed untagged responses (EXPUNGE, EXISTS...) forever
                    clear_untagged(client)
                    wire.quiet(client)
                    return op(client)
                except _Retry as e:
                    self.drop()
                    problem: BaseException = e
                except MailboxError:
                    raise
                except imaplib.IMAP4.abort as e:  # includes BYE and torn connections
                    self.drop()
                    problem = e
                except imaplib.IMAP4.error as e:
                    raise MailboxError(f"{what} on {self.config.address} failed: {_text(e)}") from e
                except Exception as e:
                    if not _is_drop(e):
                        raise
                    self.drop()
                    problem = e
                if attempt >= self.policy.retries:
                    raise ConnectionLost(
                        f"{what}: connection to {self.config.address} lost ({_text(problem)}); "
                        f"gave up after {attempt + 1} attempts -- is the server up?"
                    ) from problem
                delay = self.policy.delay(attempt)
                attempt += 1
                log.warning(
                    "%s: connection to %s lost (%s); reconnecting in %.2gs (attempt %d of %d)",
                    what,
                    self.config.address,
                    _text(problem),
                    delay,
                    attempt,
                    self.policy.retries,
                )
                time.sleep(delay)

    # -- folders ------------------------------------------------------------------------------

    def select(
        self, client: IMAPClient, folder: str, *, uids_from_caller: bool, sync: bool = False
    ) -> bool:
        """Select `folder` (if not already); False when it does not exist.

        With `uids_from_caller`, raise UidValidityChanged when the folder was renumbered since
        the caller got its UIDs. With `sync`, a folder already selected is brought up to date
        (NOOP): servers such as Dovecot do not show a SEARCH the mail that arrived since.
        """
        if self.selected == folder and sync:
            client.noop()
        if self.selected != folder:
            self.selected = None
            try:
                response = client.select_folder(folder)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as e:
                if b"NONEXISTENT" in _bytes(e) or not _folder_exists(client, folder):
                    return False
                raise
            self.selected = folder
            validity = int(response[b"UIDVALIDITY"])
            self.current[folder] = validity
            self.known.setdefault(folder, validity)
        if uids_from_caller and self.current[folder] != self.known[folder]:
            old, new = self.known[folder], self.current[folder]
            self.known[folder] = new
            raise UidValidityChanged(
                f"folder {folder!r} on {self.config.address} was renumbered (UIDVALIDITY "
                f"{old} -> {new}): UIDs listed before are void -- list the folder again"
            )
        return True

    def ensure(self, client: IMAPClient, folder: str) -> None:
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

    def search(self, client: IMAPClient, *criteria: bytes | _Wire) -> list[int]:
        """UID SEARCH (see `wire.search`); a literal the server refused drops the connection,
        which is then out of step, and raises MailboxError (not retried)."""
        try:
            return wire.search(
                client,
                criteria,
                esearch="ESEARCH" in self.capabilities,
                address=self.config.address,
            )
        except wire.LiteralRefused:
            self.drop()
            raise

    def dest_uidnext(self, client: IMAPClient, folder: str, asked: Any = None) -> int | None:
        """`folder`'s UIDNEXT: the answer to `asked` (a STATUS sent ahead, `wire.send_status`),
        else a STATUS now; when the STATUS is refused the folder is created (`ensure`) and
        asked again -- one round trip where it exists, where a LIST and then a STATUS were
        two."""
        if asked is not None:
            found = wire.status_answer(client, asked)
            if found is not None:
                value = found.get(b"UIDNEXT")
                return int(value) if value is not None else None
        else:
            try:
                return self.uidnext(client, folder)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error:
                pass
        self.ensure(client, folder)  # missing: created; else the STATUS below says why
        return self.uidnext(client, folder)

    def uidnext(self, client: IMAPClient, folder: str) -> int | None:
        """The folder's UIDNEXT (STATUS), None when the server does not say."""
        status = client.folder_status(folder, ["UIDNEXT"])
        value = status.get(b"UIDNEXT")
        return int(value) if value is not None else None


def _folder_exists(client: IMAPClient, folder: str) -> bool:
    """Whether `folder` itself exists: LIST takes * and % as wildcards, so a name holding one
    would otherwise be taken for any folder it matches."""
    return any(name == folder for _flags, _delim, name in client.list_folders("", folder))


def _unavailable(e: BaseException) -> bool:
    """Whether a refused LOGIN/AUTHENTICATE said [UNAVAILABLE] (RFC 5530): the server's
    backend (password database, OAuth2 provider) cannot be reached, so try again later."""
    return b"[UNAVAILABLE]" in _bytes(e).upper()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
