"""Fixtures of the engine tests: each test runs on the embedded Maildir and on a private Dovecot.

def test_x(engine, mailbox, calls):      # [maildir] and [imap]
    deliver(mailbox, vehicle_mail())
    engine.poll_once()
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.mailboxes.protocol import Mailbox
from mailcore.store.history import History
from tests.mailcore.engine_support import Calls, ready_account


@pytest.fixture(params=["maildir", "imap"])
def mailbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Mailbox]:
    """The same engine tests on the embedded Maildir and on a private Dovecot."""
    if request.param == "maildir":
        box = MaildirMailbox(tmp_path / "mail")
        yield box
        box.close()
    else:
        dovecot = request.getfixturevalue("dovecot")
        account = ready_account(dovecot)
        request.node.mc_account = account  # for `external` deliveries
        yield request.getfixturevalue("make_imap_mailbox")(account)


@pytest.fixture
def external(mailbox: Mailbox, request: pytest.FixtureRequest) -> Callable[[bytes], None]:
    """Deliver into INBOX as another party would: an MTA's file, another IMAP session."""
    account = getattr(request.node, "mc_account", None)

    def deliver(raw: bytes) -> None:
        if account is not None:
            account.append("INBOX", raw)
        else:
            assert isinstance(mailbox, MaildirMailbox)
            (Path(mailbox.root) / "new" / f"{time.time_ns()}.M1P1.mta").write_bytes(raw)

    return deliver


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(f"sqlite:///{tmp_path / 'history.db'}")
    yield h
    h.close()


@pytest.fixture
def calls() -> Calls:
    return Calls()
