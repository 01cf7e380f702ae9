"""Filing.transfer records each destination's UIDVALIDITY from the move's result when the
mailbox told it with the new UIDs (IMAP's COPYUID), and asks the mailbox only otherwise."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from mailcore.config import Folders
from mailcore.mailboxes.memory import MemoryMailbox
from mailcore.mailboxes.protocol import MoveResult
from mailcore.processing.filing import Filing
from mailcore.processing.pipeline import Work
from mailcore.store.history import History
from tests.servers import message


class Telling(MemoryMailbox):
    """A MemoryMailbox whose moves tell a UIDVALIDITY (when `tells`), counting the asks."""

    def __init__(self, tells: int | None) -> None:
        super().__init__()
        self.tells = tells
        self.asked: list[str] = []

    def move(self, folder: str, uids: Sequence[int], dest: str) -> MoveResult:
        return MoveResult(super().move(folder, uids, dest).moved, self.tells)

    def uidvalidity(self, folder: str) -> int:
        self.asked.append(folder)
        return super().uidvalidity(folder)


@pytest.mark.parametrize("tells", [4242, None], ids=["told", "asked"])
def test_the_destination_uidvalidity_is_the_one_told_with_the_move(
    history: History, tells: int | None
) -> None:
    box = Telling(tells)
    one, two = (box.append("INBOX", message(subject=s)) or 0 for s in ("one", "two"))
    filing = Filing(box, history, Folders())
    works = [Work(one, "k1", dest="processed"), Work(two, "k2", dest="failed")]

    done, error = filing.transfer("INBOX", works)

    assert error is None
    assert set(done) == {"processed", "failed"}
    for folder, (result, validity) in done.items():
        assert list(result.moved) == [one if folder == "processed" else two]
        assert validity == (tells or MemoryMailbox.uidvalidity(box, folder))
    assert box.asked == ([] if tells else ["processed", "failed"])
