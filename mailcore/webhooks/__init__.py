"""Webhooks: handlers that are HTTP endpoints, and events out, both signed per Standard
Webhooks. `signing` owns the format, `delivery` the POST and its retries, `settings` the
``[webhooks]`` table, `handlers` the webhook handlers of the Registry (`replies`: the mail an
answer may ask for), `outbox` the events out (the table is mailcore.store.outbox).

`install(settings, registry, history)` wires what the settings configure; `Engine.from_settings`
calls it, so `mailcore poll` and the console get them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailcore.config import Settings
    from mailcore.processing.registry import Registry
    from mailcore.store.history import History
    from mailcore.webhooks.outbox import OutboxDeliverer

__all__ = ["install", "install_events"]


def install_events(
    settings: Settings, history: History, env: Mapping[str, str] | None = None, start: bool = True
) -> OutboxDeliverer | None:
    """Write the subscribed events to the outbox of `history` and deliver them from a thread
    (`start`); once per History. The deliverer, or None without subscriptions."""
    from mailcore.store.outbox import OutboxStore
    from mailcore.webhooks.outbox import OutboxDeliverer, OutboxWriter
    from mailcore.webhooks.settings import subscriptions

    subs = subscriptions(settings.section("webhooks"), os.environ if env is None else env)
    if not subs:
        return None
    current = history.outbox
    if isinstance(current, OutboxWriter):
        return current.deliverer
    writer = OutboxWriter(subs)
    writer.deliverer = OutboxDeliverer(OutboxStore(history.engine), subs)
    history.outbox = writer
    if start:
        writer.deliverer.start()
    return writer.deliverer


def install(
    settings: Settings, registry: Registry, history: History, env: Mapping[str, str] | None = None
) -> None:
    """The webhook handlers in `registry` and the events out on `history`, as configured."""
    if not settings.section("webhooks"):
        return  # nothing imported: requests and the rest load only when configured
    from mailcore.webhooks.handlers import install_from_settings

    install_from_settings(registry, settings, history.engine, env)
    install_events(settings, history, env)
