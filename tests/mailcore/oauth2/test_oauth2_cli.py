"""`mailcore oauth2` and `mailcore poll` as an operator runs them (subprocesses), against the
authorization server and the OAuth2 Dovecot of the fixtures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from click.testing import CliRunner, Result

from mailcore.cli import main
from tests.mailcore.engine_support import vehicle_mail
from tests.mailcore.oauth2.conftest import LIFETIME, OAuthAccount
from tests.servers import DOVEADM

ROOT = Path(__file__).resolve().parents[3]
HANDLERS = "tests.mailcore.engine_support:registry"


def mailcore(*args: str | Path) -> list[str]:
    return [sys.executable, "-c", "from mailcore.cli import main; main()", *map(str, args)]


def run(*args: str | Path) -> Result:
    """The command line in this process (quicker than a subprocess), without MAILCORE_*."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("MAILCORE_")}
    return CliRunner().invoke(main, [str(a) for a in args], env=unset)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILCORE_")}
    return env | {"PYTHONUNBUFFERED": "1"}


def _interactive(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_device_code_login_then_status_then_logout(oauth_account: OAuthAccount) -> None:
    config = oauth_account.config_file()
    login = _interactive(mailcore("oauth2", "login", "--config", config, "--account", "ops"))
    assert login.stdout is not None
    first = login.stdout.readline()
    found = re.search(r"open (\S+) and enter the code (\S+)", first)
    assert found, first
    assert found.group(1) == f"{oauth_account.server.issuer}/verify"
    oauth_account.server.approve(found.group(2), oauth_account.user)  # the person, elsewhere
    out, err = login.communicate(timeout=20)
    assert login.returncode == 0, err
    assert re.search(r"account ops: signed in, (valid until|expired at) ", out), out
    tokens = oauth_account.store().load("ops")
    assert tokens is not None
    assert oauth_account.server.user_of(tokens.access_token, expired=True) == oauth_account.user
    assert tokens.access_token not in out + err + first

    status = run("oauth2", "status", "--config", config)
    assert status.exit_code == 0, status.output
    state = r"(valid until|expired at) \d{4}-\d\d-\d\d [\d:]{8} UTC"  # 2-second tokens
    assert re.match(rf"ops \({oauth_account.user}\) \[generic\]: {state}", status.stdout)
    assert tokens.access_token not in status.output

    out_ = run("oauth2", "logout", "--config", config, "--account", "ops")
    assert out_.exit_code == 0 and "signed out" in out_.stdout
    assert oauth_account.store().load("ops") is None
    again = run("oauth2", "logout", "--config", config, "--account", "ops")
    assert again.exit_code == 1 and "no tokens are stored for account 'ops'" in again.stderr


def test_google_loopback_login_with_pkce(oauth_account: OAuthAccount) -> None:
    server = oauth_account.server
    server.login_user = oauth_account.user
    config = oauth_account.config_file(
        provider="google", token_url=server.token_url, authorize_url=server.authorize_url
    )
    login = _interactive(mailcore("oauth2", "login", "--config", config, "--no-browser"))
    assert login.stdout is not None
    assert "open this page in a browser" in login.stdout.readline()
    url = login.stdout.readline().strip()
    assert url.startswith(server.authorize_url) and "code_challenge_method=S256" in url
    assert "scope=https%3A%2F%2Fmail.google.com%2F" in url and "access_type=offline" in url
    page = requests.get(url, timeout=10)  # the browser: approve, follow the loopback redirect
    assert page.status_code == 200 and "return to the terminal" in page.text
    out, err = login.communicate(timeout=20)
    assert login.returncode == 0, err
    assert "account ops: signed in" in out
    state = oauth_account.store().state("ops")
    assert state is not None and state.provider == "google" and state.has_refresh
    assert ("authorization_code", oauth_account.user) in server.issued


def test_a_revoked_refresh_token_tells_the_operator_what_to_run(
    oauth_account: OAuthAccount,
) -> None:
    oauth_account.seed()  # signed in earlier; the access token has expired since
    oauth_account.server.revoke(oauth_account.user)  # e.g. the password was reset
    config = oauth_account.config_file()
    poll = run("poll", "--config", config, "--handlers", HANDLERS)
    assert poll.exit_code == 1
    assert "invalid_grant" in poll.stderr
    assert "run `mailcore oauth2 login --account ops` again" in poll.stderr
    assert "Traceback" not in poll.stderr
    status = run("oauth2", "status", "--config", config)
    assert status.exit_code == 1
    assert "refresh failing: " in status.stdout and "oauth2 login --account ops" in status.stdout


def test_poll_loop_runs_across_several_expiries_with_no_failed_login(
    oauth_account: OAuthAccount,
) -> None:
    """The server drops the connection every second (as providers do), so the poller logs in
    again and again while tokens expire every 2 seconds: never with a stale token."""
    oauth_account.seed()
    config = oauth_account.config_file(mechanism="xoauth2")  # the deliveries: OAUTHBEARER
    oauth_account.deliver(vehicle_mail("VEH-1"))
    args = [
        "-vv",
        "poll",
        "--config",
        config,
        "--handlers",
        HANDLERS,
        "--loop",
        "--interval",
        "0.2",
    ]
    poller = _interactive(mailcore(*args, "--max-polls", "25"))
    stop = threading.Event()

    def drop_connections() -> None:
        n = 2
        while not stop.wait(1.0):
            kick = [DOVEADM, "-c", str(oauth_account.dovecot.conf), "kick", oauth_account.user]
            subprocess.run(kick, capture_output=True, timeout=10)  # none yet: exit status 68
            oauth_account.deliver(vehicle_mail(f"VEH-{n}"))
            n += 1

    dropper = threading.Thread(target=drop_connections)
    started = time.monotonic()
    dropper.start()
    try:
        out, err = poller.communicate(timeout=60)
    finally:
        stop.set()
        dropper.join()
    elapsed = time.monotonic() - started
    assert poller.returncode == 0, err
    assert elapsed > 2 * LIFETIME  # several expiries
    assert oauth_account.failed_logins() == []
    assert "refused" not in err and "AUTHENTICATIONFAILED" not in err
    assert sum("method=XOAUTH2" in line for line in oauth_account.logins()) >= 4
    assert oauth_account.server.refreshes(oauth_account.user) >= 2
    processed = sum(int(m) for m in re.findall(r"(\d+) processed", out))
    assert processed >= 4, out
    # debug logging (IMAP commands, HTTP requests) shows no token, access or refresh
    tokens = oauth_account.store().load("ops")
    assert tokens is not None and tokens.refresh_token
    assert (
        "eyJ" not in err and tokens.refresh_token not in err and "AUTHENTICATE **REDACTED**" in err
    )
    assert not any(t in out + err for t in oauth_account.server.refresh_tokens)
