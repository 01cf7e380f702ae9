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
    from mailcore import Template

    headers = {"X-Mailcore-Test": f"template {name} previewed by {by}"}
    compose_and_send(Template(name=name, subject=subject, body=body), data, [to],
                     TEST_RESOURCE_ID, headers=headers, file_sent=False)  # fmt: skip


def send_template(
    name: str, data: dict[str, Any], to: list[str], identifier: str, by: str,
    language: str | None = None,
) -> str:  # fmt: skip
    """Send the latest version of stored template `name` (in `language`, else the data's or
    the default one), filed in Sent and recorded in the history; its Message-ID."""
    from mailcore import Template, UnknownTemplate
    from mailcore.processing.vocabulary import EventKind

    store = services().templates
    if store is None:
        raise UnknownTemplate(f"no template store: template {name!r} cannot be sent")
    version = store.get(name)
    template = Template(name, version.subject, version.body, variants=dict(version.variants))
    message = compose_and_send(template, data, to, identifier, lang=language)
    message_id = str(message["Message-ID"])
    services().history.record(
        EventKind.SENT, message_id=message_id, identifier=identifier, actor=by,
        subject=str(message["Subject"]), reason=f"sent {name} v{version.number} to"
        f" {', '.join(to)}",
    )  # fmt: skip
    return message_id


def compose_and_send(
    template: Any, data: dict[str, Any], to: list[str], identifier: str, *,
    lang: str | None = None, headers: dict[str, str] | None = None, file_sent: bool = True,
) -> Any:  # fmt: skip
    """Compose (JSON + text + HTML), sign and encrypt as [security] says, send over [smtp]
    and, with `file_sent`, file the sent bytes in [smtp] sent_folder of the configured
    mailbox, as `mailcore send` does; the composed message."""
    from mailcore import compose, open_mailbox, seal_message, send, sent_folder_setting

    smtp, sender = smtp_and_sender()
    settings = services().settings
    options: dict[str, Any] = {"scheme": settings.scheme, "headers": headers}
    if lang:
        options["lang"] = lang
    message = compose(template, data, to, identifier, sender=sender, **options)
    from console.keys import store

    sealed = seal_message(settings, message, store())  # signed/encrypted per [security]
    folder = sent_folder_setting(settings) if file_sent else None
    if not folder:
        send(sealed, smtp)
        return message
    mailbox = open_mailbox(settings)
    try:
        send(sealed, smtp, sent_mailbox=mailbox, sent_folder=folder)
    finally:
        mailbox.close()
    return message
