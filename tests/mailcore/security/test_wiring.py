"""`mailcore poll` and the console's services verify with the configured [security] keys."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mailcore.commands.poll import poll
from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.registry import HandlerContext, Registry
from mailcore.store.history import History
from tests.mailcore.security import mails
from tests.mailcore.security.material import Material

HANDLED: list[HandlerContext] = []
registry = Registry()
registry.add("vehicle", HANDLED.append, prefix="VEH-", requires_signature=True)


def settings_file(tmp_path: Path, material: Material, verify: bool = True) -> Path:
    path = tmp_path / "mailcore.toml"
    path.write_text(
        f'maildir = "{tmp_path / "mail"}"\n'
        f'database_url = "sqlite:///{tmp_path / "h.db"}"\n'
        f"[security]\nverify = {str(verify).lower()}\n"
        f'smime_trust_store = "{material.ca.cert}"\n'
    )
    return path


def test_poll_verifies_with_the_configured_trust_store(tmp_path: Path, material: Material) -> None:
    HANDLED.clear()
    box = MaildirMailbox(tmp_path / "mail")
    box.append("INBOX", mails.smime_signed(material.partner))
    box.append("INBOX", mails.smime_signed(material.stranger))
    box.append("INBOX", mails.plain())
    cfg = settings_file(tmp_path, material)
    handlers = f"{__name__}:registry"
    result = CliRunner().invoke(poll, ["--config", str(cfg), "--handlers", handlers], env={})
    assert result.exit_code == 0, result.output
    assert len(HANDLED) == 1 and HANDLED[0].extraction.security is not None
    assert HANDLED[0].extraction.security.trusted
    history = History(f"sqlite:///{tmp_path / 'h.db'}")
    reasons = sorted(e.reason or "" for e in history.events(kind="failed"))
    history.close()
    assert len(reasons) == 2
    assert "certificate not trusted" in reasons[0] or "certificate not trusted" in reasons[1]
    assert any("the mail is not signed" in r for r in reasons)


def test_verify_false_turns_it_off(tmp_path: Path, material: Material) -> None:
    HANDLED.clear()
    box = MaildirMailbox(tmp_path / "mail")
    box.append("INBOX", mails.smime_signed(material.partner))
    cfg = settings_file(tmp_path, material, verify=False)
    handlers = f"{__name__}:registry"
    result = CliRunner().invoke(poll, ["--config", str(cfg), "--handlers", handlers], env={})
    assert result.exit_code == 0, result.output
    assert HANDLED == []  # without verification nothing proves the signature


def test_the_consoles_engine_verifies_too(tmp_path: Path, material: Material) -> None:
    from console.services import build_services
    from mailcore.config import Settings

    HANDLED.clear()
    services = build_services(Settings.load(str(settings_file(tmp_path, material))), registry)
    try:
        services.mailbox.append("INBOX", mails.smime_signed(material.partner))
        [outcome] = services.engine.poll_once()
    finally:
        services.close()
    assert outcome.status == "processed" and len(HANDLED) == 1
