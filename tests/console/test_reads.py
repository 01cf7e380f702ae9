"""The console keeps what it read: one failed mail is fetched and extracted once for its detail
page, its HTML frame, the validations while the operator types and the resubmit."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing import extractor
from tests.console.conftest import ConsoleEnv, csrf_token, failed_uid

CORRECTED = (
    '{"plate_number": "PQ-321-RS", "vin": "VF1FL000123456789",'
    ' "owner": "Flotte Roux SAS", "category": "van"}'
)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times the real Maildir fetched bodies and the engine extracted a mail."""
    counts: Counter[str] = Counter()
    fetch, extract = MaildirMailbox.fetch, extractor.extract

    def counting_fetch(self: MaildirMailbox, folder: str, uids: Any) -> dict[int, bytes]:
        counts["fetch"] += 1
        return fetch(self, folder, uids)

    def counting_extract(raw: bytes, **kwargs: Any) -> Any:
        counts["extract"] += 1
        return extract(raw, **kwargs)

    monkeypatch.setattr(MaildirMailbox, "fetch", counting_fetch)
    monkeypatch.setattr(extractor, "extract", counting_extract)
    return counts


def test_detail_frame_ten_validates_and_resubmit_read_the_mail_once(
    demo_env: ConsoleEnv, reads: Counter[str]
) -> None:
    client = demo_env.client("olivia")
    uid = failed_uid(demo_env, "VEH-1046")
    reads.clear()
    token = csrf_token(client, f"/failed/{uid}")  # the detail page
    client.get(f"/failed/{uid}/html")  # its frame (404 when the mail has no HTML)
    for n in range(10):
        typed = CORRECTED[: len(CORRECTED) - 10 + n]  # the operator typing
        response = client.post(
            f"/failed/{uid}/validate",
            data={"payload": typed, "syntax": "json", "handler": ""},
            headers={"X-CSRFToken": token, "HX-Request": "true"},
        )
        assert response.status_code == 200
    assert reads == {"fetch": 1, "extract": 1}
    response = client.post(
        f"/failed/{uid}/resubmit",
        data={"payload": CORRECTED, "syntax": "json", "handler": "", "csrf_token": token},
    )
    assert response.status_code == 303
    assert uid not in demo_env.services.mailbox.uids("failed")  # handled and filed
    assert reads == {"fetch": 1, "extract": 1}  # the handler got what the detail page read


def test_a_mail_moved_away_meanwhile_is_not_shown_from_what_was_kept(
    demo_env: ConsoleEnv, reads: Counter[str]
) -> None:
    client = demo_env.client("olivia")
    uid = failed_uid(demo_env, "VEH-1046")
    processed = demo_env.services.mailbox.uids("processed")
    assert client.get(f"/failed/{uid}").status_code == 200
    demo_env.services.mailbox.move("failed", [uid], "rejected")  # another console, another poller
    assert client.get(f"/failed/{uid}").status_code == 404
    token = csrf_token(client, "/failed/")
    response = client.post(
        f"/failed/{uid}/resubmit",
        data={"payload": CORRECTED, "syntax": "json", "handler": "", "csrf_token": token},
    )
    assert response.status_code == 404
    assert demo_env.services.mailbox.uids("processed") == processed  # no handler ran on it
