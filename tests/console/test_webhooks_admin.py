"""Webhooks in the console: a webhook handler's 422 reason on the failed mail's page, and the
admins' webhooks page (configured endpoints, never a secret; the events-out delivery log)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from mailcore.config import Settings
from mailcore.webhooks import install_events
from mailcore.webhooks.handlers import install_handlers
from mailcore.webhooks.settings import handler_configs
from mailcore.webhooks.signing import WebhookSecret
from tests.console.conftest import ConsoleEnv, failed_uid
from tests.servers import message
from tests.webhook_receiver import WebhookReceiver

ENV = "MAILCORE_WEBHOOK_CONSOLE_SECRET"
SECRET = WebhookSecret.generate()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as rx:
        yield rx


def _table(url: str) -> dict[str, object]:
    fast = {"secret_env": ENV, "timeout": 2, "retries": 1, "backoff": 0.01, "max_backoff": 0.2}
    return {
        "handlers": [{"name": "orders", "url": url, "prefix": "ORD-", **fast}],
        "subscriptions": [{"name": "erp-events", "url": url, "kinds": ["failed"], **fast}],
    }


def _wire(env: ConsoleEnv, url: str) -> None:
    table = _table(url)
    install_handlers(env.services.registry, handler_configs(table, {ENV: SECRET}))
    env.services.settings = Settings.from_mapping({"webhooks": table})


def test_a_422_reason_is_shown_on_the_failed_mails_page(
    console_env: ConsoleEnv, receiver: WebhookReceiver
) -> None:
    _wire(console_env, receiver.url)
    receiver.script((422, {"reason": "order ORD-9 is <b>closed</b>: ask sales"}))
    console_env.services.mailbox.append(
        "INBOX", message(subject="[ORD-9] Order", body="qty: 2\r\n")
    )
    console_env.services.engine.poll_once()
    uid = failed_uid(console_env, "ORD-9")
    html = console_env.client("olivia").get(f"/failed/{uid}").get_data(as_text=True)
    assert (
        "webhook &#39;orders&#39; refused the mail: order ORD-9 is &lt;b&gt;closed&lt;/b&gt;"
        in html
    )
    assert "<b>closed</b>" not in html
    listing = console_env.client("olivia").get("/failed/").get_data(as_text=True)
    assert "refused the mail: order ORD-9" in listing


def test_the_admins_page_lists_the_endpoints_and_the_delivery_log(
    console_env: ConsoleEnv, receiver: WebhookReceiver
) -> None:
    _wire(console_env, receiver.url)
    settings = console_env.services.settings
    deliverer = install_events(settings, console_env.services.history, {ENV: SECRET}, start=False)
    assert deliverer is not None
    receiver.script((422, {"reason": "closed"}), (503, {}), (200, {}))  # the handler, then events
    console_env.services.mailbox.append("INBOX", message(subject="[ORD-1] Order", body="q: 1\r\n"))
    console_env.services.engine.poll_once()
    deliverer.run_once()
    deliverer.run_once(now=time.time() + 1)
    assert console_env.client("olivia").get("/admin/webhooks/").status_code == 403
    page = console_env.client("ada").get("/admin/webhooks/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-handler="orders"' in html and 'data-subscription="erp-events"' in html
    rows = re.findall(r'<tr data-webhook-id="(evt_\w+)" data-outcome="(\w+)">', html)
    assert [outcome for _, outcome in rows] == ["delivered", "retry"]  # newest first
    assert len({wid for wid, _ in rows}) == 1
    assert ">503<" in html and ">200<" in html
    assert SECRET not in html and ENV not in html
