"""The operator's actions through the API do what the console's do: list and filter, a
mail's extraction, validation, re-submission (refused with its errors, then processed),
reject and take back, a bulk re-run; the answers are the Engine's outcomes."""

from __future__ import annotations

from tests.console.api.conftest import ApiEnv
from tests.console.conftest import failed_uid

GOOD = {"plate_number": "PQ-321-RS", "vin": "VF1FL000123456789", "owner": "Flotte Roux SAS",
        "category": "van"}  # fmt: skip


def test_the_failed_list_and_one_mail(api: ApiEnv) -> None:
    listed = api.call("operator", "GET", "/api/v1/mail/failed/?per_page=2").json
    total = api.env.services.engine.failed_page(1, 1).total
    assert listed["total"] == total and len(listed["items"]) == min(2, total)
    assert listed["pages"] == -(-total // 2)
    uid = failed_uid(api.env, "VEH-1046")
    filtered = api.call("operator", "GET", "/api/v1/mail/failed/?sender=nobody-at-all").json
    assert filtered["total"] == 0 and filtered["items"] == []
    mail = api.call("operator", "GET", f"/api/v1/mail/failed/{uid}").json
    assert "VEH-1046" in mail["extraction"]["headers"]["subject"]
    assert [e["kind"] for e in mail["timeline"]][0] == "received"
    assert api.call("operator", "GET", "/api/v1/mail/failed/4000000").status_code == 404
    assert api.call("operator", "GET", "/api/v1/mail/junk/1").status_code == 404


def test_validate_then_resubmit(api: ApiEnv) -> None:
    uid = failed_uid(api.env, "VEH-1046")
    base = f"/api/v1/mail/failed/{uid}"
    checked = api.call("operator", "POST", f"{base}/validate", {"payload": {"vin": "x"}}).json
    assert checked["valid"] is False and checked["errors"]
    refused = api.call("operator", "POST", f"{base}/resubmit", {"payload": {"vin": "x"}})
    if refused.status_code == 422:  # refused before the handler ran (PayloadInvalid)
        assert refused.json["error"]["fields"]
    else:  # or handled and still failing: the outcome says why
        assert refused.json["status"] == "failed" and refused.json["errors"], refused.json
    assert uid in api.env.services.mailbox.uids("failed")
    assert api.call("operator", "POST", f"{base}/validate", {"payload": GOOD}).json["valid"]
    done = api.call("operator", "POST", f"{base}/resubmit", {"payload": GOOD})
    assert done.status_code == 200 and done.json["status"] == "processed", done.json
    assert uid not in api.env.services.mailbox.uids("failed")
    kinds = [e.kind for e in api.env.services.history.events(actor="token:operator-bot")]
    assert "resubmitted" in kinds


def test_reject_take_back_and_bulk_rerun(api: ApiEnv) -> None:
    uid = failed_uid(api.env, "VEH-1046")
    rejected = api.call("operator", "POST", f"/api/v1/mail/failed/{uid}/reject", {"note": "x"})
    assert rejected.json["status"] == "rejected"
    gone = api.call("operator", "GET", "/api/v1/mail/rejected/").json["items"]
    new = next(i["uid"] for i in gone)
    blank = api.call("operator", "POST", f"/api/v1/mail/rejected/{new}/undo", {"note": ""})
    assert blank.status_code == 422 and "note" in blank.json["error"]["fields"]
    back = api.call("operator", "POST", f"/api/v1/mail/rejected/{new}/undo", {"note": "oops"})
    assert back.status_code == 200 and back.json["new_uid"] in api.env.services.mailbox.uids(
        "failed"
    )
    uids = api.env.services.mailbox.uids("failed")
    outcomes = api.call("operator", "POST", "/api/v1/mail/failed/rerun", {"uids": uids}).json
    assert sorted(o["uid"] for o in outcomes["outcomes"]) == sorted(uids)
    assert {o["status"] for o in outcomes["outcomes"]} == {"failed"}  # nothing fixed them
