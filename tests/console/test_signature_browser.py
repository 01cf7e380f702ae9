"""In Chromium: the failed list marks mail refused for its signature, the detail page shows
who signed and why it is not trusted, and a handler that requires a signature refuses an
unsigned mail while taking the one its partner signed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from console import create_app
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.security.keyring import Keyring, smime_key
from mailcore.security.unwrap import Unwrapper
from tests.console.conftest import USERS, ConsoleEnv, make_services
from tests.mailcore.security import mails
from tests.mailcore.security.fixtures import material
from tests.mailcore.security.material import PARTNER, Material

__all__ = ["material"]

pytestmark = pytest.mark.browser


@pytest.fixture
def console_env(tmp_path: Path, material: Material) -> Iterator[ConsoleEnv]:
    """The console on a Maildir whose engine verifies, with a handler that requires a
    signature; three mails polled: signed by the partner, by a stranger, unsigned."""
    handled: list[HandlerContext] = []
    registry = Registry()

    def transfer(ctx: HandlerContext) -> None:
        handled.append(ctx)

    registry.add("transfer", transfer, prefix="VEH-", requires_signature=True)
    box = MaildirMailbox(tmp_path / "mail")
    svc, office = make_services(box, tmp_path / "console.db", registry)
    ours = smime_key(material.ours.pem, material.ours.key.read_bytes())
    u = Unwrapper(Keyring(smime_trusted=material.ca.pem, smime_keys=(ours,)))
    svc.engine = Engine(box, registry, svc.history, security=u.extract)
    for name, (role, password) in USERS.items():
        svc.accounts.create(name, password, role, by="test")
    box.append("INBOX", mails.smime_signed(material.partner))
    box.append("INBOX", mails.smime_signed(material.stranger).replace(b"update", b"stranger", 1))
    box.append("INBOX", mails.plain().replace(b"update", b"unsigned", 1))
    sealed = mails.smime_encrypted(
        material.ours, mails.strip_outer(mails.smime_signed(material.other))
    )
    box.append("INBOX", sealed.replace(b"update", b"sealed", 1))
    outcomes = svc.engine.poll_once()
    assert [str(o.status) for o in outcomes] == ["processed", "failed", "failed", "failed"]
    assert len(handled) == 1 and handled[0].extraction.security is not None
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "MAILCORE_SERVICES": svc})
    yield ConsoleEnv(app, svc, office)
    u.close()
    svc.close()


def test_signature_badges_and_the_refusal(
    page: Any, login: Callable[..., None], console_env: ConsoleEnv
) -> None:
    login(page, "olivia")
    page.goto("/failed/")
    unsigned = page.locator("table.failed tbody tr", has_text="[VEH-1] unsigned")
    stranger = page.locator("table.failed tbody tr", has_text="[VEH-1] stranger")
    assert unsigned.locator(".signature-badge").inner_text() == "unsigned"
    assert "requires a valid, trusted signature" in unsigned.locator("td.reason").inner_text()
    assert stranger.locator(".signature-badge").inner_text() == "bad signature"
    assert page.locator("table.failed tbody tr", has_text="[VEH-1] update").count() == 0

    stranger.locator("td.subject a").click()
    badge = page.locator("#signature-badge")
    badge.wait_for()
    assert badge.inner_text() == f"signed by {PARTNER}, not trusted"
    assert "status bad" in (badge.get_attribute("class") or "")
    assert "certificate not trusted" in page.locator("#signature-reason").inner_text()
    assert "certificate not trusted" in page.locator("#failure-reason").inner_text()

    page.goto("/failed/")
    page.locator("table.failed tbody tr", has_text="[VEH-1] unsigned").locator(
        "td.subject a"
    ).click()
    page.locator("#failure-reason").wait_for()
    assert page.locator("#signature-badge").count() == 0  # nothing signed, nothing shown
    assert page.locator("#failure-reason").inner_text().endswith("the mail is not signed")

    page.goto("/failed/")
    page.locator("table.failed tbody tr", has_text="[VEH-1] sealed").locator("td.subject a").click()
    page.locator("#encryption-badge").wait_for()
    assert page.locator("#encryption-badge").inner_text() == "decrypted"
    assert "S/MIME encrypted (decrypted for" in page.locator("#security").inner_text()
    assert page.locator("#signature-badge").inner_text().endswith("not the sender")
    assert "AB-123" in page.locator("pre.mailtext").first.inner_text()  # the decrypted text
