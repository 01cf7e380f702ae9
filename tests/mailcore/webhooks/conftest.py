"""Webhook tests: a real receiver on 127.0.0.1 (tests/webhook_receiver.py), an engine on a
Maildir and the SQLite history of tests/mailcore/conftest.py, and webhook handlers configured
as the [webhooks] table says."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailcore.mailboxes.maildir import MaildirMailbox
from mailcore.processing.engine import Engine
from mailcore.processing.registry import Registry
from mailcore.store.history import History
from mailcore.webhooks.handlers import install_handlers
from mailcore.webhooks.replies import Replier
from mailcore.webhooks.settings import handler_configs
from mailcore.webhooks.signing import WebhookSecret
from tests.webhook_receiver import WebhookReceiver

SECRET_ENV = "MAILCORE_WEBHOOK_TEST_SECRET"
ORDER_SCHEMA = {
    "type": "object",
    "required": ["qty"],
    "properties": {"qty": {"type": "integer", "minimum": 1}},
}
FAST = {"timeout": 2.0, "retries": 2, "backoff": 0.01, "max_backoff": 0.05}


@pytest.fixture
def secret() -> str:
    return WebhookSecret.generate()


@pytest.fixture
def receiver(secret: str) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret) as rx:
        yield rx


@pytest.fixture
def maildir(tmp_path: Path) -> Iterator[MaildirMailbox]:
    box = MaildirMailbox(tmp_path / "mail")
    yield box
    box.close()


def entry(url: str, **over: Any) -> dict[str, Any]:
    """A [[webhooks.handlers]] entry for the orders endpoint at `url`."""
    return {
        "name": "orders", "url": url, "prefix": "ORD-", "schema": ORDER_SCHEMA,
        "secret_env": SECRET_ENV, **FAST, **over,
    }  # fmt: skip


EngineFactory = Callable[..., Engine]


@pytest.fixture
def webhook_engine(maildir: MaildirMailbox, history: History, secret: str) -> EngineFactory:
    """engine(url, replier=None, secret=..., **entry overrides): an Engine whose registry holds
    the orders webhook handler, configured from a [webhooks] table."""

    def make(
        url: str,
        replier: Replier | None = None,
        key: str | None = None,
        lease: float = 120.0,
        **over: Any,
    ) -> Engine:
        env = {SECRET_ENV: key or secret}
        configs = handler_configs({"handlers": [entry(url, **over)]}, env, claim_lease=lease)
        registry = Registry()
        install_handlers(registry, configs, replier)
        return Engine(maildir, registry, history)

    return make
