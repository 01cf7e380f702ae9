"""`mailcore poll`: run the inbox through the handlers, once, in a loop, or woken by IMAP IDLE."""

from __future__ import annotations

import logging
import time
import traceback
from collections import Counter

import click
import sqlalchemy as sa

from mailcore.config import Settings, open_mailbox
from mailcore.errors import ConfigError, MailcoreError
from mailcore.mailboxes.imap import ImapMailbox
from mailcore.processing.engine import MIN_RETRY_SECONDS, Engine, Outcome
from mailcore.processing.registry import Registry, load_registry
from mailcore.processing.vocabulary import Status
from mailcore.security.service import key_store
from mailcore.security.service import unwrapper as security_unwrapper
from mailcore.store.history import History
from mailcore.store.retention import RetentionSchedule

logger = logging.getLogger(__name__)

# Servers drop an IDLE after 30 minutes of silence (RFC 2177): renew well before.
IDLE_RENEW_SECONDS = 25 * 60
# The longest wait after failed rounds in a row (unless the poll interval is longer).
MAX_RETRY_SECONDS = 300.0


def summary_line(outcomes: list[Outcome], seconds: float) -> str:
    """``12 messages in 0.08s (150/s): 10 processed, 1 failed, 1 auto``."""
    counts = Counter(o.status for o in outcomes)
    parts = [f"{counts[s]} {s}" for s in Status if counts[s]]
    rate = f"{len(outcomes) / seconds:.0f}/s" if seconds > 0 else "-"
    return f"{len(outcomes)} messages in {seconds:.2f}s ({rate}): {', '.join(parts)}"


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings.")
@click.option("--handlers", help="The Registry to use, as package.module:attribute.")
@click.option("--loop", is_flag=True, help="Keep polling every --interval seconds.")
@click.option("--idle", is_flag=True, help="Keep running, woken by IMAP IDLE on new mail.")
@click.option("--interval", type=float, help="Seconds between polls (default: poll_interval).")
@click.option("--batch-size", type=int, help="Messages per batch (default: batch_size).")
@click.option("--max-polls", type=int, hidden=True, help="Stop after this many polls (tests).")
@click.option(
    "--until-empty",
    is_flag=True,
    help="With --loop: stop once the inbox is empty (other pollers' mail included).",
)
def poll(
    config_path: str | None,
    handlers: str | None,
    loop: bool,
    idle: bool,
    interval: float | None,
    batch_size: int | None,
    max_polls: int | None,
    until_empty: bool,
) -> None:
    """Process the inbox: each message to its handler, then to processed, failed or auto."""
    try:
        settings = Settings.load(config_path)
        target = handlers or settings.handlers
        registry = load_registry(target) if target else _default_registry()
    except MailcoreError as e:
        raise click.ClickException(str(e)) from None
    if not registry.names():
        raise click.ClickException(
            "no handlers registered: every message would be filed as failed."
            " Name your Registry with --handlers package.module:registry (or `handlers`)."
        )
    try:
        mailbox = open_mailbox(settings)  # first: without a mailbox, no database is created
    except MailcoreError as e:
        raise click.ClickException(str(e)) from None
    history = _open_history(settings)
    verifier = security_unwrapper(settings, key_store(settings, history.engine))
    security = verifier.extract if verifier else None
    engine = Engine.from_settings(settings, mailbox, registry, history, security)
    size = batch_size or settings.batch_size
    pause = interval if interval is not None else settings.poll_interval
    inbox = settings.folders.inbox
    polls, retention = 0, RetentionSchedule(history)
    backoff = Backoff(max(pause, MIN_RETRY_SECONDS))
    try:
        if idle and not isinstance(mailbox, ImapMailbox):
            raise ConfigError("--idle needs an IMAP mailbox (set imap_url)")
        while True:
            polls += 1
            left: set[int] = set()
            empty = False
            try:
                if not _drain(engine, size) and polls == 1:
                    click.echo(f"{inbox}: nothing to do")  # later empty rounds stay quiet
                if idle:
                    left = set(mailbox.uids(inbox))  # what this poll left is not new mail
                retention.maybe_purge()
                empty = until_empty and not mailbox.uids(inbox)
                backoff.succeeded()
            except Exception as e:  # in a loop, one bad round (or message) must not end it
                if not (loop or idle):
                    if isinstance(e, MailcoreError):
                        raise
                    raise click.ClickException(f"poll failed: {describe_failure(e)}") from None
                _log_failure("poll", e, backoff.failed())
            if not (loop or idle) or empty or (max_polls is not None and polls >= max_polls):
                break
            if backoff.failures:
                _pause(backoff.delay)
            elif idle and isinstance(mailbox, ImapMailbox):
                retry = backoff.delay
                _wait_for_mail(mailbox, inbox, min(pause, IDLE_RENEW_SECONDS), left, retry)
            else:
                _pause(pause)
    except KeyboardInterrupt:
        click.echo("stopped")
    except MailcoreError as e:
        raise click.ClickException(str(e)) from None
    finally:
        mailbox.close()  # an IMAP mailbox closes its IDLE connection too
        history.close()


def _open_history(settings: Settings) -> History:
    """The history, retried a few times: pollers started together on a new database race to
    create its tables, and all but one see "already exists" once."""
    for attempt in range(5):
        try:
            return History(settings.database_url, retention_days=settings.retention_days)
        except sa.exc.DBAPIError as e:
            if attempt == 4:
                raise click.ClickException(
                    f"cannot open the history: {describe_failure(e)}"
                ) from None
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _wait_for_mail(
    mailbox: ImapMailbox, inbox: str, timeout: float, left: set[int], retry: float
) -> None:
    """IMAP IDLE until mail the last poll did not see arrives, or `timeout` passes. Mail the
    poll left in the inbox (one it could not move) does not count, or IDLE would return at
    once, every time. A failure is logged and waits `retry`."""
    try:
        mailbox.wait_for_changes(
            inbox, timeout, pending=lambda: bool(set(mailbox.uids(inbox)) - left)
        )
    except Exception as e:
        _log_failure("waiting for mail", e, retry)
        _pause(retry)


class Backoff:
    """The wait of a polling loop after failed rounds: `base` after the first, doubling with
    each failure in a row up to MAX_RETRY_SECONDS (or `base`, if longer); a round that works
    starts over. Transient trouble (the server restarting, SQLite locked by another writer)
    is retried soon; a long outage is not hammered."""

    def __init__(self, base: float) -> None:
        self.base = base
        self.failures = 0

    @property
    def delay(self) -> float:
        if not self.failures:
            return self.base
        return min(self.base * 2 ** (self.failures - 1), max(self.base, MAX_RETRY_SECONDS))

    def failed(self) -> float:
        """Count a failed round; returns the wait before the next."""
        self.failures += 1
        return self.delay

    def succeeded(self) -> None:
        self.failures = 0


def describe_failure(e: BaseException) -> str:
    """What went wrong, for the log, without what a message holds: a database error is named
    by its driver's first line (SQLAlchemy's own text lists the statement's parameters --
    senders, subjects, Message-IDs); an unexpected error by its type and where it was raised
    (its text may quote a mail)."""
    if isinstance(e, MailcoreError):
        return str(e)
    if isinstance(e, sa.exc.SQLAlchemyError):
        orig = getattr(e, "orig", None)
        first = str(orig).splitlines()[0] if orig is not None and str(orig) else ""
        name = type(orig).__name__ if orig is not None else type(e).__name__
        return f"database error ({name}: {first[:200]})" if first else f"database error ({name})"
    where = traceback.extract_tb(e.__traceback__)
    frames = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in where[-6:])
    return f"unexpected {type(e).__name__} (text not logged: it may quote a mail) at {frames}"


def _log_failure(what: str, e: Exception, retry: float) -> None:
    logger.error("%s failed, retrying in %.0fs: %s", what, retry, describe_failure(e))


def _pause(seconds: float) -> None:
    """Sleep between rounds (one place, so tests can see every wait)."""
    time.sleep(seconds)


def _drain(engine: Engine, size: int) -> int:
    """Poll until the inbox holds no more than one partial batch; a line per batch. Returns
    the number of messages worked."""
    total = 0
    while True:
        started = time.perf_counter()
        outcomes = engine.poll_once(size)
        if outcomes:
            click.echo(summary_line(outcomes, time.perf_counter() - started))
        total += len(outcomes)
        if len(outcomes) < size:
            return total


def _default_registry() -> Registry:
    from mailcore.processing.registry import registry

    return registry
