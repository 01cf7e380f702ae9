"""Maildir: the Mailbox interface on a local Maildir++ folder tree, the embedded default.

`mailbox` (MaildirMailbox: folders, the directory scan and the Mailbox operations) and `uidlog`
(each folder's UID log, shared by all processes: reading, appending, compaction).
"""

from mailcore.mailboxes.maildir.mailbox import MaildirMailbox
from mailcore.mailboxes.maildir.uidlog import COMPACT_SLACK, UIDLIST

__all__ = ["COMPACT_SLACK", "UIDLIST", "MaildirMailbox"]
