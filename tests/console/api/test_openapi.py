"""The OpenAPI 3.1 document at /api/v1/openapi.json, and schemathesis against the served app
(bounded: a few examples an operation): every answer matches the document, none is a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from console.testing import serve
from tests.console.api.conftest import ApiEnv, make_tokens


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ApiEnv]]:
    """The demo console (its failing mails polled) served on 127.0.0.1, with tokens."""
    from console import create_app
    from console.demo import sample_mails
    from mailcore import MaildirMailbox, Settings
    from tests.console.conftest import USERS, ConsoleEnv, make_services
    from tests.mailcore.smtp_server import smtp_server

    tmp = tmp_path_factory.mktemp("openapi")
    svc, office = make_services(MaildirMailbox(tmp / "mail"), tmp / "console.db")
    for name, (role, password) in USERS.items():
        svc.accounts.create(name, password, role, by="test")
    for _name, raw in sample_mails():
        svc.mailbox.append("INBOX", raw)
    svc.engine.poll_once()
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "MAILCORE_SERVICES": svc,
                      "MAILCORE_API_RATE_LIMIT": "100000/minute"})  # fmt: skip
    env = ConsoleEnv(app, svc, office)
    with smtp_server() as smtp, serve(app) as base:
        svc.settings = Settings.from_mapping(
            {"smtp": {"url": f"smtp://{smtp.host}:{smtp.port}?security=plain",
                      "sender": "Ops <ops@example.com>"}, "database_url": "sqlite://"}
        )  # fmt: skip
        yield base, ApiEnv(env, make_tokens(env))
    svc.close()


def test_the_document_is_openapi_3_1_with_the_error_shape(served: tuple[str, ApiEnv]) -> None:
    base, api = served
    document = api.client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    forbidden = document["paths"]["/api/v1/send"]["post"]["responses"]["403"]
    assert forbidden["$ref"].endswith("/FORBIDDEN")
    for path in ("/api/v1/mail/{folder}/", "/api/v1/templates/{name}", "/api/v1/admin/tokens"):
        assert path in document["paths"]


def test_every_answer_matches_the_document(served: tuple[str, ApiEnv]) -> None:
    """Each operation of the document, a few generated requests each, as the admin (who may
    call them all): the answers' status, content type and body conform, none is a 500."""
    base, api = served
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=3, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def check(case: Any) -> None:
            if case.method.upper() in ("DELETE", "PATCH"):  # keep the token and accounts
                case.path_parameters = dict.fromkeys(case.path_parameters or {}, "nobody")
            # A 4xx for a request the schema allows is fine here: a draft that does not render,
            # a mail that is gone are refused by what the data means, not by its shape.
            case.call_and_validate(headers=api.headers("admin"), timeout=30,
                                   excluded_checks=[positive_data_acceptance])  # fmt: skip

        check()
