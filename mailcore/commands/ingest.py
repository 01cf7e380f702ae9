"""`mailcore ingest`: store one message from stdin in the mailbox's inbox, for an MTA's pipe.

Exit status (sysexits.h, what Postfix, Exim and procmail understand):

- 0: the mailbox confirmed the message (IMAP APPEND answered, or Maildir file fsynced);
- 75 (EX_TEMPFAIL): not stored -- the mailbox is unreachable or refused, the settings cannot
  be read, or `[ingress] timeout` passed: the MTA keeps the mail queued and retries;
- 65 (EX_DATAERR): refused for good -- over `[ingress] max_size`, empty, or an envelope
  address that is not one: the MTA bounces it to the sender.

The one line written (to stderr) starts with an enhanced status code (4.3.0, 5.3.4...), which
Postfix's pipe reports as is; it never holds the message's content, and no traceback is shown.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from types import FrameType

import click

from mailcore.config import Settings, open_mailbox
from mailcore.errors import ConfigError
from mailcore.ingress import (
    EmptyMessage,
    Envelope,
    EnvelopeInvalid,
    IngressSettings,
    MessageTooLarge,
    Spool,
    StoreUnavailable,
    store_message,
)
from mailcore.ingress.store import describe

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75


class _TimedOut(BaseException):  # not an Exception: fewer handlers catch it
    pass


class _Deadline:
    """SIGALRM after `seconds`: the exception interrupts whatever waits (a connect, a read);
    `passed` stays set even if the code it interrupted wraps the exception in its own."""

    def __init__(self) -> None:
        self.passed = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.passed = True
        raise _TimedOut


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings.")
@click.option("--recipient", help="The envelope recipient (Postfix: ${recipient}).")
@click.option("--sender", help="The envelope sender (Postfix: ${sender}; empty for a bounce).")
@click.option("--mailbox", "mailbox_name", help="Which configured mailbox (default: the first).")
def ingest(
    config_path: str | None, recipient: str | None, sender: str | None, mailbox_name: str | None
) -> None:
    """Store the message on stdin in the inbox; exit 0 stored, 75 try later, 65 refused."""
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        # Without -v the one status line is all the MTA reports (retries are not news).
        logging.getLogger("mailcore").setLevel(logging.ERROR)
    code, line = run(config_path, recipient, sender, mailbox_name)
    if line:
        click.echo(line, err=True)
    sys.exit(code)


def run(
    config_path: str | None,
    recipient: str | None,
    sender: str | None,
    mailbox_name: str | None = None,
) -> tuple[int, str]:
    """(exit status, the line to print) for one message read from stdin."""
    try:
        top = Settings.load(config_path)
        limits = IngressSettings.from_settings(top)
        settings = top.mailbox(mailbox_name) if mailbox_name else top.all_mailboxes()[0]
    except ConfigError as exc:
        return EX_TEMPFAIL, f"4.3.5 mailcore ingest: {exc}"
    deadline = _Deadline()
    previous = signal.signal(signal.SIGALRM, deadline)
    signal.alarm(limits.timeout)
    late = EX_TEMPFAIL, f"4.4.7 mailcore ingest: not stored within {limits.timeout}s"
    try:
        result = _store(settings, limits, recipient, sender)
        return late if deadline.passed and result[0] != EX_OK else result
    except _TimedOut:
        return late
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _store(
    settings: Settings, limits: IngressSettings, recipient: str | None, sender: str | None
) -> tuple[int, str]:
    try:
        envelope = Envelope(recipient, sender)
        with Spool(limits.max_size) as spool:
            spool.fill(sys.stdin.buffer)
            mailbox = open_mailbox(settings)
            try:
                store_message(mailbox, settings.folders.inbox, spool, envelope)
            finally:
                with contextlib.suppress(Exception):  # stored is stored
                    mailbox.close()
    except MessageTooLarge as exc:
        return EX_DATAERR, f"5.3.4 mailcore ingest: {exc}"
    except (EnvelopeInvalid, EmptyMessage) as exc:
        return EX_DATAERR, f"5.6.0 mailcore ingest: {exc}"
    except ConfigError as exc:
        return EX_TEMPFAIL, f"4.3.5 mailcore ingest: {exc}"
    except StoreUnavailable as exc:
        return EX_TEMPFAIL, f"4.3.0 mailcore ingest: {exc}"
    except _TimedOut:
        raise
    except Exception as exc:  # whatever it is, the MTA keeps the mail
        return EX_TEMPFAIL, f"4.3.0 mailcore ingest: not stored: {describe(exc)}"
    return EX_OK, ""
