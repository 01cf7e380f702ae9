"""The failed list's sender filter on a real Dovecot: whatever a link puts in the query string
is searched for as text, never sent to the server as a command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.demo import MAILS_DIR
from tests.console.conftest import ConsoleEnv
from tests.servers import Account

SCHEMA_ERROR_MAIL = (MAILS_DIR / "06-thunderbird-schema-error.eml").read_bytes()


@pytest.fixture
def console_env(
    app_factory: Callable[..., ConsoleEnv], account: Account, make_imap_mailbox: Any
) -> ConsoleEnv:
    """The console on a fresh Dovecot account with one mail in `failed`."""
    env = app_factory(mailbox=make_imap_mailbox(account))
    account.append("INBOX", SCHEMA_ERROR_MAIL)
    assert [o.status for o in env.services.engine.poll_once()] == ["failed"]
    return env


@pytest.fixture
def operator(console_env: ConsoleEnv) -> FlaskClient:
    return console_env.client("olivia")


def folder_names(account: Account) -> set[str]:
    with account.session() as c:
        return {name for _flags, _delim, name in c.list_folders()}


def test_a_link_cannot_create_a_folder_through_the_sender_filter(
    account: Account, operator: FlaskClient
):
    before = folder_names(account)

    response = operator.get("/failed/?sender=zz%0D%0AX1%20CREATE%20pwned%0D%0AX2%20NOOP")

    assert response.status_code == 200
    assert "pwned" not in folder_names(account)
    assert folder_names(account) == before
    # The console still lists the failed mail afterwards: the IMAP session is in step.
    assert "VEH-1045" in operator.get("/failed/").get_data(as_text=True)


def test_the_sender_filter_still_finds_its_sender(operator: FlaskClient):
    found = operator.get("/failed/?sender=carrosserie-PETIT").get_data(as_text=True)
    other = operator.get("/failed/?sender=nobody%7B5%7D").get_data(as_text=True)

    assert "VEH-1045" in found
    assert "VEH-1045" not in other


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sender=st.lists(
        st.one_of(
            st.sampled_from(["\r", "\n", "\x00", "{5}", '"', "\\", " X1 CREATE pwned", "é"]),
            st.characters(),
        ),
        min_size=1,
        max_size=20,
    ).map("".join)
)
def test_any_sender_filter_answers_a_page_and_changes_no_folder(
    account: Account, operator: FlaskClient, sender: str
):
    before = folder_names(account)

    response = operator.get("/failed/", query_string={"sender": sender})

    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert folder_names(account) == before
