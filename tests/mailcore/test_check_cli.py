"""`mailcore check` against real servers: Dovecot (with and without MOVE/UIDPLUS), an aiosmtpd
SMTP server asking for a login, PostgreSQL, and ports nothing listens on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result

from mailcore.commands.check import check
from mailcore.store.db import connect
from tests.mailcore.engine_support import ready_account
from tests.mailcore.smtp_server import Recorder
from tests.servers import HOST, free_port

SMTP_USER, SMTP_PASSWORD = "sender@example.org", "smtp-secret"
# aiosmtpd warns that AUTH without TLS is unsafe: on loopback, in a test, it is what we want.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def smtp_port() -> Iterator[int]:
    """aiosmtpd on loopback, AUTH PLAIN required (without TLS: it is loopback)."""

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself

    controller = Controller(
        Recorder(),
        hostname=HOST,
        port=free_port(),
        authenticator=authenticate,
        auth_require_tls=False,
        auth_required=True,
        auth_exclude_mechanism=["LOGIN"],  # one mechanism: the line checked is exact
    )
    controller.start()
    yield controller.port
    controller.stop()


def run_check(tmp_path: Path, *lines: str, strict: bool = False) -> Result:
    config = tmp_path / "mailcore.toml"
    config.write_text("\n".join(lines) + "\n")
    args = ["--config", str(config), *(["--strict"] if strict else [])]
    return CliRunner().invoke(check, args, env={"MAILCORE_CONFIG": None})


def setup(
    tmp_path: Path, imap_url: str, smtp_port: int, password: str = SMTP_PASSWORD
) -> tuple[str, ...]:
    database = tmp_path / "h.db"
    connect(f"sqlite:///{database}").dispose()  # a database at head
    smtp = f"smtp://{SMTP_USER.replace('@', '%40')}:{password}@{HOST}:{smtp_port}/?security=plain"
    return (
        f'imap_url = "{imap_url}"',
        f'database_url = "sqlite:///{database}"',
        "[smtp]",
        f'url = "{smtp}"',
    )


def test_everything_reachable_and_current_is_no_problem(
    tmp_path: Path, dovecot: Any, smtp_port: int
) -> None:
    account = ready_account(dovecot)
    for folder in ("processed", "failed", "auto-replies", "rejected"):
        with account.session() as client:
            client.create_folder(folder)
    result = run_check(tmp_path, *setup(tmp_path, account.imap_url(), smtp_port), strict=True)
    out = result.output
    assert result.exit_code == 0, out
    assert f"mailbox default ({account.username}@{dovecot.host}:{dovecot.port})" in out
    assert "offers MOVE UIDPLUS IDLE QRESYNC CONDSTORE" in out
    assert "every folder of [folders] exists" in out
    assert f"no TLS; AUTH PLAIN; logged in as {SMTP_USER}" in out
    assert "schema at revision" in out and "(current)" in out
    assert "no problem found" in out


def test_missing_capabilities_and_folders_are_warnings_strict_makes_them_fail(
    tmp_path: Path, dovecot: Any, smtp_port: int
) -> None:
    account = ready_account(dovecot)
    basic = f"imap://{account.username}:{account.password}@{dovecot.basic_host}:{dovecot.port}/"
    lines = setup(tmp_path, basic + "?security=plain", smtp_port)
    result = run_check(tmp_path, *lines)
    out = result.output
    assert result.exit_code == 0, out
    assert "[warn] mailbox default" in out and "no MOVE:" in out and "no UIDPLUS:" in out
    assert "folders missing: 'processed', 'failed', 'auto-replies', 'rejected'" in out
    assert "fix: the first `mailcore poll`" in out
    assert run_check(tmp_path, *lines, strict=True).exit_code == 1


def test_each_problem_is_named_with_its_fix_and_the_exit_status_is_1(
    tmp_path: Path, dovecot: Any, smtp_port: int, postgres: Any
) -> None:
    account = ready_account(dovecot)
    wrong = f"imap://{account.username}:nope@{dovecot.host}:{dovecot.port}/?security=plain"
    lines = setup(tmp_path, wrong, smtp_port, password="wrong")
    result = run_check(tmp_path, *lines)
    out = result.output
    assert result.exit_code == 1, out
    assert f"refused the login of {account.username!r}" in out
    assert f"refused the login of {SMTP_USER!r}" in out
    assert out.count("fix: ") >= 2 and "2 problem(s)" in out

    closed = free_port()
    nothing = (
        f'imap_url = "imap://u:p@{HOST}:{closed}/?security=plain"',
        f'database_url = "postgresql://mailcore:x@{HOST}:{closed}/mailcore"',
        "[smtp]",
        f'url = "smtp://{HOST}:{closed}/?security=plain"',
        'sender = "ops@example.org"',
    )
    result = run_check(tmp_path, *nothing)
    out = result.output
    assert result.exit_code == 1, out
    assert f"cannot connect to {HOST}:{closed}: connection refused -- check the port" in out
    assert f"cannot reach SMTP server {HOST}:{closed}" in out
    assert "[FAIL] database postgresql+psycopg://mailcore:***@" in out
    assert "fix: check database_url, and that the database server runs" in out
    assert "3 problem(s)" in out


def test_a_database_behind_says_run_mailcore_migrate(tmp_path: Path, postgres_url: str) -> None:
    import sqlalchemy as sa

    from mailcore.store.db import engine_for

    connect(postgres_url).dispose()
    engine = engine_for(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    engine.dispose()
    maildir = tmp_path / "mail"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    result = run_check(tmp_path, f'maildir = "{maildir}"', f'database_url = "{postgres_url}"')
    out = result.output
    assert result.exit_code == 1, out
    assert "schema at revision 0001, this mailcore needs" in out
    assert "fix: run `mailcore migrate`" in out
    assert "no [smtp] url" in out  # not a problem: nothing is sent


def test_oauth2_without_a_signed_in_account_says_to_log_in(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    database = tmp_path / "h.db"
    connect(f"sqlite:///{database}").dispose()
    lines = (
        f'maildir = "{maildir}"',
        f'database_url = "sqlite:///{database}"',
        "[console]",
        'secret_key = "a-test-secret-key"',
        "[oauth2]",
        'provider = "microsoft"',
    )
    result = run_check(tmp_path, *lines)
    assert result.exit_code == 1, result.output
    assert "[FAIL] OAuth2: no account is signed in" in result.output
    assert "fix: run `mailcore oauth2 login`" in result.output


def test_a_missing_maildir_is_a_problem_and_is_not_created(tmp_path: Path) -> None:
    maildir = tmp_path / "nowhere"
    database = tmp_path / "h.db"
    connect(f"sqlite:///{database}").dispose()
    lines = (f'maildir = "{maildir}"', f'database_url = "sqlite:///{database}"')
    result = run_check(tmp_path, *lines)
    assert result.exit_code == 1, result.output
    assert f"[FAIL] mailbox default: no Maildir at {maildir}" in result.output
    assert not maildir.exists()
