"""An OAuth 2.0 authorization server for the tests, built on Authlib's `AuthorizationServer`
in a small Flask app on loopback: RFC 6749 refresh_token grant (refresh tokens rotate; a used
or revoked one is `invalid_grant`), RFC 8628 device authorization grant (the test approves the
user code in place of a person at a browser), the authorization code grant with PKCE (RFC 7636;
`/authorize` approves at once for `login_user`, as a person clicking "accept" would).

Access tokens are JWTs (HS256, ``typ: JWT``, key id "k1") that expire after `lifetime` seconds;
the private Dovecot of `tests.servers.start_oauth2_dovecot` validates them with the same key,
and `user_of` checks one here (for the SMTP test server).
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant
from authlib.oauth2.rfc8628.models import DeviceCredentialDict
from flask import Flask, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

HOST = "127.0.0.1"
CLIENT_ID = "mailcore"  # a public client (no secret), as Microsoft's and Google's tools are
SCOPE = "mail"  # what the Dovecot passdb requires
ALL_AUTH = ["none", "client_secret_basic", "client_secret_post"]


@dataclass
class User:
    name: str

    def get_user_id(self) -> str:
        return self.name


@dataclass
class Client(ClientMixin):
    client_id: str
    grant_types: tuple[str, ...] = (
        "refresh_token",
        "authorization_code",
        DeviceCodeGrant.GRANT_TYPE,
    )

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri.startswith(f"http://{HOST}:")  # RFC 8252 loopback, any port

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class RefreshToken:
    client_id: str
    user: User
    scope: str
    revoked: bool = False

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def is_revoked(self) -> bool:
        return self.revoked

    def is_expired(self) -> bool:
        return False


@dataclass
class AuthorizationCode:
    client_id: str
    user: User
    scope: str
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class TokenServer:
    """The running server and what it issued; `approve` and `revoke` act as the user would."""

    lifetime: float
    issuer: str = ""
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    devices: dict[str, DeviceCredentialDict] = field(default_factory=dict)
    approved: dict[str, User] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    issued: list[tuple[str, str]] = field(default_factory=list)  # (grant type, user)
    login_user: str = "nobody"
    lock: threading.Lock = field(default_factory=threading.Lock)
    _http: BaseWSGIServer | None = None

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def device_url(self) -> str:
        return f"{self.issuer}/device"

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/authorize"

    @property
    def key_base64(self) -> str:
        """The signing key as Dovecot's local_validation_key_dict wants it."""
        return base64.b64encode(self.key).decode()

    def approve(self, user_code: str, user: str) -> None:
        """The user entered `user_code` at the verification page and accepted."""
        self.approved[user_code] = User(user)

    def revoke(self, user: str) -> int:
        """Revoke every refresh token of `user` (an admin revoking the sessions)."""
        found = [t for t in self.refresh_tokens.values() if t.user.name == user]
        for token in found:
            token.revoked = True
        return len(found)

    def refreshes(self, user: str) -> int:
        return sum(1 for grant, name in self.issued if grant == "refresh_token" and name == user)

    def user_of(self, access_token: str, expired: bool = False) -> str | None:
        """The user an unexpired (or, with `expired`, any) access token of ours was issued to,
        else None."""
        try:
            token = jwt.decode(access_token, OctKey.import_key(self.key), algorithms=["HS256"])
        except (JoseError, ValueError):
            return None
        claims = token.claims
        stale = float(claims.get("exp", 0)) < time.time() and not expired
        if claims.get("iss") != self.issuer or stale:
            return None
        return str(claims.get("sub"))

    def sign(self, user: str, scope: str, lifetime: float | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user,
            "scope": scope,
            "iat": now,
            "exp": now + int(lifetime if lifetime is not None else self.lifetime),
            "jti": secrets.token_hex(8),
        }
        header = {"alg": "HS256", "typ": "JWT", "kid": "k1"}
        return jwt.encode(header, claims, OctKey.import_key(self.key))

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()


def start_token_server(lifetime: float = 3.0) -> TokenServer:
    """Serve a TokenServer on a free loopback port, in a thread, until `stop()`."""
    state = TokenServer(lifetime)
    app = Flask(__name__)
    server = AuthorizationServer(app, query_client=_query_client, save_token=_saver(state))
    server.register_token_generator("default", _generator(state))
    server.register_grant(_refresh_grant(state))
    server.register_grant(_code_grant(state), [CodeChallenge(required=True)])
    server.register_grant(_device_grant(state))
    server.register_endpoint(_device_endpoint(state))

    @app.post("/token")
    def token() -> Any:
        return server.create_token_response()

    @app.post("/device")
    def device() -> Any:
        return server.create_endpoint_response("device_authorization")

    @app.get("/authorize")
    def authorize() -> Any:
        user = User(state.login_user)
        grant = server.get_consent_grant(end_user=user)  # the consent page, accepted at once
        return server.create_authorization_response(grant=grant, grant_user=user)

    @app.get("/verify")
    def verify() -> str:  # where a person would enter the user code
        return f"enter the code {request.args.get('user_code', '')[:20]}"

    http = make_server(HOST, 0, app, threaded=True, request_handler=_Quiet)
    state.issuer = f"http://{HOST}:{http.server_port}"
    state._http = http
    threading.Thread(target=http.serve_forever, daemon=True, name="token-server").start()
    return state


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return  # a line per token request would drown the tests' output


def _query_client(client_id: str) -> Client | None:
    return Client(client_id) if client_id == CLIENT_ID else None


def _saver(state: TokenServer) -> Any:
    def save_token(token: dict[str, Any], req: Any) -> None:
        user: User = req.user
        with state.lock:
            state.issued.append((req.payload.grant_type or "", user.name))
            if "refresh_token" in token:
                state.refresh_tokens[token["refresh_token"]] = RefreshToken(
                    req.client.client_id, user, token.get("scope") or SCOPE
                )

    return save_token


def _generator(state: TokenServer) -> Any:
    def generate(
        grant_type: str,
        client: Client,
        user: User,
        scope: str | None,
        expires_in: int | None,
        include_refresh_token: bool,
    ) -> dict[str, Any]:
        token = {
            "token_type": "Bearer",
            "access_token": state.sign(user.name, scope or SCOPE),
            "expires_in": int(state.lifetime),
            "scope": scope or SCOPE,
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    return generate


def _refresh_grant(state: TokenServer) -> type[grants.RefreshTokenGrant]:
    class RefreshTokenGrant(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH
        INCLUDE_NEW_REFRESH_TOKEN = True  # rotate: the old one is revoked below

        def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
            with state.lock:
                found = state.refresh_tokens.get(refresh_token)
            if found is None or found.revoked:
                return None  # authlib answers invalid_grant
            return found

        def authenticate_user(self, refresh_token: RefreshToken) -> User:
            return refresh_token.user

        def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
            refresh_token.revoked = True

    return RefreshTokenGrant


def _code_grant(state: TokenServer) -> type[grants.AuthorizationCodeGrant]:
    class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH

        def save_authorization_code(self, code: str, req: Any) -> None:
            data = req.payload.data
            state.codes[code] = AuthorizationCode(
                req.client.client_id,
                req.user,
                req.payload.scope or SCOPE,
                req.payload.redirect_uri,
                data.get("code_challenge"),
                data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: Client) -> Any:
            found = state.codes.get(code)
            return found if found is not None and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
            state.codes = {k: v for k, v in state.codes.items() if v is not authorization_code}

        def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
            return authorization_code.user

    return AuthorizationCodeGrant


def _device_grant(state: TokenServer) -> type[DeviceCodeGrant]:
    class Grant(DeviceCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH

        def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
            return state.devices.get(device_code)

        def query_user_grant(self, user_code: str) -> tuple[User, bool] | None:
            user = state.approved.get(user_code)
            return (user, True) if user is not None else None

        def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
            return False

    return Grant


def _device_endpoint(state: TokenServer) -> type[DeviceAuthorizationEndpoint]:
    class Endpoint(DeviceAuthorizationEndpoint):
        INTERVAL = 1  # seconds between polls (RFC 8628's default of 5 would slow the tests)
        EXPIRES_IN = 60

        def get_verification_uri(self) -> str:
            return f"{state.issuer}/verify"

        def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
            state.devices[data["device_code"]] = DeviceCredentialDict(
                client_id=client_id,
                scope=scope or SCOPE,
                expires_at=time.time() + data["expires_in"],
                **data,
            )

    return Endpoint
