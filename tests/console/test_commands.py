"""`mailcore serve --poll`'s background poller, and the console commands' start-up checks."""

from __future__ import annotations

import time
from pathlib import Path

from console.commands import Poller
from mailcore.engine import Engine
from mailcore.maildir import MaildirMailbox
from tests.mailcore.engine_support import Calls, make_registry, vehicle_mail
from tests.mailcore.test_retention import FailingOnce


def test_background_poller_purges_and_survives_a_purge_error(tmp_path: Path):
    box = MaildirMailbox(tmp_path / "mail")
    box.append("INBOX", vehicle_mail(plate="BEFORE"))

    class Delivering(FailingOnce):
        # The failing purge brings new mail, which only a poll after it can handle.
        side_effect = staticmethod(lambda: box.append("INBOX", vehicle_mail(plate="AFTER")))

    history = Delivering(f"sqlite:///{tmp_path / 'h.db'}", retention_days=30)
    calls = Calls()
    poller = Poller(Engine(box, make_registry(calls), history), 0.02).start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        poller.stop()
        history.close()
    assert history.purges == 1  # tried after the first poll; not again within the hour
    assert [payload["plate_number"] for _, payload in calls] == ["BEFORE", "AFTER"]
    assert box.uids("INBOX") == []
