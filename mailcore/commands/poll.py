"""`mailcore poll`: run the inbox through the handlers, once, in a loop, or woken by IMAP IDLE.

Every configured mailbox (`Settings.all_mailboxes`) gets an engine of its own; `--mailbox NAME`
works one. A single poll works them in turn; `--loop` and `--idle` run one thread per mailbox,
each with its own backoff (and IDLE connection), so a mailbox whose server is down is retried
alone while the others go on.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import click
import sqlalchemy as sa

from mailcore.config import Settings, open_mailbox
from mailcore.errors import ConfigError, MailcoreError
from mailcore.mailboxes.imap import ImapMailbox
from mailcore.mailboxes.protocol import Mailbox
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


@dataclass(frozen=True)
class Run:
    """How `mailcore poll` was asked to run."""

    size: int  # messages per batch
    pause: float  # seconds between polls
    loop: bool
    idle: bool
    until_empty: bool
    max_polls: int | None


@dataclass
class MailboxLoop:
    """One configured mailbox as `poll` works it: its engine and its own backoff, so that a
    mailbox that fails (its server down) waits alone while the others go on."""

    name: str
    engine: Engine
    mailbox: Mailbox
    backoff: Backoff
    label: str = ""  # put before each output line: the mailbox's name when there are several

    @property
    def inbox(self) -> str:
        return self.engine.folders.inbox


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings.")
@click.option(
    "--handlers",
    help="The Registry to use, as package.module:attribute (for every mailbox worked).",
)
@click.option("--mailbox", "mailbox_name", help="Work only this configured mailbox (its name).")
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
    mailbox_name: str | None,
    loop: bool,
    idle: bool,
    interval: float | None,
    batch_size: int | None,
    max_polls: int | None,
    until_empty: bool,
) -> None:
    """Process the inbox of every configured mailbox (or --mailbox NAME): each message to its
    mailbox's handler, then to processed, failed or auto. Several mailboxes are polled side by
    side; one that fails is retried alone, and a single poll exits 1 after the others."""
    try:
        settings = Settings.load(config_path)
        chosen = [settings.mailbox(mailbox_name)] if mailbox_name else settings.all_mailboxes()
        registries = {m.mailbox_name: _registry(handlers or m.handlers, m, chosen) for m in chosen}
        opened = _open_all(chosen)  # first: without a mailbox, no database is created
    except MailcoreError as e:
        raise click.ClickException(str(e)) from None
    history = _open_history(settings)
    pause = interval if interval is not None else settings.poll_interval
    run = Run(batch_size or settings.batch_size, pause, loop, idle, until_empty, max_polls)
    retention = RetentionSchedule(history)
    try:
        loops = _loops(settings, chosen, registries, opened, history, run)
        if len(loops) == 1:
            _run(loops[0], run, retention)
        elif loop or idle:
            _side_by_side(loops, run, retention)
        else:
            _each_once(loops, run, retention)
    except KeyboardInterrupt:
        click.echo("stopped")
    except MailcoreError as e:
        raise click.ClickException(str(e)) from None
    finally:
        _close(opened.values())  # an IMAP mailbox closes its IDLE connection too
        history.close()


def _open_all(chosen: list[Settings]) -> dict[str, Mailbox]:
    """Each chosen mailbox, opened (those opened closed again when one cannot be)."""
    opened: dict[str, Mailbox] = {}
    try:
        for m in chosen:
            opened[m.mailbox_name] = open_mailbox(m)
    except BaseException:
        _close(opened.values())
        raise
    return opened


def _loops(
    settings: Settings,
    chosen: list[Settings],
    registries: dict[str, Registry],
    opened: dict[str, Mailbox],
    history: History,
    run: Run,
) -> list[MailboxLoop]:
    """An engine and a backoff per mailbox, on the one history; ConfigError when --idle is
    asked of a Maildir."""
    if run.idle:
        maildirs = [n for n, box in opened.items() if not isinstance(box, ImapMailbox)]
        if maildirs:
            which = f" ({', '.join(maildirs)} is a Maildir)" if len(chosen) > 1 else ""
            raise ConfigError(f"--idle needs an IMAP mailbox (set imap_url){which}")
    verifier = security_unwrapper(settings, key_store(settings, history.engine))
    security = verifier.extract if verifier else None
    return [
        MailboxLoop(
            name,
            Engine.from_settings(m, opened[name], registries[name], history, security),
            opened[name],
            Backoff(max(run.pause, MIN_RETRY_SECONDS)),
            label=f"{name}: " if len(chosen) > 1 else "",
        )
        for m in chosen
        if (name := m.mailbox_name)
    ]


def _registry(target: str | None, mailbox: Settings, chosen: list[Settings]) -> Registry:
    """The handlers of a mailbox; ConfigError (naming the mailbox when there are several)
    when none are registered."""
    # Webhook handlers join the registry later (Engine.from_settings): they count as handlers,
    # and they are added to a copy of the module-wide registry, not to it.
    webhooks = mailbox.section("webhooks").get("handlers")
    registry = (load_registry(target) if target else _default_registry()).copy()
    if not registry.names() and not webhooks:
        which = f"mailbox {mailbox.mailbox_name!r}: " if len(chosen) > 1 else ""
        raise ConfigError(
            f"{which}no handlers registered: every message would be filed as failed."
            " Name your Registry with --handlers package.module:registry (or `handlers`),"
            " or declare [[webhooks.handlers]]."
        )
    return registry


def _close(mailboxes: Iterable[Mailbox]) -> None:
    for mailbox in mailboxes:
        try:
            mailbox.close()
        except Exception as e:  # one that will not close must not keep the others open
            logger.warning("closing a mailbox failed: %s", describe_failure(e))


def _run(
    lp: MailboxLoop,
    run: Run,
    retention: RetentionSchedule | None,
    stop: threading.Event | None = None,
) -> None:
    """Poll one mailbox: once, or in a loop (`run`) until `stop` is set. In a loop no
    exception ends it: a failed round is logged and retried after the backoff."""
    keep_going = run.loop or run.idle
    sleep = _pause if stop is None else stop.wait
    polls = 0
    while stop is None or not stop.is_set():
        polls += 1
        left: set[int] = set()
        empty = False
        try:
            if not _drain(lp, run.size) and polls == 1:
                click.echo(f"{lp.label}{lp.inbox}: nothing to do")  # later empty rounds: quiet
            if run.idle:
                left = set(lp.mailbox.uids(lp.inbox))  # what this poll left is not new mail
            if retention is not None:
                retention.maybe_purge()
            empty = run.until_empty and not lp.mailbox.uids(lp.inbox)
            lp.backoff.succeeded()
        except Exception as e:  # in a loop, one bad round (or message) must not end it
            if not keep_going:
                if isinstance(e, MailcoreError):
                    raise
                raise click.ClickException(f"poll failed: {describe_failure(e)}") from None
            _log_failure(f"{lp.label}poll", e, lp.backoff.failed())
        if not keep_going or empty or (run.max_polls is not None and polls >= run.max_polls):
            break
        if lp.backoff.failures:
            sleep(lp.backoff.delay)
        elif run.idle and isinstance(lp.mailbox, ImapMailbox):
            timeout = min(run.pause, IDLE_RENEW_SECONDS)
            _wait_for_mail(lp.mailbox, lp.inbox, timeout, left, lp.backoff.delay, sleep)
        else:
            sleep(run.pause)


def _each_once(loops: list[MailboxLoop], run: Run, retention: RetentionSchedule) -> None:
    """One poll of every mailbox in turn; a mailbox that fails is reported and the others are
    still polled; then ClickException (exit 1) naming those that failed."""
    failed: list[str] = []
    for lp in loops:
        try:
            _run(lp, run, retention)
        except (click.ClickException, MailcoreError) as e:
            text = e.message if isinstance(e, click.ClickException) else str(e)
            logger.error("%spoll failed: %s", lp.label, text)
            click.echo(f"{lp.label}poll failed: {text}", err=True)
            failed.append(lp.name)
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {len(loops)} mailboxes could not be polled: {', '.join(failed)}"
            " (the others were)"
        )


def _side_by_side(loops: list[MailboxLoop], run: Run, retention: RetentionSchedule) -> None:
    """--loop or --idle over several mailboxes: a thread each, every one with its own backoff
    (and IDLE connection); Ctrl-C stops them all. The history is purged from the first."""
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_run,
            args=(lp, run, retention if i == 0 else None, stop),
            name=f"mailcore-poll-{lp.name}",
            daemon=True,
        )
        for i, lp in enumerate(loops)
    ]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(5)


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
    mailbox: ImapMailbox,
    inbox: str,
    timeout: float,
    left: set[int],
    retry: float,
    sleep: Callable[[float], object] | None = None,
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
        (sleep or _pause)(retry)


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


def _drain(lp: MailboxLoop, size: int) -> int:
    """Poll until the inbox holds no more than one partial batch; a line per batch. Returns
    the number of messages worked."""
    total = 0
    while True:
        started = time.perf_counter()
        outcomes = lp.engine.poll_once(size)
        if outcomes:
            click.echo(lp.label + summary_line(outcomes, time.perf_counter() - started))
        total += len(outcomes)
        if len(outcomes) < size:
            return total


def _default_registry() -> Registry:
    from mailcore.processing.registry import registry

    return registry
