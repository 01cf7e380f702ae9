"""The console over two configured mailboxes (two Maildirs, both with a UID 1 in `failed`):
the failed list shows both with their mailbox and filters by it, a message's page and its
actions are that mailbox's (?mailbox=NAME), a re-submitted mail of the second lands in the
second's processed folder; one mailbox shows no mailbox at all."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console import create_app
from console.services import Services, build_services
from mailcore.config import Settings
from mailcore.mailboxes.maildir import MaildirMailbox
from tests.console.conftest import USERS, ConsoleEnv, csrf_token
from tests.mailcore.engine_support import deliver, vehicle_mail

SUPPORT = "tests.mailcore.mailboxes_support"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    a, b = MaildirMailbox(tmp_path / "a"), MaildirMailbox(tmp_path / "b")
    deliver(a, vehicle_mail(plate="REFUSE", ident="VEH-A1"))
    deliver(b, vehicle_mail(plate="REFUSE", ident="VEH-B1"), vehicle_mail(plate="B-OK"))
    settings = Settings.from_mapping(
        {
            "maildir": str(tmp_path / "a"),
            "handlers": f"{SUPPORT}:orders",
            "database_url": f"sqlite:///{tmp_path / 'h.db'}",
            "mailboxes": [
                {
                    "name": "returns",
                    "maildir": str(tmp_path / "b"),
                    "handlers": f"{SUPPORT}:returns",
                    "folders": {"processed": "returned"},
                }
            ],
        }
    )
    svc = build_services(settings)
    for engine in svc.engines.values():
        engine.poll_once()
    for name, (role, password) in USERS.items():
        svc.accounts.create(name, password, role, by="test")
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "MAILCORE_SERVICES": svc})
    yield ConsoleEnv(app, svc, None)  # type: ignore[arg-type]
    svc.close()


def rows(html: str) -> list[tuple[str, str]]:
    """(mailbox, subject) of each row of a list."""
    found = re.findall(
        r'<td class="mailbox">([^<]*)</td>.*?<td class="subject"><a href="[^"]*">([^<]*)</a>',
        html,
        re.S,
    )
    return [(m, s) for m, s in found]


def test_the_list_shows_every_mailbox_and_filters_by_one(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    every = client.get("/failed/").get_data(as_text=True)
    assert rows(every) == [
        ("default", "[VEH-A1] Vehicle update"),
        ("returns", "[VEH-B1] Vehicle update"),
    ]
    assert "All mailboxes" in every and "2 messages" in every
    only = client.get("/failed/?mailbox=returns").get_data(as_text=True)
    assert rows(only) == [("returns", "[VEH-B1] Vehicle update")]
    assert client.get("/failed/?mailbox=nope").status_code == 404
    paged = client.get("/failed/?per_page=1&page=2").get_data(as_text=True)
    assert rows(paged) == [("returns", "[VEH-B1] Vehicle update")]
    assert "page 2 of 2" in paged


def test_a_message_page_is_of_its_mailbox_though_the_uids_are_the_same(
    env: ConsoleEnv,
) -> None:
    client = env.client("olivia")
    uid_a = env.services.engines["default"].failed_page().items[0].summary.uid
    uid_b = env.services.engines["returns"].failed_page().items[0].summary.uid
    assert uid_a == uid_b == 1  # the same UID in two mailboxes
    every = client.get("/failed/").get_data(as_text=True)
    assert f'href="/failed/{uid_b}?mailbox=returns"' in every
    assert f'href="/failed/{uid_a}"' in every  # the first mailbox's URLs are as they were
    first = client.get(f"/failed/{uid_a}").get_data(as_text=True)
    second = client.get(f"/failed/{uid_b}?mailbox=returns").get_data(as_text=True)
    assert "orders refused the plate" in first and "VEH-A1" in first
    assert "returns refused the plate" in second and "VEH-B1" in second
    assert '<b id="mailbox-name">returns</b>' in second
    assert f"/failed/{uid_b}/resubmit?mailbox=returns" in second  # its forms act on it
    raw = client.get(f"/failed/{uid_b}/raw?mailbox=returns").get_data(as_text=True)
    assert "VEH-B1" in raw and "VEH-A1" not in raw


def test_resubmit_in_the_second_mailbox_lands_in_its_processed_folder(
    env: ConsoleEnv, tmp_path: Path
) -> None:
    client = env.client("olivia")
    b = env.services.engines["returns"].mailbox
    uid = b.uids("failed")[0]
    data = {"payload": json.dumps({"plate_number": "B-FIXED", "year": 2021}), "syntax": "json"}
    data["csrf_token"] = csrf_token(client, "/failed/")

    response = client.post(f"/failed/{uid}/resubmit?mailbox=returns", data=data)

    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    assert b.uids("failed") == [] and len(b.uids("returned")) == 2
    a = env.services.engines["default"].mailbox
    assert len(a.uids("failed")) == 1  # the first mailbox's UID 1 was left alone
    every = client.get("/failed/").get_data(as_text=True)
    assert rows(every) == [("default", "[VEH-A1] Vehicle update")]
    today = client.get("/mail/today").get_data(as_text=True)
    link = re.search(r'href="(/mail/processed/\d+\?mailbox=returns)"', today)
    assert link, today[:2000]
    shown = client.get(link.group(1)).get_data(as_text=True)
    assert "VEH-B1" in shown and "returns" in shown


def test_rerun_selected_across_mailboxes(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    token = csrf_token(client, "/failed/")
    response = client.post(
        "/failed/rerun", data={"uid": ["returns:1", "nope:1"], "csrf_token": token}
    )
    assert response.status_code == 303
    events = env.services.history.events(kind="resubmitted")
    assert [e.mailbox for e in events] == ["returns"]  # re-run, and only there


def test_one_mailbox_shows_no_mailbox(app_factory: Any) -> None:
    one = app_factory()
    html = one.client("olivia").get("/failed/").get_data(as_text=True)
    assert 'class="mailbox"' not in html and "All mailboxes" not in html
    services: Services = one.services
    assert services.mailbox_names == ["default"] and not services.several


def test_the_filter_form_names_the_mailbox_only_in_its_select(env: ConsoleEnv) -> None:
    html = env.client("olivia").get("/failed/?mailbox=returns").get_data(as_text=True)
    form = html[html.index('<form class="filters') :]
    assert 'action="/failed/"' in form and 'hx-get="/failed/"' in form  # "All" can be chosen
    assert '<option value="returns" selected>' in form


def test_reject_and_undo_in_the_second_mailbox(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    b = env.services.engines["returns"].mailbox
    a = env.services.engines["default"].mailbox
    token = csrf_token(client, "/failed/")
    response = client.post(
        "/failed/1/reject?mailbox=returns", data={"note": "spam", "csrf_token": token}
    )
    assert response.status_code == 303
    assert b.uids("failed") == [] and len(b.uids("rejected")) == 1
    assert len(a.uids("failed")) == 1 and a.uids("rejected") == []
    rejected = client.get("/mail/rejected/").get_data(as_text=True)
    assert rows(rejected) == [("returns", "[VEH-B1] Vehicle update")]
    uid = b.uids("rejected")[0]
    undo = client.post(
        f"/mail/rejected/{uid}/undo?mailbox=returns", data={"note": "oops", "csrf_token": token}
    )
    assert undo.status_code == 303 and "mailbox=returns" in undo.headers["Location"]
    assert len(b.uids("failed")) == 1 and b.uids("rejected") == []


def test_the_background_poller_polls_every_mailbox(env: ConsoleEnv) -> None:
    import time

    from console.poller import Poller

    a = env.services.engines["default"].mailbox
    b = env.services.engines["returns"].mailbox
    deliver(a, vehicle_mail(plate="A-LATER"))
    deliver(b, vehicle_mail(plate="B-LATER"))
    poller = Poller(env.services.polling, 0.05).start()
    try:
        deadline = time.monotonic() + 10
        while (a.uids("INBOX") or b.uids("INBOX")) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
    assert a.uids("INBOX") == [] and len(a.uids("processed")) == 1
    assert b.uids("INBOX") == [] and len(b.uids("returned")) == 2


def test_a_mailbox_that_cannot_be_read_is_named_and_the_others_listed(
    env: ConsoleEnv, tmp_path: Path
) -> None:
    import shutil

    shutil.rmtree(tmp_path / "b")  # the second mailbox is gone (as a server that is down)
    response = env.client("olivia").get("/failed/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert rows(html) == [("default", "[VEH-A1] Vehicle update")]
    assert 'id="unreachable"' in html and "Not listed: returns cannot be read" in html
