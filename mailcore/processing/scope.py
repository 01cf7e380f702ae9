"""Which configured mailbox an engine works (`MailboxScope`): its name, recorded beside every
folder the history and the claims name, and the message keys of its mail.

The default mailbox (the top-level `imap_url`/`maildir`, or a `[[mailboxes]]` entry named
"default") records NULL and keys its mail by `message_key` alone, as a configuration with one
mailbox always did: nothing of an existing history changes. Every other mailbox records its
name and keys its mail by a digest of its name and `message_key`: the same mail delivered to two
mailboxes is two messages, each handled once by that mailbox's handlers, with a
`ctx.message_key` of its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mailcore.config import DEFAULT_MAILBOX
from mailcore.processing.outcomes import message_key

__all__ = ["DEFAULT_MAILBOX", "DEFAULT_SCOPE", "MailboxScope"]


@dataclass(frozen=True)
class MailboxScope:
    """One mailbox's share of the history (see the module docstring)."""

    name: str | None = None  # None: the default mailbox

    @classmethod
    def of(cls, name: str | None) -> MailboxScope:
        """The scope of the mailbox configured as `name` ("default" or None: the default)."""
        return cls(None if name in (None, DEFAULT_MAILBOX) else name)

    @property
    def title(self) -> str:
        """The mailbox's configured name."""
        return self.name or DEFAULT_MAILBOX

    @property
    def columns(self) -> dict[str, str]:
        """What a history row written for this mailbox adds ({} for the default one)."""
        return {} if self.name is None else {"mailbox": self.name}

    def key(self, raw: bytes) -> str:
        """The key of a message of this mailbox."""
        return self.scoped(message_key(raw))

    def scoped(self, key: str) -> str:
        """`key` (a `message_key` or a legacy one) as this mailbox knows it."""
        if self.name is None:
            return key
        return hashlib.sha256(f"mailcore mailbox {self.name}\n{key}".encode()).hexdigest()


DEFAULT_SCOPE = MailboxScope()
