"""`mailcore oauth2`: sign mail accounts in with OAuth2 and see their tokens.

    mailcore oauth2 login --provider microsoft [--account NAME]   # device code: URL + code
    mailcore oauth2 login --provider google                       # a browser on this machine
    mailcore oauth2 status                                        # each account: state, expiry
    mailcore oauth2 logout [--account NAME]

The provider's details come from the ``[oauth2]`` table (see `mailcore.oauth2.providers`),
options override them. Tokens are stored in the history database, encrypted with
$MAILCORE_SECRET_KEY, and never printed. `status` exits 1 when a refresh is failing.
"""

from __future__ import annotations

import click

from mailcore.config import Settings
from mailcore.oauth2 import account as oauth2_account
from mailcore.oauth2 import oauth2_settings, token_store
from mailcore.oauth2.flows import device_login, loopback_login
from mailcore.oauth2.providers import Flow, ProviderKind
from mailcore.servers import login_from_url
from mailcore.store.oauth_tokens import TokenHealth

CONFIG = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="TOML settings."
)
ACCOUNT = click.option("--account", help="The name the tokens are stored under ([oauth2] account).")


@click.group()
def oauth2() -> None:
    """OAuth2 sign-in for IMAP and SMTP (Microsoft 365, Google, any provider)."""


@oauth2.command()
@CONFIG
@click.option("--provider", type=click.Choice([str(k) for k in ProviderKind]))
@ACCOUNT
@click.option("--client-id", help="The application (client) id registered with the provider.")
@click.option("--tenant", help="Microsoft: the tenant (default: organizations).")
@click.option("--no-browser", is_flag=True, help="Loopback flow: print the URL, open nothing.")
def login(
    config_path: str | None,
    provider: str | None,
    account: str | None,
    client_id: str | None,
    tenant: str | None,
    no_browser: bool,
) -> None:
    """Sign an account in and store its tokens (refreshed from then on by themselves)."""
    settings = Settings.load(config_path)
    chosen = oauth2_settings(
        settings.section("oauth2"),
        provider=provider,
        account=account or oauth2_account(settings),
        client_id=client_id,
        tenant=tenant,
    )
    store = token_store(settings)  # before the sign-in: a missing secret key is said first
    if chosen.provider.flow is Flow.DEVICE:
        tokens = device_login(chosen.provider, click.echo)
    else:
        tokens = loopback_login(chosen.provider, click.echo, open_browser=not no_browser)
    store.save(chosen.account, chosen.provider.kind, _mailbox_user(settings), tokens)
    state = store.state(chosen.account)
    assert state is not None
    click.echo(f"account {chosen.account}: signed in, {state.describe()}")
    if not tokens.refresh_token:
        click.echo(
            "warning: the provider gave no refresh token (is offline_access among the scopes?);"
            " the account stops working when this token expires"
        )


@oauth2.command()
@CONFIG
def status(config_path: str | None) -> None:
    """Each signed-in account: its token's state and expiry (exit status 1 if one fails)."""
    settings = Settings.load(config_path)
    states = token_store(settings).states()
    if not states:
        click.echo("no account is signed in: run `mailcore oauth2 login`")
        return
    for state in states:
        user = f" ({state.username})" if state.username else ""
        click.echo(f"{state.account}{user} [{state.provider}]: {state.describe()}")
    if any(s.health() is TokenHealth.FAILING for s in states):
        raise SystemExit(1)


@oauth2.command()
@CONFIG
@ACCOUNT
def logout(config_path: str | None, account: str | None) -> None:
    """Forget an account's tokens here (revoke the application's access at the provider to
    end it there too)."""
    settings = Settings.load(config_path)
    name = account or oauth2_account(settings) or "default"
    if not token_store(settings).remove(name):
        raise click.ClickException(f"no tokens are stored for account {name!r}")
    click.echo(f"account {name}: signed out (tokens deleted)")


def _mailbox_user(settings: Settings) -> str:
    """The IMAP login of the settings, shown beside the account."""
    if not settings.imap_url:
        return ""
    login, _query = login_from_url(settings.imap_url, "IMAP", "imaps")
    return str(login["username"])
