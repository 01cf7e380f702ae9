"""IMAP: the Mailbox interface on a real server, through imapclient.

`mailbox` (ImapMailbox: the Mailbox operations, delegating), `config` (ImapConfig and its
URLs), `session` (connection, login, reconnect and retry, error translation, SELECT and
UIDVALIDITY), `move` (the move protocol), `idle` (waiting for mail with IDLE), `wire` (the only
module touching imaplib's and imapclient's internals, and the quoting of callers' values) and
`values` (pure helpers: UID sets, summaries, response text).
"""

from mailcore.mailboxes.imap.config import SECURITIES, ImapConfig
from mailcore.mailboxes.imap.mailbox import ImapMailbox
from mailcore.mailboxes.imap.move import DELETED, _BatchState
from mailcore.mailboxes.imap.values import _HEADER_FIELDS, _expand, _summary, _uidset
from mailcore.mailboxes.imap.wire import MAX_IMAP_STRING, _fetch_sizes, _imap_string

__all__ = [
    "DELETED",
    "MAX_IMAP_STRING",
    "SECURITIES",
    "ImapConfig",
    "ImapMailbox",
    "_HEADER_FIELDS",
    "_BatchState",
    "_expand",
    "_fetch_sizes",
    "_imap_string",
    "_summary",
    "_uidset",
]
