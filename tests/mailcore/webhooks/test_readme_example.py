"""The README's [webhooks] example is a configuration mailcore takes as it is written."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mailcore.config import Settings
from mailcore.webhooks.settings import EventType, handler_configs, subscriptions
from mailcore.webhooks.signing import WebhookSecret

README = Path(__file__).resolve().parents[3] / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Webhook handlers and events out", 1)[1]
    found = re.search(r"```toml\n(.*?)```", section, re.S)
    assert found, "no TOML example in the README's webhooks section"
    return found.group(1)


def test_the_readme_example_loads(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "order.json").write_text(json.dumps({"type": "object"}))
    config = tmp_path / "mailcore.toml"
    config.write_text(_example(), encoding="utf-8")
    env = {
        "MAILCORE_WEBHOOK_ORDERS_SECRET": WebhookSecret.generate(),
        "MAILCORE_WEBHOOK_EVENTS_SECRET": WebhookSecret.generate(),
    }
    settings = Settings.load(config, env=env)
    section = settings.section("webhooks")
    [orders] = handler_configs(section, env, settings.source, settings.claim_lease)
    assert orders.name == "orders" and orders.options["prefix"] == "ORD-"
    assert orders.options["schema"] == {"type": "object"}  # read beside the config file
    [events] = subscriptions(section, env)
    assert events.kinds == frozenset(EventType)
