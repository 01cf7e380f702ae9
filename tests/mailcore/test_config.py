"""Settings: TOML file, MAILCORE_* environment overrides, and errors naming the bad setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailcore.config import Folders, Settings, open_mailbox
from mailcore.errors import ConfigError
from mailcore.mailboxes.maildir import MaildirMailbox

TOML = """
maildir = "{mail}"
database_url = "sqlite:///{db}"
retention_days = 30
poll_interval = 15
handlers = "myapp.mail:registry"

[folders]
failed = "Failed"

[ident]
domain = "acme.example"

[console]
secret_key = "from-file"
"""


def write(tmp_path: Path, text: str = TOML) -> Path:
    path = tmp_path / "mailcore.toml"
    path.write_text(text.format(mail=tmp_path / "mail", db=tmp_path / "h.db"))
    return path


def test_file_values_are_read(tmp_path: Path):
    s = Settings.load(write(tmp_path), env={})
    assert s.maildir == str(tmp_path / "mail") and s.retention_days == 30
    assert s.poll_interval == 15.0 and s.folders == Folders(failed="Failed")
    assert s.scheme.domain == "acme.example" and s.scheme.reply_address("AB-1").startswith("reply+")
    assert s.section("console") == {"secret_key": "from-file"}


def test_environment_wins_over_the_file(tmp_path: Path):
    env = {
        "MAILCORE_RETENTION_DAYS": "7",
        "MAILCORE_USE_MOVE": "no",
        "MAILCORE_FOLDERS_PROCESSED": "Done",
        "MAILCORE_IDENT_DOMAIN": "env.example",
        "MAILCORE_CONSOLE_SECRET_KEY": "from-env",
        "MAILCORE_CONFIG": str(write(tmp_path)),
    }
    s = Settings.load(env=env)
    assert s.retention_days == 7 and s.use_move is False
    assert s.folders == Folders(processed="Done", failed="Failed")
    assert s.ident.domain == "env.example"
    assert s.section("console")["secret_key"] == "from-env"


def test_defaults_without_a_file():
    s = Settings.load(env={})
    assert s.database_url == "sqlite:///mailcore.db" and s.folders == Folders()


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("retention_day = 3\n", {}, "unknown setting 'retention_day'"),
        ("poll_interval = 'soon'\n", {}, "poll_interval in .* must be a float, got 'soon'"),
        ("", {"MAILCORE_BATCH_SIZE": "many"}, "batch_size in MAILCORE_BATCH_SIZE must be a int"),
        ("imap_url = 'http://x'\n", {}, "imap_url must start with imap:// or imaps://"),
        ("imap_url = 'imap://x'\nmaildir = 'm'\n", {}, "either imap_url or maildir"),
        ("[folders]\nfailed = 'processed'\n", {}, "folder names must be distinct"),
        ("[folders]\nfaild = 'x'\n", {}, r"unknown key\(s\) faild in \[folders\]"),
        ("database_url = 'mailcore.db'\n", {}, "database_url must be a URL"),
        ("this is = not toml", {}, "is not valid TOML"),
    ],
)
def test_errors_say_which_setting_is_wrong(tmp_path: Path, text: str, env: dict, message: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        Settings.load(path, env=env)


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(tmp_path / "nope.toml", env={})


def test_open_mailbox_gives_the_maildir(tmp_path: Path):
    s = Settings.load(write(tmp_path), env={})
    box = open_mailbox(s)
    assert isinstance(box, MaildirMailbox) and box.uids("INBOX") == []


def test_open_mailbox_gives_imap_with_the_password_from_the_environment(dovecot, account):
    from mailcore.mailboxes.imap import ImapMailbox

    url = f"imap://{account.username}@{dovecot.host}:{dovecot.port}/?security=plain"
    s = Settings.load(env={"MAILCORE_IMAP_URL": url, "MAILCORE_IMAP_PASSWORD": account.password})
    box = open_mailbox(s)
    try:
        assert isinstance(box, ImapMailbox) and box.config.password == account.password
    finally:
        box.close()
