"""/api/v1/admin: the accounts (read) and the API tokens (create, list, revoke) -- admins'."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate as v

from console.api.auth import actor, require, tokens
from console.api.errors import ApiError, blueprint
from console.api.schemas import Strict
from console.api_tokens import ApiToken, TokenError, TokenExists
from console.services import services
from console.users import ROLES, AccountError

blp = blueprint("api_admin", __name__, url_prefix="/api/v1/admin", description="Admin")


class UserOut(ma.Schema):
    username = f.String(required=True)
    role = f.String(required=True)
    email = f.String(allow_none=True)
    active = f.Boolean(required=True)


class UsersOut(ma.Schema):
    users = f.List(f.Nested(UserOut), required=True)


class UserIn(Strict):
    username = f.String(required=True, validate=v.Length(min=1, max=64))
    password = f.String(required=True, load_only=True, validate=v.Length(min=1, max=1024))
    role = f.String(load_default="operator", validate=v.OneOf(ROLES))
    email = f.Email(allow_none=True, load_default=None)


class UserChange(Strict):
    role = f.String(validate=v.OneOf(ROLES))
    active = f.Boolean()
    email = f.Email(allow_none=True)
    password = f.String(load_only=True, validate=v.Length(min=1, max=1024))


class TokenOut(ma.Schema):
    name = f.String(required=True)
    role = f.String(required=True)
    created_at = f.DateTime(required=True)
    created_by = f.String(required=True)
    revoked_at = f.DateTime(allow_none=True)
    revoked_by = f.String(allow_none=True)


class TokensOut(ma.Schema):
    tokens = f.List(f.Nested(TokenOut), required=True)


class TokenIn(Strict):
    name = f.String(required=True, validate=v.Length(min=1, max=64))
    role = f.String(required=True, validate=v.OneOf(ROLES))


class NewToken(TokenOut):
    token = f.String(required=True, metadata={"description": "The secret: shown only now"})


def token_json(t: ApiToken) -> dict[str, Any]:
    return {
        "name": t.name, "role": t.role, "created_at": t.created_at, "created_by": t.created_by,
        "revoked_at": t.revoked_at, "revoked_by": t.revoked_by,
    }  # fmt: skip


@blp.get("/users")
@require("admin")
@blp.response(200, UsersOut)
def users() -> dict[str, Any]:
    """The console's accounts (never a password)."""
    found = services().accounts.list()
    return {"users": [user_json(u) for u in found]}


def user_json(u: Any) -> dict[str, Any]:
    return {"username": u.username, "role": u.role, "email": u.email, "active": u.active}


def _account(change: Any) -> Any:
    """An Accounts change; its AccountError (the policy's refusal) as 422 on its field."""
    try:
        return change()
    except AccountError as exc:
        raise ApiError(422, str(exc), fields={exc.field or "username": [str(exc)]}) from None


@blp.post("/users")
@require("admin")
@blp.arguments(UserIn)
@blp.response(201, UserOut)
def create_user(body: dict[str, Any]) -> dict[str, Any]:
    """A new console account (the same password policy as the admin page)."""
    accounts = services().accounts
    return user_json(_account(lambda: accounts.create(
        body["username"], body["password"], body["role"], email=body["email"], by=actor()
    )))  # fmt: skip


@blp.route("/users/<username>", methods=["PATCH"])
@require("admin")
@blp.arguments(UserChange)
@blp.response(200, UserOut)
def change_user(body: dict[str, Any], username: str) -> dict[str, Any]:
    """Change an account's role, e-mail address, password or whether it may log in."""
    accounts, by = services().accounts, actor()
    if accounts.by_name(username) is None:
        raise ApiError(404, f"no user {username!r}")
    if "role" in body:
        _account(lambda: accounts.set_role(username, body["role"], by=by))
    if "email" in body:
        _account(lambda: accounts.set_email(username, body["email"], by=by))
    if "password" in body:
        _account(lambda: accounts.set_password(username, body["password"], by=by))
    if "active" in body:
        _account(lambda: accounts.set_active(username, body["active"], by=by))
    return user_json(accounts.by_name(username))


@blp.delete("/users/<username>")
@require("admin")
@blp.response(204)
def delete_user(username: str) -> None:
    """Delete an account (never the last active admin)."""
    accounts = services().accounts
    if accounts.by_name(username) is None:
        raise ApiError(404, f"no user {username!r}")
    _account(lambda: accounts.delete(username, by=actor()))


@blp.get("/tokens")
@require("admin")
@blp.response(200, TokensOut)
def list_tokens() -> dict[str, Any]:
    """Every API token (never a secret), revoked ones too."""
    return {"tokens": [token_json(t) for t in tokens().list()]}


@blp.post("/tokens")
@require("admin")
@blp.arguments(TokenIn)
@blp.response(201, NewToken)
def create_token(body: dict[str, Any]) -> dict[str, Any]:
    """A new token of a role; its secret is in this answer only."""
    try:
        made, secret = tokens().create(body["name"], body["role"], by=actor())
    except TokenError as exc:
        raise ApiError(409 if isinstance(exc, TokenExists) else 422, str(exc)) from None
    return {**token_json(made), "token": secret}


@blp.delete("/tokens/<name>")
@require("admin")
@blp.response(200, TokenOut)
def revoke_token(name: str) -> dict[str, Any]:
    """Revoke a token: refused (401) from now on."""
    try:
        return token_json(tokens().revoke(name, by=actor()))
    except TokenError as exc:
        raise ApiError(404, str(exc)) from None
