"""Maildir: the Mailbox interface on a local Maildir++ folder tree, the embedded default
(`mailbox`)."""

from mailcore.mailboxes.maildir.mailbox import COMPACT_SLACK, UIDLIST, MaildirMailbox

__all__ = ["COMPACT_SLACK", "UIDLIST", "MaildirMailbox"]
