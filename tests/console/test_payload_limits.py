"""Payload budgets in the console: an alias bomb, a huge number or a deep nesting typed in the
editor (convert, validate, resubmit) or carried by a mail (the detail page) is answered with the
limit it crosses, in a small page, never a 500 or a page of hundreds of megabytes."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from console.presenters import PayloadSyntaxError, dump_payload, field_rows, parse_payload
from tests.console.conftest import ConsoleEnv, csrf_token, failed_uid
from tests.mailcore.inbound.test_payload import alias_bomb, bounded
from tests.mailcore.processing.test_registry import shared_bomb
from tests.servers import message

# Big enough for any honest answer: the editor page of a demo mail is about 30 KB.
SMALL = 200_000


@pytest.fixture
def env(demo_env: ConsoleEnv) -> ConsoleEnv:
    return demo_env


def post(client: FlaskClient, uid: int, action: str, **data: str) -> tuple[int, str]:
    token = csrf_token(client, f"/failed/{uid}")
    with bounded(seconds=10, megabytes=100):
        response = client.post(
            f"/failed/{uid}/{action}",
            data=data,
            headers={"X-CSRFToken": token, "HX-Request": "true"},
        )
    body = response.get_data(as_text=True)
    # The page may echo what was typed (the text, a field): proportional, never a blow-up.
    bound = SMALL + 3 * len(data.get("payload", ""))
    assert len(body) < bound, f"{action} answered {len(body):,} characters"
    return response.status_code, body


# The 282 bytes posted to convert answered 508 MB.
BOMB = alias_bomb(levels=9, fanout=9)


def test_convert_of_an_alias_bomb_names_the_limit_in_a_small_answer(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1045")
    assert len(BOMB) < 450
    status, html = post(client, uid, "convert", payload=BOMB, current_syntax="yaml", syntax="json")
    assert status == 200
    assert "max_nodes = 10,000" in html and "Payload (YAML)" in html  # kept as typed


def test_validate_and_resubmit_of_an_alias_bomb_name_the_limit(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1045")
    status, html = post(client, uid, "validate", payload=BOMB, syntax="yaml")
    assert status == 200 and "max_nodes = 10,000" in html
    status, html = post(client, uid, "resubmit", payload=BOMB, syntax="yaml")
    assert status == 200 and "max_nodes = 10,000" in html
    assert all(r["file"] != "VEH-1045" for r in env.office.records)  # no handler call
    assert uid in env.services.mailbox.uids("failed")


@pytest.mark.parametrize("syntax", ["json", "yaml"])
def test_a_100000_digit_number_in_the_editor_is_the_limit_not_a_500(
    env: ConsoleEnv, syntax: str
) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1045")
    digits = "9" * 100_000
    as_number = f'{{"mileage_km": {digits}}}' if syntax == "json" else f"mileage_km: {digits}"
    as_text = f'{{"mileage_km": "{digits}"}}' if syntax == "json" else f"mileage_km: '{digits}'"
    for action in ("validate", "convert", "resubmit"):
        status, html = post(
            client, uid, action, payload=as_number, syntax=syntax, current_syntax=syntax
        )
        assert status == 200 and "max_number_digits = 100" in html, action
    # Typed as text, the schema's integer coercion names the limit instead of int() failing.
    status, html = post(client, uid, "validate", payload=as_text, syntax=syntax)
    assert status == 200 and "is over the limit max_number_digits = 100" in html
    status, html = post(client, uid, "resubmit", payload=as_text, syntax=syntax)
    assert status == 200 and "max_number_digits = 100" in html
    assert all(r["file"] != "VEH-1045" for r in env.office.records)


def test_deep_nesting_in_the_editor_is_the_limit(env: ConsoleEnv) -> None:
    client = env.client("olivia")
    uid = failed_uid(env, "VEH-1045")
    deep = '{"owner": ' + "[" * 50_000 + "]" * 50_000 + "}"  # past Python's recursion limit
    status, html = post(client, uid, "validate", payload=deep, syntax="json")
    assert status == 200 and "max_depth = 32" in html


def test_the_detail_page_of_a_mail_carrying_an_alias_bomb_is_small(env: ConsoleEnv) -> None:
    # The 430 bytes made a 268 MB detail page.
    env.services.mailbox.append("INBOX", message("Registration [VEH-1045]", BOMB))
    [outcome] = env.services.engine.poll_once()
    assert outcome.status == "failed" and "max_nodes = 10,000" in (outcome.reason or "")
    client = env.client("olivia")
    with bounded(seconds=10, megabytes=100):
        response = client.get(f"/failed/{outcome.new_uid}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and len(html) < SMALL
    assert "max_nodes = 10,000" in html


def test_presenters_never_write_out_an_over_budget_payload() -> None:
    payload = {"notes": shared_bomb()}
    with bounded():
        text = dump_payload(payload, "json")
        assert text.startswith("(not shown: payload over the limit max_nodes")
        assert dump_payload(payload, "yaml") == text
        rows, general = field_rows(payload, [])
    assert rows == [] and "max_nodes" in general[0]


def test_parse_payload_names_the_limit_and_its_line() -> None:
    with pytest.raises(PayloadSyntaxError, match="max_string_length") as caught:
        parse_payload("owner: Bob\nnotes: " + "x" * 100_001, "yaml")
    assert caught.value.line == 2
    # Within the limits, the editor's YAML is read as before (YAML 1.1 as safe_load reads it).
    assert parse_payload("seats: 5\nok: yes\nlist: [a, b]", "yaml") == {
        "seats": 5,
        "ok": True,
        "list": ["a", "b"],
    }


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ('{"n": ' + "9" * 5_000 + "}", "max_number_digits"),  # int() refused it: a 500
        ('{"n": ' + "[" * 50_000 + "]" * 50_000 + "}", "max_depth"),  # a RecursionError
    ],
)
def test_a_templates_sample_data_is_held_to_the_payload_limits(text: str, limit: str) -> None:
    from console.authoring import parse_sample

    data, [problem] = parse_sample(text)
    assert data is None and f"{limit} = " in problem.message
    assert parse_sample('{"n": 5}') == ({"n": 5}, [])


def test_a_yaml_value_its_constructor_refuses_is_a_syntax_error_not_a_500() -> None:
    with pytest.raises(PayloadSyntaxError, match="month must be in 1..12"):
        parse_payload("date: !!timestamp 2024-13-45", "yaml")
