"""IMAP: the Mailbox interface on a real server, through imapclient (`mailbox`)."""

from mailcore.mailboxes.imap.mailbox import (
    _HEADER_FIELDS,
    DELETED,
    MAX_IMAP_STRING,
    SECURITIES,
    ImapConfig,
    ImapMailbox,
    _BatchState,
    _expand,
    _fetch_sizes,
    _imap_string,
    _summary,
    _uidset,
)

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
