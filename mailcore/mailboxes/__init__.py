"""Mailboxes: the `Mailbox` protocol (`protocol`), IMAP through imapclient (`imap`), a local
Maildir as the embedded default (`maildir`), and proxy tunnels for IMAP (`proxy`)."""
