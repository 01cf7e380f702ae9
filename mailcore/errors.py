"""The one exception hierarchy of mailcore; every message says what to do about it.

    MailcoreError
    +-- ConfigError                  a setting is missing or malformed
    |   +-- DatabaseOutOfDate        (store.migrations) schema behind: run mailcore migrate
    +-- MailboxError                 the mailbox refused an operation or could not be reached
    |   +-- ConnectionLost           the connection dropped; the operation may be retried
    |   +-- UidValidityChanged       the server renumbered a folder
    |   +-- UnsendableValue          a value no IMAP command can carry (refused before sending)
    |   +-- LiteralRefused           (mailboxes.imap) the server refused an IMAP literal
    |   +-- StoreUnavailable         (ingress.store) a pushed message not stored: try later
    +-- PayloadInvalid               a payload does not satisfy its handler's schema
    |   +-- PayloadTooLarge          (inbound.payload) a payload over its PayloadLimits
    +-- RegistrationError            a handler cannot be registered (also a ValueError)
    +-- RoutingError                 no handler accepts the message
    |   +-- UnknownHandler           no handler has that name (also a KeyError)
    +-- HandlerFailed                a business handler refused or crashed on a payload
    +-- TemplateError                a template cannot be rendered
    |   +-- TemplateHasErrors, TemplateConflict   (store.template_store) not saved: why
    +-- SendError                    the SMTP server refused the message or could not be reached
    |   +-- RecipientsRefused        (outbound.smtp) some recipients were refused
    +-- UnknownTemplate              (store.template_store) no template of that name
    +-- AccountError                 (console.users) a console account cannot be created or changed
    +-- MessageTooLarge, EnvelopeInvalid, EmptyMessage, FormInvalid   (ingress) a push refused
    +-- AuthError                    credentials refused, or an OAuth2 token cannot be had
    |   +-- TokenRefreshFailed       the identity provider refused the refresh: log in again

Errors of other libraries are translated where they are met (IMAP in mailboxes.imap, SMTP in
outbound.smtp, SQL in the store) into these, with what to do about them.
"""

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


class RegistrationError(MailcoreError, ValueError):
    """A handler cannot be registered: its name, route, schema or options (said when the
    handlers module is imported, never at run time)."""


class UnknownHandler(RoutingError, KeyError):
    """No handler has this name; the message lists those that exist."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else ""


class HandlerFailed(MailcoreError):
    """A business handler refused or crashed on a payload.

    `failure` names the kind of failure when the handler knows it better than "the handler
    refused" (a mailcore.processing.vocabulary.FailureKind value, e.g. "unknown_identifier"
    for a reference it has no file for): the console then tells the operator what to do.
    """

    failure: str | None = None

    def __init__(self, message: str = "", *, failure: str | None = None) -> None:
        super().__init__(message)
        self.failure = failure


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


class AuthError(MailcoreError):
    """Credentials were refused or cannot be had (an OAuth2 token missing or not refreshable);
    the message says what to run."""


class TokenRefreshFailed(AuthError):
    """The identity provider refused to refresh an account's OAuth2 token (the refresh token
    was revoked or expired: ``invalid_grant``); only a new ``mailcore oauth2 login`` helps."""
