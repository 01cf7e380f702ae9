"""The mailcore objects one console app works with, built once from mailcore Settings.

Views reach mailcore only through `services()`: the Engines (failed mailbox, re-submission),
one per configured mailbox, the History (timelines), the Accounts and the TemplateStore.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

from console.accounts import Accounts, ThrottlePolicy
from mailcore.processing.scope import DEFAULT_MAILBOX

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
    mailbox: Mailbox  # the first configured mailbox's (the default one)
    registry: Registry
    history: History
    engine: Engine
    accounts: Accounts
    templates: Any = None  # a mailcore.store.template_store.TemplateStore (None in some tests)
    poller: Any = field(default=None, repr=False)  # console.commands.Poller when polling
    # Every configured mailbox's engine and handlers by its name, the first one's first (one
    # mailbox: only `engine`, as "default").
    engines: dict[str, Engine] = field(default_factory=dict)
    registries: dict[str, Registry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.engines:
            self.engines = {DEFAULT_MAILBOX: self.engine}
        if not self.registries:
            self.registries = dict.fromkeys(self.engines, self.registry)

    @property
    def mailbox_names(self) -> list[str]:
        """The configured mailboxes' names, in the order configured."""
        return list(self.engines)

    @property
    def several(self) -> bool:
        """Whether more than one mailbox is configured (the console then shows which)."""
        return len(self.engines) > 1

    def engine_for(self, name: str | None) -> Engine:
        """The engine of mailbox `name` (None: the first); KeyError for an unknown name."""
        return self.engine if name is None else self.engines[name]

    def registry_for(self, name: str | None) -> Registry:
        return self.registry if name is None else self.registries[name]

    @property
    def polling(self) -> Any:
        """What `serve --poll`'s Poller polls: the engine, or every mailbox's in turn."""
        from mailcore.processing.mailbox_set import EngineSet

        return EngineSet(self.engines) if self.several else self.engine

    def close(self) -> None:
        """Stop polling and release the mailbox connections."""
        if self.poller is not None:
            self.poller.stop()
        for engine in self.engines.values():
            try:
                engine.mailbox.close()
            except Exception:  # one that will not close must not keep the others open
                log.exception("closing a mailbox failed")


def build_services(settings: Any, registry: Registry | None = None) -> Services:
    """Open every configured mailbox and the database named by `settings` and wire an engine
    on each (`registry`: the handlers of the mailboxes that take the top level's)."""
    from mailcore import History, TemplateStore, key_store, open_mailbox, security_unwrapper
    from mailcore.processing.engine import Engine

    # Bad settings are refused before anything is opened.
    throttle = ThrottlePolicy.from_settings(
        settings.section("console"), settings.source or "settings"
    )
    chosen = settings.all_mailboxes()
    registries = {m.mailbox_name: _registry(m, settings, registry) for m in chosen}
    opened: dict[str, Mailbox] = {}
    try:
        for m in chosen:  # first: without a mailbox, no database is created
            opened[m.mailbox_name] = open_mailbox(m)
        history = History(settings.database_url, retention_days=settings.retention_days)
    except BaseException:
        for box in opened.values():
            box.close()
        raise
    verifier = security_unwrapper(settings, key_store(settings, history.engine))
    security = verifier.extract if verifier else None
    engines = {
        name: Engine.from_settings(m, opened[name], registries[name], history, security=security)
        for m in chosen
        if (name := m.mailbox_name)
    }
    first = chosen[0].mailbox_name
    accounts = Accounts(history.engine, history, throttle=throttle)
    templates = TemplateStore(history.engine, history)
    return Services(
        settings, opened[first], registries[first], history, engines[first], accounts,
        templates, engines=engines, registries=registries,
    )  # fmt: skip


def _registry(mailbox: Any, settings: Any, given: Registry | None) -> Registry:
    """A mailbox's handlers: `given` for those that take the top level's, else its own."""
    from mailcore.processing.registry import load_registry
    from mailcore.processing.registry import registry as default_registry

    if given is not None and mailbox.handlers == settings.handlers:
        return given
    # A copy: the configured webhook handlers join it, not the module-wide registry.
    return (load_registry(mailbox.handlers) if mailbox.handlers else default_registry).copy()


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


def secret_key_without_settings() -> str | None:
    """The secret key stores encrypt with when the app was given services but no settings:
    $MAILCORE_SECRET_KEY, else the app's own SECRET_KEY in tests."""
    secret = os.environ.get("MAILCORE_SECRET_KEY")
    if secret is None and current_app.testing:
        secret = current_app.config.get("SECRET_KEY")
    return secret
