"""The mailcore objects one console app works with, built once from mailcore Settings.

Views reach mailcore only through `services()`: the Engine (failed mailbox, re-submission),
the History (timelines), the Accounts and the TemplateStore.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from console.accounts import Accounts, ThrottlePolicy

if TYPE_CHECKING:
    from mailcore import History, Mailbox
    from mailcore.processing.engine import Engine
    from mailcore.processing.registry import Registry

log = logging.getLogger(__name__)

_EXTENSION = "mailcore.services"
_lock = threading.Lock()


@dataclass
class Services:
    settings: Any
    mailbox: Mailbox
    registry: Registry
    history: History
    engine: Engine
    accounts: Accounts
    templates: Any = None  # a mailcore.store.template_store.TemplateStore (None in some tests)
    poller: Any = field(default=None, repr=False)  # console.commands.Poller when polling

    def close(self) -> None:
        """Stop polling and release the mailbox connection."""
        if self.poller is not None:
            self.poller.stop()
        self.mailbox.close()


def build_services(settings: Any, registry: Registry | None = None) -> Services:
    """Open the mailbox and the database named by `settings` and wire the engine on them."""
    from mailcore import History, TemplateStore, key_store, open_mailbox, security_unwrapper
    from mailcore.processing.engine import Engine
    from mailcore.processing.registry import load_registry
    from mailcore.processing.registry import registry as default_registry

    # Bad settings are refused before anything is opened.
    throttle = ThrottlePolicy.from_settings(
        settings.section("console"), settings.source or "settings"
    )
    if registry is None:
        registry = load_registry(settings.handlers) if settings.handlers else default_registry
    mailbox = open_mailbox(settings)  # first: without a mailbox, no database is created
    history = History(settings.database_url, retention_days=settings.retention_days)
    verifier = security_unwrapper(settings, key_store(settings, history.engine))
    engine = Engine.from_settings(
        settings, mailbox, registry, history, security=verifier.extract if verifier else None
    )
    accounts = Accounts(history.engine, history, throttle=throttle)
    templates = TemplateStore(history.engine, history)
    return Services(settings, mailbox, registry, history, engine, accounts, templates)


def services(app: Flask | None = None) -> Services:
    """The app's services, built on first use from MAILCORE_SERVICES or MAILCORE_SETTINGS."""
    app = app if app is not None else current_app
    found = app.extensions.get(_EXTENSION)
    if found is not None:
        return found
    with _lock:
        found = app.extensions.get(_EXTENSION)
        if found is None:
            found = app.config.get("MAILCORE_SERVICES")
            if found is None:
                settings = app.config.get("MAILCORE_SETTINGS")
                if settings is None:
                    from mailcore import Settings

                    settings = Settings.load()
                found = build_services(settings)
            app.extensions[_EXTENSION] = found
    return found
