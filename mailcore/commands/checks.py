"""What `mailcore check` looks at, one probe per part, each returning `Finding`s: a mailbox
(login, capabilities, folders), the SMTP server (TLS, AUTH, login, sender), the database
(reachable, schema revision) and the OAuth2 tokens. Probes only read: no folder is created,
no mail sent, no database changed."""

from __future__ import annotations

import os
import smtplib
from dataclasses import astuple, dataclass
from enum import StrEnum

import sqlalchemy as sa

from mailcore.config import Settings, open_mailbox
from mailcore.errors import MailcoreError
from mailcore.mailboxes.imap import ImapMailbox
from mailcore.mailboxes.protocol import Mailbox

__all__ = [
    "CAPABILITIES",
    "Finding",
    "Level",
    "database_findings",
    "mailbox_findings",
    "smtp_findings",
    "token_findings",
]


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"  # works, with a consequence worth knowing
    FAIL = "FAIL"  # cannot work as configured: `mailcore check` exits 1


@dataclass(frozen=True)
class Finding:
    level: Level
    part: str  # "mailbox default", "SMTP", "database", "OAuth2 account x"
    text: str
    fix: str = ""

    def line(self) -> str:
        fix = f"\n         fix: {self.fix}" if self.fix else ""
        return f"[{self.level:>4}] {self.part}: {self.text}{fix}"


# The IMAP capabilities the engine uses, and what their absence costs.
CAPABILITIES: dict[str, tuple[Level, str]] = {
    "MOVE": (Level.WARN, "moves are COPY, then \\Deleted and EXPUNGE (more commands per batch)"),
    "UIDPLUS": (
        Level.WARN,
        "copies are found by Message-ID; without MOVE too, moved mail stays in the inbox flagged"
        " \\Deleted (expunge it yourself)",
    ),
    "IDLE": (Level.WARN, "`mailcore poll --idle` waits poll_interval instead: use --loop"),
    "QRESYNC": (Level.OK, "expunges come one line per message (large moves are slower)"),
    "CONDSTORE": (Level.OK, "no modification sequences (not needed)"),
}


def mailbox_findings(settings: Settings) -> list[Finding]:
    """Log in to the mailbox of `settings`, report its capabilities and missing folders."""
    part = f"mailbox {settings.mailbox_name}"
    if settings.maildir and not settings.imap_url and not os.path.isdir(settings.maildir):
        fix = "create it, or correct maildir (the first `mailcore poll` creates it too)"
        return [Finding(Level.FAIL, part, f"no Maildir at {settings.maildir}", fix)]
    try:
        mailbox = open_mailbox(settings)  # a Maildir that exists, or nothing connected yet
    except MailcoreError as exc:
        return [Finding(Level.FAIL, part, str(exc), "correct the mailbox's settings")]
    if isinstance(mailbox, ImapMailbox):
        mailbox = ImapMailbox(mailbox.config, retries=0)  # report at once, never retry
        part = f"{part} ({mailbox.config.username}@{mailbox.config.address})"
    try:
        return _folders(mailbox, settings, part, _capabilities(mailbox, part))
    except MailcoreError as exc:
        fix = "what the message names (settings, server, network); then check again"
        return [Finding(Level.FAIL, part, str(exc), fix)]
    finally:
        mailbox.close()


def _capabilities(mailbox: Mailbox, part: str) -> list[Finding]:
    if not isinstance(mailbox, ImapMailbox):
        return [Finding(Level.OK, part, "Maildir: every operation is local")]
    mailbox.connect()
    caps = mailbox.capabilities
    used = [c for c in CAPABILITIES if c in caps]
    found = [Finding(Level.OK, part, f"logged in; offers {' '.join(used) or 'none of'} {_USED}")]
    for name, (level, cost) in CAPABILITIES.items():
        if name not in caps:
            found.append(Finding(level, part, f"no {name}: {cost}"))
    return found


_USED = "(of MOVE UIDPLUS IDLE QRESYNC CONDSTORE)"


def _folders(
    mailbox: Mailbox, settings: Settings, part: str, found: list[Finding]
) -> list[Finding]:
    missing = []
    for folder in dict.fromkeys(astuple(settings.folders)):
        try:
            mailbox.uidvalidity(folder)
        except MailcoreError:
            missing.append(folder)
    inbox = settings.folders.inbox
    if inbox in missing:
        fix = "correct [folders] inbox, or the account (its inbox is what mailcore reads)"
        found.append(Finding(Level.FAIL, part, f"no inbox folder {inbox!r}", fix))
        missing.remove(inbox)
    if missing:
        names = ", ".join(repr(f) for f in missing)
        fix = "the first `mailcore poll` (or the console) creates them, if the account may"
        found.append(Finding(Level.WARN, part, f"folders missing: {names}", fix))
    else:
        found.append(Finding(Level.OK, part, "every folder of [folders] exists"))
    return found


def smtp_findings(settings: Settings) -> list[Finding]:
    """Connect to the [smtp] server, log in as configured, and send nothing."""
    from mailcore.outbound.settings import MISSING_SENDER, configured_sender, smtp_server
    from mailcore.outbound.smtp import _connect

    try:
        config = smtp_server(settings)
    except MailcoreError as exc:
        return [Finding(Level.FAIL, "SMTP", str(exc), "correct the [smtp] table")]
    if config is None:
        text = "no [smtp] url: nothing is sent (`mailcore send` and the console's tests need it)"
        return [Finding(Level.OK, "SMTP", text)]
    part = f"SMTP {config.host}:{config.effective_port}"
    try:
        client = _connect(config)
    except MailcoreError as exc:
        return [Finding(Level.FAIL, part, str(exc), "check [smtp] url, security and the login")]
    try:
        auth = client.esmtp_features.get("auth", "").upper().split()
        login = f"logged in as {config.username}" if config.username else "no login configured"
        tls = {"tls": "TLS", "starttls": "STARTTLS", "plain": "no TLS"}[config.security]
        text = f"{tls}; AUTH {' '.join(auth) or 'not offered'}; {login}"
        found = [Finding(Level.OK, part, text)]
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    if not configured_sender(settings, config):
        found.append(Finding(Level.FAIL, "SMTP", "no sender address", MISSING_SENDER))
    return found


def database_findings(settings: Settings) -> list[Finding]:
    """Whether the database answers, and where its schema stands."""
    from mailcore.store import migrations
    from mailcore.store.db import engine_for

    try:
        engine = engine_for(settings.database_url)
    except MailcoreError as exc:
        return [Finding(Level.FAIL, "database", str(exc), "correct database_url")]
    part = f"database {engine.url.render_as_string(hide_password=True)}"
    try:
        with engine.connect() as conn:
            state = migrations.state(conn)
    except sa.exc.DBAPIError as exc:
        fix = "check database_url, and that the database server runs and lets this user in"
        return [Finding(Level.FAIL, part, f"cannot connect: {exc.orig}", fix)]
    finally:
        engine.dispose()
    if state.is_current or state.empty:
        return [Finding(Level.OK, part, state.describe())]
    sqlite = engine.dialect.name == "sqlite" and state.known
    level = Level.WARN if sqlite else Level.FAIL
    fix = "run `mailcore migrate`" + (" (or any command: SQLite is upgraded at start)" * sqlite)
    return [Finding(level, part, state.describe(), fix if state.known else "upgrade mailcore")]


def token_findings(settings: Settings) -> list[Finding]:
    """The OAuth2 accounts' tokens, when the settings sign in with OAuth2."""
    from mailcore.oauth2 import token_states
    from mailcore.oauth2.providers import configured
    from mailcore.store import migrations
    from mailcore.store.db import engine_for
    from mailcore.store.oauth_tokens import TokenHealth

    if not configured(settings.section("oauth2")):
        return []
    try:
        engine = engine_for(settings.database_url)
        try:
            with engine.connect() as conn:
                if not migrations.state(conn).is_current:
                    return []  # the database's finding says what to do first
            states = token_states(settings, engine)
        finally:
            engine.dispose()
    except (MailcoreError, sa.exc.DBAPIError) as exc:
        return [Finding(Level.FAIL, "OAuth2", str(exc), "see the database's line")]
    if not states:
        fix = "run `mailcore oauth2 login`"
        return [Finding(Level.FAIL, "OAuth2", "no account is signed in", fix)]
    found = []
    for state in states:
        failing = state.health() is TokenHealth.FAILING
        level = Level.FAIL if failing else Level.OK
        fix = "run `mailcore oauth2 login` again" if failing else ""
        found.append(Finding(level, f"OAuth2 account {state.account}", state.describe(), fix))
    return found
