"""API fixtures: the demo console (its failing mails polled) with one API token per role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.console.conftest import ConsoleEnv

ROLES = ("operator", "author", "admin")


@dataclass
class ApiEnv:
    env: ConsoleEnv
    secrets: dict[str, str]  # role -> the secret of a token of that role

    @property
    def client(self) -> FlaskClient:
        return self.env.app.test_client()

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"}

    def call(self, role: str | None, method: str, path: str, body: Any = None) -> Any:
        headers = self.headers(role) if role else {}
        return self.client.open(path, method=method, json=body, headers=headers)


def make_tokens(env: ConsoleEnv) -> dict[str, str]:
    from console.api_tokens import ApiTokens

    store = ApiTokens(env.services.history.engine, env.services.history)
    return {role: store.create(f"{role}-bot", role, by="test")[1] for role in ROLES}


@pytest.fixture
def api(demo_env: ConsoleEnv) -> ApiEnv:
    return ApiEnv(demo_env, make_tokens(demo_env))
