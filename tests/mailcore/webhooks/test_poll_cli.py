"""`mailcore poll` with webhook handlers only: a back office in another language is the
configuration's only handler, and the mail reaches it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mailcore.cli import main
from mailcore.mailboxes.maildir import MaildirMailbox
from tests.mailcore.webhooks.test_handlers import order_mail
from tests.webhook_receiver import WebhookReceiver

SECRET_ENV = "MAILCORE_WEBHOOK_POLL_SECRET"


def _config(tmp_path: Path, url: str) -> Path:
    schema = tmp_path / "order.json"
    schema.write_text(json.dumps({"type": "object", "required": ["qty"]}), encoding="utf-8")
    config = tmp_path / "mailcore.toml"
    config.write_text(
        f'maildir = "{tmp_path / "mail"}"\n'
        f'database_url = "sqlite:///{tmp_path / "history.db"}"\n'
        "[[webhooks.handlers]]\n"
        f'name = "orders"\nurl = "{url}"\nprefix = "ORD-"\nschema = "order.json"\n'
        f'secret_env = "{SECRET_ENV}"\ntimeout = 2.0\nretries = 1\n',
        encoding="utf-8",
    )
    return config


def test_poll_runs_with_webhook_handlers_only(
    tmp_path: Path, receiver: WebhookReceiver, secret: str
) -> None:
    MaildirMailbox(tmp_path / "mail").append("INBOX", order_mail())
    config = _config(tmp_path, receiver.url)

    result = CliRunner().invoke(
        main, ["poll", "--config", str(config)], env={SECRET_ENV: secret, "MAILCORE_CONFIG": ""}
    )

    assert result.exit_code == 0, result.output
    assert "1 processed" in result.output
    [got] = receiver.received
    assert got.verified and got.body is not None and got.body["payload"]["qty"] == 3
    assert MaildirMailbox(tmp_path / "mail").uids("processed")
