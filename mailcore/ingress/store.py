"""`store_message`: put one pushed message into the mailbox's inbox, durably, or say why not.

The one function every ingress path ends in (`mailcore ingest`, the console's /ingress
endpoints). It returns once the mailbox confirmed the message: an IMAP APPEND answered OK, or
a Maildir file written, fsynced and renamed into ``new/`` with its directory fsynced
(`MaildirMailbox.append`). Anything else is `StoreUnavailable`, which the callers turn into
"try again later" (exit 75, HTTP 503): a message is never acknowledged and then lost.

Storing the same message twice (an MTA retrying after a crash between the store and exit 0)
is harmless: the engine knows a message by `message_key`, which leaves the trace fields out.
"""

from __future__ import annotations

import traceback

from mailcore.errors import MailboxError, MailcoreError
from mailcore.ingress.envelope import HEAD_BYTES, Envelope, trace_fields
from mailcore.ingress.spool import Spool
from mailcore.mailboxes.protocol import Mailbox

__all__ = ["EmptyMessage", "StoreUnavailable", "store_message"]


class StoreUnavailable(MailboxError):
    """The mailbox could not confirm the message (unreachable, refused, out of space): the
    sender should try again later; nothing was acknowledged."""


class EmptyMessage(MailcoreError):
    """The pushed message has no bytes."""


def store_message(mailbox: Mailbox, folder: str, spool: Spool, envelope: Envelope) -> int | None:
    """APPEND the spooled message, with the envelope as trace fields in front, to `folder` of
    `mailbox`; returns its UID when the mailbox tells it. StoreUnavailable when it could not."""
    if spool.size == 0:
        raise EmptyMessage("the message is empty: nothing to store")
    raw = spool.message(trace_fields(envelope, spool.head(HEAD_BYTES)))
    try:
        return mailbox.append(folder, raw)
    except MailboxError as exc:
        raise StoreUnavailable(f"the mailbox did not store the message: {exc}") from exc
    except Exception as exc:  # OSError (disk full), imaplib errors...: never a lost mail
        raise StoreUnavailable(f"the mailbox did not store the message: {describe(exc)}") from exc


def describe(exc: BaseException) -> str:
    """An unexpected error by its type and where it was raised, not its text (which may quote
    the message)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    where = traceback.extract_tb(exc.__traceback__)
    frames = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in where[-3:])
    return f"unexpected {type(exc).__name__} at {frames}" if frames else type(exc).__name__
