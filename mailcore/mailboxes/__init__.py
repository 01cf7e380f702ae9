"""Mailboxes: the `Mailbox` protocol the engine and the console run on (`protocol`) and its
backends: a real server over IMAP through imapclient (the `imap` package), a local Maildir++
tree as the embedded default (the `maildir` package), and an in-memory mailbox for the tests of
handler authors (`memory`); `proxy` tunnels IMAP through HTTP CONNECT or SOCKS5 proxies."""
