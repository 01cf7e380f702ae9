"""Sending over SMTP (smtplib), with a copy appended to the `sent` folder if asked.

Errors are `SendError`s that say what happened: the server could not be reached, refused
the login, the sender, some recipients (`RecipientsRefused` names them with the code and
the server's text) or the data. A `MailboxError` after sending means the mail went out but
its copy could not be filed: do not send it again.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from urllib.parse import parse_qs

from mailcore.errors import AuthError, MailboxError, SendError
from mailcore.ident import IdentScheme
from mailcore.mailboxes.protocol import Mailbox
from mailcore.servers import ServerLogin, login_from_url

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"tls": 465, "starttls": 587, "plain": 25}


class RecipientsRefused(SendError):
    """The server refused some recipients: `refused` maps each to (code, server text).

    `delivered` lists the recipients that were accepted (empty when none were, and then
    nothing was sent).
    """

    def __init__(self, refused: dict[str, tuple[int, str]], delivered: Sequence[str] = ()) -> None:
        details = ", ".join(f"{rcpt} ({code} {text})" for rcpt, (code, text) in refused.items())
        what = "some recipients" if delivered else "every recipient"
        super().__init__(f"the SMTP server refused {what}: {details}")
        self.refused = refused
        self.delivered = list(delivered)


@dataclass
class SmtpConfig(ServerLogin):
    """Where and how to send. `port` defaults by security: tls 465, starttls 587, plain 25."""

    security: str = "starttls"
    local_hostname: str | None = None  # for EHLO; None: the machine's FQDN
    # OAuth2 (mailcore.oauth2.TokenSource): a fresh access token at each login, with True once
    # after the server refused one; the login is then XOAUTH2 or OAUTHBEARER, not a password
    oauth2_source: Callable[[bool], str] | None = field(default=None, repr=False, compare=False)
    oauth2_mechanism: str = "auto"  # auto (the server's AUTH list) | xoauth2 | oauthbearer
    # VERP: mail with one of our Message-IDs goes out with this scheme's bounce address as its
    # envelope sender (bounce+<id>.<token>@domain), so its bounce names it; None: the From
    verp: IdentScheme | None = field(default=None, compare=False)

    protocol = "SMTP"

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    @classmethod
    def from_url(cls, url: str, **overrides: object) -> SmtpConfig:
        """``smtps://user:pass@host:465`` (TLS), ``smtp://host:587?security=starttls|plain``."""
        values, query = login_from_url(url, "SMTP", "smtps")
        values["security"] = parse_qs(query).get("security", [values["security"]])[0]
        values.update(overrides)
        return cls(**values)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def _envelope(raw: bytes) -> tuple[str, list[str]]:
    headers = BytesHeaderParser().parsebytes(raw)
    sender = getaddresses([str(headers.get("Sender") or headers.get("From") or "")])
    rcpts = getaddresses(
        [str(v) for name in ("To", "Cc", "Bcc") for v in headers.get_all(name, [])]
    )
    return (sender[0][1] if sender else ""), [addr for _, addr in rcpts if addr]


def _verp_sender(raw: bytes, scheme: IdentScheme) -> str | None:
    """``bounce+<id>.<token>@domain`` for a message carrying one of our Message-IDs."""
    message_id = BytesHeaderParser().parsebytes(raw).get("Message-ID")
    return scheme.bounce_address(str(message_id)) if message_id else None


def _without_bcc(raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines: list[bytes] = []
    skipping = False
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                lines.append(line)
            continue
        skipping = line.lower().startswith(b"bcc:")
        if not skipping:
            lines.append(line)
    return b"\r\n".join(lines) + sep + body


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    host, port = config.host, config.effective_port
    try:
        if config.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host,
                port,
                timeout=config.timeout,
                context=config.ssl_context(),
                local_hostname=config.local_hostname,
            )
        else:
            client = smtplib.SMTP(
                host, port, timeout=config.timeout, local_hostname=config.local_hostname
            )
            if config.security == "starttls":
                client.ehlo()
                client.starttls(context=config.ssl_context())
                client.ehlo()
    except smtplib.SMTPNotSupportedError as exc:
        raise SendError(
            f"SMTP server {host}:{port} does not offer STARTTLS; use security 'tls' or"
            " (on a trusted network only) 'plain'"
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"cannot reach SMTP server {host}:{port}: {exc}") from exc
    if config.username:
        try:
            if config.oauth2_source is not None:
                _oauth2_login(client, config, config.oauth2_source)
            else:
                client.login(config.username, config.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            client.close()
            text = _text(exc.smtp_error)
            raise SendError(
                f"SMTP server {host}:{port} refused the login of {config.username!r}:"
                f" {exc.smtp_code} {text}"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            client.close()
            raise SendError(f"SMTP login to {host}:{port} failed: {exc}") from exc
        except AuthError:  # no OAuth2 token to be had: its message says what to run
            client.close()
            raise
    return client


def _oauth2_login(client: smtplib.SMTP, config: SmtpConfig, source: Callable[[bool], str]) -> None:
    """AUTH XOAUTH2 or OAUTHBEARER with the source's token, once more with a refreshed one
    after the server refused it."""
    client.ehlo_or_helo_if_needed()
    offered = client.esmtp_features.get("auth", "").upper().split()
    mechanism = config.oauth2_mechanism
    if mechanism == "auto":
        bearer = "OAUTHBEARER" in offered and "XOAUTH2" not in offered
        mechanism = "oauthbearer" if bearer else "xoauth2"
    for refresh in (False, True):
        response = _bearer(mechanism, config.username, source(refresh))
        try:
            client.auth(mechanism.upper(), response, initial_response_ok=True)
            return
        except smtplib.SMTPAuthenticationError:
            if refresh:
                raise
            log.info("SMTP server %s refused the OAuth2 token; refreshing it", config.host)


def _bearer(mechanism: str, user: str, token: str) -> Callable[..., str]:
    """smtplib's auth object: the initial response, then (to the error challenge a refused
    token gets) the empty answer XOAUTH2 wants or RFC 7628's %x01."""
    if mechanism == "oauthbearer":
        name = user.replace("=", "=3D").replace(",", "=2C")
        first, after = f"n,a={name},\x01auth=Bearer {token}\x01\x01", "\x01"
    else:
        first, after = f"user={user}\x01auth=Bearer {token}\x01\x01", ""
    return lambda challenge=None: first if challenge is None else after


def send(
    message: EmailMessage | bytes,
    smtp: SmtpConfig,
    *,
    sent_mailbox: Mailbox | None = None,
    sent_folder: str = "sent",
    envelope_from: str | None = None,
    recipients: Sequence[str] | None = None,
) -> None:
    """Send a message (or signed bytes) and file a copy in `sent_folder` of `sent_mailbox`.

    Envelope defaults: the VERP bounce address when `smtp.verp` is set and the message has
    one of our Message-IDs, else the From (or Sender) header; To, Cc and Bcc. Bcc is not
    transmitted.
    Raises SendError (RecipientsRefused for refused recipients; the copy is still filed if
    anybody got the mail), MailboxError when the copy could not be filed.
    """
    if isinstance(message, EmailMessage):
        from mailcore.outbound.compose import MESSAGE_POLICY

        raw = message.as_bytes(policy=MESSAGE_POLICY)
    else:
        raw = message
    header_from, header_rcpts = _envelope(raw)
    mail_from = envelope_from if envelope_from is not None else header_from
    if envelope_from is None and smtp.verp is not None:
        mail_from = _verp_sender(raw, smtp.verp) or header_from
    rcpts = list(recipients) if recipients is not None else header_rcpts
    if not rcpts:
        raise SendError("the message has no recipient (To, Cc or Bcc)")
    raw = _without_bcc(raw)

    client = _connect(smtp)
    refused: dict[str, tuple[int, str]] = {}
    try:
        try:
            failures = client.sendmail(mail_from, rcpts, raw)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = {r: (code, _text(text)) for r, (code, text) in exc.recipients.items()}
            raise RecipientsRefused(refused) from exc
        except smtplib.SMTPSenderRefused as exc:
            text = _text(exc.smtp_error)
            raise SendError(
                f"the SMTP server refused the sender {exc.sender}: {exc.smtp_code} {text}"
            ) from exc
        except smtplib.SMTPDataError as exc:
            text = _text(exc.smtp_error)
            raise SendError(f"the SMTP server refused the message: {exc.smtp_code} {text}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"sending to {smtp.host}:{smtp.effective_port} failed: {exc}") from exc
        refused = {r: (code, _text(text)) for r, (code, text) in failures.items()}
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    log.info(
        "sent %d bytes to %d recipient(s) via %s", len(raw), len(rcpts) - len(refused), smtp.host
    )

    if sent_mailbox is not None:
        try:
            sent_mailbox.ensure_folder(sent_folder)
            sent_mailbox.append(sent_folder, raw, flags=("\\Seen",))
        except Exception as exc:  # noqa: BLE001 -- the mail is out; say so precisely
            raise MailboxError(
                f"sent, but the copy could not be filed in {sent_folder!r}: {exc}"
            ) from exc
    if refused:
        raise RecipientsRefused(refused, [r for r in rcpts if r not in refused])
