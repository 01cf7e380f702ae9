"""The one exception hierarchy of mailcore; every message says what to do about it."""

from __future__ import annotations


class MailcoreError(Exception):
    """Base of every error mailcore raises on purpose."""


class ConfigError(MailcoreError):
    """A setting is missing or malformed."""


class MailboxError(MailcoreError):
    """The mailbox refused an operation or could not be reached."""


class ConnectionLost(MailboxError):
    """The connection to the mail server dropped; the operation may be retried."""


class UnsendableValue(MailboxError):
    """A value (folder name, flag, search text) cannot be sent to the mail server as it is.

    Raised before anything is sent, so the connection is unharmed and reconnecting would not
    help: the caller must change the value.
    """


class UidValidityChanged(MailboxError):
    """The server renumbered a folder: cached UIDs for it are no longer valid."""


class PayloadInvalid(MailcoreError):
    """A payload does not satisfy its handler's schema.

    `errors` holds (json-path, message) pairs so a form can show each next to its field.
    """

    def __init__(self, message: str, errors: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class RoutingError(MailcoreError):
    """No handler accepts the message (unknown identifier, no matching route)."""


class HandlerFailed(MailcoreError):
    """A business handler refused or crashed on a payload."""


class TemplateError(MailcoreError):
    """A template cannot be rendered: syntax, undefined placeholder or a refused construct.

    `line` is 1-based when known; `names` lists undefined placeholders.
    """

    def __init__(self, message: str, line: int | None = None, names: list[str] | None = None):
        super().__init__(message)
        self.line = line
        self.names = names or []


class SendError(MailcoreError):
    """The SMTP server refused the message or could not be reached."""
