"""[[mailboxes]] in the settings: entries inherit the top level, the environment overrides
them, and every mistake is a ConfigError saying what to fix."""

from __future__ import annotations

from typing import Any

import pytest

from mailcore.config import Settings
from mailcore.errors import ConfigError

TOP = {"maildir": "/srv/mail/a", "handlers": "app.a:registry", "folders": {"failed": "F"}}


def entry(name: str, **keys: Any) -> dict[str, Any]:
    return {"name": name, **keys}


def test_one_mailbox_is_the_default_as_before() -> None:
    settings = Settings.from_mapping(TOP)
    assert [m.mailbox_name for m in settings.all_mailboxes()] == ["default"]
    assert settings.all_mailboxes()[0] is settings


def test_entries_inherit_the_top_level_but_not_its_mailbox_or_credentials() -> None:
    data = {
        **TOP,
        "imap_password": "top-secret",
        "proxy": "socks5://127.0.0.1:1080",
        "mailboxes": [
            entry("orders", imap_url="imaps://o@mail.example.com/", folders={"processed": "done"}),
            entry("orders-eu", maildir="/srv/mail/eu", handlers="app.eu:registry",
                  ident={"domain": "eu.example.com"}),
        ],
    }  # fmt: skip
    default, orders, eu = Settings.from_mapping(data).all_mailboxes()
    assert default.mailbox_name == "default" and default.maildir == "/srv/mail/a"
    assert (orders.imap_url, orders.maildir, orders.imap_password) == (
        "imaps://o@mail.example.com/",
        None,
        None,
    )
    assert orders.proxy == "socks5://127.0.0.1:1080" and orders.handlers == "app.a:registry"
    assert (orders.folders.processed, orders.folders.failed) == ("done", "F")
    assert eu.handlers == "app.eu:registry" and eu.scheme.domain == "eu.example.com"
    assert default.scheme.domain == "example.com"


def test_only_entries_and_one_named_default() -> None:
    data = {"mailboxes": [entry("default", maildir="/a"), entry("b", maildir="/b")]}
    settings = Settings.from_mapping(data)
    assert [m.mailbox_name for m in settings.all_mailboxes()] == ["default", "b"]
    assert settings.mailbox("b").maildir == "/b"
    with pytest.raises(ConfigError, match="no mailbox named 'c'.*default, b"):
        settings.mailbox("c")


def test_environment_overrides_an_entry_by_its_name() -> None:
    data = {
        "mailboxes": [
            entry("orders", maildir="/o", folders={"processed": "done"}),
            entry("orders-eu", maildir="/eu"),
        ]
    }
    env = {
        "MAILCORE_MAILBOXES_ORDERS_EU_FOLDERS_FAILED": "eu-failed",
        "MAILCORE_MAILBOXES_ORDERS_MAILDIR": "/elsewhere",
        "MAILCORE_MAILBOXES_ORDERS_FOLDERS_FAILED": "o-failed",
    }
    orders, eu = Settings.from_mapping(data, env).all_mailboxes()
    assert orders.maildir == "/elsewhere"
    assert (orders.folders.processed, orders.folders.failed) == ("done", "o-failed")
    assert eu.folders.failed == "eu-failed" and eu.maildir == "/eu"
    with pytest.raises(ConfigError, match="MAILCORE_MAILBOXES_NOPE_MAILDIR names no configured"):
        Settings.from_mapping(data, {"MAILCORE_MAILBOXES_NOPE_MAILDIR": "/x"})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mailboxes": {"name": "a"}}, "must be a list of tables"),
        ({"mailboxes": [entry("Orders", maildir="/a")]}, "needs a name: lower-case letters"),
        ({"mailboxes": [entry("x" * 33, maildir="/a")]}, "at most 32"),
        ({"mailboxes": [{"maildir": "/a"}]}, "number 1 in settings needs a name"),
        ({**TOP, "mailboxes": [entry("default", maildir="/b")]}, "name of the top-level"),
        (
            {"mailboxes": [entry("a", maildir="/b"), entry("a", maildir="/c")]},
            "two mailboxes are named 'a'",
        ),
        (
            {"mailboxes": [entry("a", maildir="/b"), entry("b", maildir="/b")]},
            "mailboxes 'a' and 'b' both read 'INBOX'",
        ),
        ({**TOP, "mailboxes": [entry("b", maildir=TOP["maildir"])]}, "'default' and 'b' both"),
        ({"mailboxes": [entry("a")]}, "'a' of settings needs its own imap_url or maildir"),
        ({"mailboxes": [entry("a", maildir="/b", retention_days=3)]}, "unknown key.*retention"),
        ({"mailboxes": [entry("a", maildir="/b", folders={"nope": "x"})]}, "nope in \\[folders\\]"),
        ({"mailboxes": [entry("a", maildir="/b", folders="x")]}, "must be a table"),
        ({"mailboxes": [entry("a", imap_url="http://x/")]}, "'a' of settings: imap_url must"),
        ({"mailboxes": [entry("a", maildir="/b", use_move="maybe")]}, "use_move .* bool"),
        (
            {"mailboxes": [entry("a", maildir="/b", folders={"failed": "processed"})]},
            "'a' of settings: folder names must be distinct",
        ),
    ],
)
def test_a_bad_entry_says_what_to_fix(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_mapping(data)


def test_a_file_with_entries(tmp_path: Any) -> None:
    path = tmp_path / "mailcore.toml"
    path.write_text(
        'maildir = "/a"\n[[mailboxes]]\nname = "b"\nmaildir = "/b"\n'
        '[mailboxes.folders]\nprocessed = "b-done"\n[mailboxes.ident]\nlocal_part = "b"\n'
    )
    default, b = Settings.load(path, env={}).all_mailboxes()
    assert b.source == str(path) and b.folders.processed == "b-done"
    assert b.scheme.local_part == "b" and default.scheme.local_part == "reply"
