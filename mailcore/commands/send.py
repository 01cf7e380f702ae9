"""`mailcore send TEMPLATE --data ... --to ... --id ...`: compose a mail and send it by SMTP.

Server, sender and identifier domain come from the settings (``--config`` or $MAILCORE_CONFIG:
the ``[smtp]`` table's url and sender, ``[ident].domain``; MAILCORE_SMTP_* variables); every
option given on the command line wins over them.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import click

from mailcore.commands.render import (
    EXISTING_FILE,
    LANGUAGES_HELP,
    data_option,
    id_option,
    lang_option,
    template_argument,
)
from mailcore.config import Settings
from mailcore.errors import ConfigError
from mailcore.outbound.settings import (
    configured_sender,
    sent_folder_setting,
    smtp_server,
    verp_scheme,
)
from mailcore.outbound.smtp import SmtpConfig
from mailcore.outbound.templating import TEMPLATE_FILE_HELP

PASSWORD_ENV = "MAILCORE_SMTP_PASSWORD"


@click.command(epilog=TEMPLATE_FILE_HELP + "\n\n" + LANGUAGES_HELP)
@template_argument
@data_option(required=True)
@lang_option()
@click.option("--to", "to", multiple=True, required=True, help="Recipient (repeatable).")
@click.option("--cc", "cc", multiple=True, help="Copy recipient (repeatable).")
@id_option(required=True)
@click.option(
    "--config",
    "config_path",
    type=EXISTING_FILE,
    help="Settings file (default: $MAILCORE_CONFIG); gives [smtp] url/sender, [ident] domain.",
)
@click.option(
    "--from",
    "sender",
    help='Sender, e.g. "Acme <ops@acme.example>". Default: [smtp] sender.',
)
@click.option(
    "--domain",
    help="Domain of reply+<id>@ addresses and Message-IDs. Default: [ident] domain.",
)
@click.option("--smtp-host", help="SMTP server. Default: the host of [smtp] url.")
@click.option(
    "--smtp-port",
    type=int,
    help="Default: 587 with STARTTLS, 465 with TLS, 25 plain.",
)
@click.option(
    "--starttls",
    "security",
    flag_value="starttls",
    help="STARTTLS on a plain connection (default without a configured url).",
)
@click.option("--tls", "security", flag_value="tls", help="TLS from the start (smtps).")
@click.option(
    "--plain", "security", flag_value="plain", help="No encryption (trusted local relay only)."
)
@click.option("--user", default="", help=f"Login; the password comes from ${PASSWORD_ENV}.")
@click.option("--ca-file", type=EXISTING_FILE, help="Trust this CA for the server certificate.")
@click.option("--auto/--no-auto", default=True, help="Mark the mail Auto-Submitted (default).")
@click.option("--sign-cert", type=EXISTING_FILE, help="Sign with S/MIME: PEM certificate (chain).")
@click.option("--sign-key", type=EXISTING_FILE, help="PEM private key for --sign-cert.")
@click.option(
    "--seal/--no-seal",
    default=True,
    show_default=True,
    help="Sign and encrypt as [security] configures it (smime_sign, openpgp_sign, encrypt_to).",
)
@click.option(
    "--sent-folder",
    help="Also file the sent mail in this folder of the configured mailbox (imap_url or"
    " maildir). Default: [smtp] sent_folder; unset, no copy is filed.",
)
@click.option("--attach", multiple=True, type=EXISTING_FILE, help="File to attach (repeatable).")
def send(
    template: str,
    data_path: str,
    lang: str | None,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    resource_id: str,
    config_path: str | None,
    sender: str | None,
    domain: str | None,
    smtp_host: str | None,
    smtp_port: int | None,
    security: str | None,
    user: str,
    ca_file: str | None,
    auto: bool,
    sign_cert: str | None,
    sign_key: str | None,
    seal: bool,
    attach: tuple[str, ...],
    sent_folder: str | None,
) -> None:
    """Render TEMPLATE with --data and send it to --to by SMTP."""
    from mailcore.commands.render import choose_template, describe, load_data
    from mailcore.errors import MailcoreError, TemplateError
    from mailcore.outbound.compose import compose

    if bool(sign_cert) != bool(sign_key):
        raise click.UsageError("--sign-cert and --sign-key go together")
    data = load_data(data_path)
    chosen = choose_template(template, data, lang)
    password = os.environ.get(PASSWORD_ENV)
    if user and password is None:
        raise click.UsageError(f"--user given but ${PASSWORD_ENV} is not set")
    try:
        settings = Settings.load(config_path)
        smtp = _server(settings, smtp_host, smtp_port, security, user, password, ca_file)
        sender = sender or configured_sender(settings, smtp)
        if not sender:
            raise ConfigError(
                "no sender: pass --from, or set sender in the [smtp] table of the config"
                " (MAILCORE_SMTP_SENDER)"
            )
        scheme = settings.scheme
        if domain:
            scheme = dataclasses.replace(scheme, domain=domain)
        smtp = dataclasses.replace(smtp, verp=verp_scheme(settings, scheme))  # VERP by default
        message = compose(
            chosen.template,
            data,
            list(to),
            resource_id,
            sender=sender,
            cc=list(cc),
            scheme=scheme,
            automatic=auto,
            attachments=attach,
        )
        payload: object = message
        if sign_cert and sign_key:
            from mailcore.outbound.smime import Signer, sign

            payload = sign(message, Signer.from_files(sign_cert, sign_key))
        elif seal:  # [security]: our signing key, the partner's encryption key
            from mailcore.security.service import seal_message

            payload = seal_message(settings, message)
        _send_and_file(settings, payload, smtp, sent_folder or sent_folder_setting(settings))
    except TemplateError as exc:
        from mailcore.outbound.compose import preview

        for problem in preview(chosen.template, data).problems:
            click.echo(describe(problem, chosen.path, chosen.body_line), err=True)
        raise click.ClickException(f"{chosen.path} cannot be rendered: {exc}") from exc
    except (MailcoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"sent {message['Message-ID']} to {', '.join(to + cc)}", err=True)
    sys.exit(0)


def _server(
    settings: Settings,
    host: str | None,
    port: int | None,
    security: str | None,
    user: str,
    password: str | None,
    ca_file: str | None,
) -> SmtpConfig:
    """The command line's server when --smtp-host is given, else [smtp] url with the options
    given applied over it."""
    if host:
        return SmtpConfig(host, port, security or "starttls", user, password, ca_file=ca_file)
    login = {"username": user, "password": password} if user else {}
    smtp = smtp_server(settings, port=port, security=security, ca_file=ca_file, **login)
    if smtp is None:
        raise ConfigError(
            "no SMTP server: pass --smtp-host, or set url in the [smtp] table of the config"
            " (--config FILE or $MAILCORE_CONFIG; or MAILCORE_SMTP_URL),"
            " e.g. smtps://user@smtp.example.com:465/"
        )
    return smtp


def _send_and_file(
    settings: Settings, message: object, smtp: SmtpConfig, folder: str | None
) -> None:
    """Send; with a folder, APPEND the sent bytes to it in the configured mailbox."""
    from mailcore.config import open_mailbox
    from mailcore.outbound.smtp import send as smtp_send

    if not folder:
        smtp_send(message, smtp)  # type: ignore[arg-type]
        return
    mailbox = open_mailbox(settings)
    try:
        smtp_send(message, smtp, sent_mailbox=mailbox, sent_folder=folder)  # type: ignore[arg-type]
    finally:
        mailbox.close()
