"""A real Postfix delivers through its pipe transport to `mailcore ingest`, into Dovecot."""

from __future__ import annotations

import socket
from pathlib import Path

from mailcore.processing.vocabulary import Status
from tests.mailcore.engine_support import vehicle_mail
from tests.mailcore.ingress.support import poll_once
from tests.postfix import Postfix
from tests.servers import Account


def inbox(account: Account) -> list[bytes]:
    with account.session() as c:
        c.select_folder("INBOX")
        uids = c.search()
        return [d[b"RFC822"] for d in c.fetch(uids, ["RFC822"]).values()]


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_a_bcc_lands_once_and_the_engine_routes_it_by_the_envelope(
    postfix: Postfix, account: Account, tmp_path: Path
) -> None:
    settings = f'imap_url = "{account.imap_url()}"\n'
    postfix.configure(settings)
    raw = vehicle_mail(ident="VEH-4242").replace(b"[VEH-4242] ", b"")  # To: ops@example.com
    queue_id = postfix.send(raw, "alice@example.org", ["reply+VEH-4242@ops.test"])
    postfix.wait_for(queue_id, "sent")
    [stored] = inbox(account)
    head = stored.split(b"\r\n\r\n", 1)[0]
    # Postfix's D, O and R flags wrote the envelope; ingest did not write it again.
    assert head.count(b"Delivered-To: reply+VEH-4242@ops.test") == 1
    assert head.count(b"X-Original-To: reply+VEH-4242@ops.test") == 1
    assert head.count(b"Return-Path: <alice@example.org>") == 1
    config = tmp_path / "c.toml"
    config.write_text(settings, encoding="utf-8")
    statuses, calls = poll_once(config, tmp_path / "h.db")
    assert statuses == [Status.PROCESSED]
    assert calls == [("VEH-4242", {"plate_number": "AB-123", "year": 2020})]


def test_with_the_store_down_the_mail_waits_in_the_queue_then_arrives(
    postfix: Postfix, account: Account
) -> None:
    down = f'imap_url = "imap://{account.username}:x@127.0.0.1:{closed_port()}/?security=plain"\n'
    postfix.configure(down)
    queue_id = postfix.send(vehicle_mail(), "alice@example.org", ["reply+VEH-1@ops.test"])
    deferred = postfix.wait_for(queue_id, "deferred")
    assert "dsn=4.3.0, status=deferred (mailcore ingest: the mailbox did not store" in deferred
    assert [m["queue_id"] for m in postfix.queue()] == [queue_id]
    assert inbox(account) == []
    postfix.configure(f'imap_url = "{account.imap_url()}"\n')
    postfix.flush()
    postfix.wait_for(queue_id, "sent")
    assert len(inbox(account)) == 1
    assert postfix.queue() == []
    assert postfix.bounces() == []
