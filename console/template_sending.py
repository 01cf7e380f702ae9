"""The template editor's test send: the editor's state composed as the real mail and sent to
the author's own address, through the configured SMTP server, signed and encrypted as the
``[security]`` table configures for that address (as `mailcore send` does)."""

from __future__ import annotations

from typing import Any

from console.services import services

TEST_RESOURCE_ID = "TEST-0"


def smtp_and_sender() -> tuple[Any, str]:
    """The configured SMTP server and sender, or ConfigError saying which setting to set."""
    from mailcore import smtp_from_settings

    return smtp_from_settings(services().settings)


def send_test_mail(
    name: str, subject: str, body: str, data: dict[str, Any], to: str, by: str
) -> None:
    """Compose template `name` on `data` for `to` and send it, marked as a test by `by`."""
    from mailcore import Template, compose, seal_message, send

    smtp, sender = smtp_and_sender()
    settings = services().settings
    message = compose(
        Template(name=name, subject=subject, body=body),
        data,
        to,
        TEST_RESOURCE_ID,
        sender=sender,
        scheme=settings.scheme,
    )
    message["X-Mailcore-Test"] = f"template {name} previewed by {by}"
    from console.keys import store

    send(seal_message(settings, message, store()), smtp)  # signed/encrypted per [security]
