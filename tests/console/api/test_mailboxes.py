"""The API over two configured mailboxes, as the console's pages: the list of every mailbox
names each item's, ?mailbox=NAME narrows it and picks whose message an action is on, an
unknown name is 404 in the error shape."""

from __future__ import annotations

from tests.console.api.conftest import ApiEnv, make_tokens
from tests.console.conftest import ConsoleEnv
from tests.console.test_several_mailboxes import env  # noqa: F401  (the two-mailbox console)


def test_the_lists_and_actions_of_each_mailbox(env: ConsoleEnv) -> None:  # noqa: F811
    api = ApiEnv(env, make_tokens(env))
    every = api.call("operator", "GET", "/api/v1/mail/failed/").json
    assert [(i["mailbox"], i["subject"]) for i in every["items"]] == [
        ("default", "[VEH-A1] Vehicle update"),
        ("returns", "[VEH-B1] Vehicle update"),
    ]
    only = api.call("operator", "GET", "/api/v1/mail/failed/?mailbox=returns").json
    assert [i["mailbox"] for i in only["items"]] == ["returns"]
    uid = only["items"][0]["uid"]
    mail = api.call("operator", "GET", f"/api/v1/mail/failed/{uid}?mailbox=returns").json
    assert "VEH-B1" in mail["extraction"]["headers"]["subject"]
    path = f"/api/v1/mail/failed/{uid}/reject?mailbox=returns"
    assert api.call("operator", "POST", path, {"note": "spam"}).json["status"] == "rejected"
    assert env.services.engines["returns"].mailbox.uids("failed") == []
    assert env.services.engines["default"].mailbox.uids("failed") != []  # the other one's kept
    unknown = api.call("operator", "GET", "/api/v1/mail/failed/?mailbox=nope")
    assert unknown.status_code == 404 and unknown.json["error"]["code"] == "not_found"
