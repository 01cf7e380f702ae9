"""The interactive logins of `mailcore oauth2 login`, through Authlib's client:

- the device authorization grant (RFC 8628, Microsoft 365's choice for tools without a
  browser): print the verification URL and the user code, then poll the token endpoint at the
  interval the provider asks (slower when it says ``slow_down``) until the user approved;
- the installed-app loopback flow (RFC 8252 with PKCE, RFC 7636; Google's): open the
  authorization URL, take the one redirect to a listener on 127.0.0.1, check its state and
  trade the code (and the PKCE verifier) for tokens.
"""

from __future__ import annotations

import http.server
import threading
import time
import webbrowser
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuthError

from mailcore.errors import AuthError
from mailcore.oauth2.client import session, token_set
from mailcore.oauth2.providers import Provider, ProviderKind
from mailcore.store.oauth_tokens import TokenSet

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
LOGIN_TIMEOUT = 900.0  # seconds a person has to approve, when the provider does not say

Echo = Callable[[str], None]


def device_login(
    provider: Provider, echo: Echo, sleep: Callable[[float], None] = time.sleep
) -> TokenSet:
    """RFC 8628: ask for a device code, show it, poll until approved (or refused, expired)."""
    client = session(provider)
    try:
        grant = _device_authorization(client, provider)
        where = grant.get("verification_uri") or grant.get("verification_url")  # Google's
        echo(f"To sign in, open {_shown(where)} and enter the code {_shown(grant['user_code'])}")
        interval = float(grant.get("interval") or 5)
        deadline = time.monotonic() + float(grant.get("expires_in") or LOGIN_TIMEOUT)
        while time.monotonic() < deadline:
            sleep(interval)
            try:
                answer = client.fetch_token(
                    provider.token_url,
                    grant_type=DEVICE_GRANT,
                    device_code=grant["device_code"],
                )
            except OAuthError as e:
                if e.error == "authorization_pending":
                    continue
                if e.error == "slow_down":  # RFC 8628 section 3.5: 5 seconds more, from now on
                    interval += 5
                    continue
                raise AuthError(_refused(e)) from None
            return token_set(answer)
    except requests.RequestException as e:
        raise AuthError(
            f"cannot reach the OAuth2 provider ({type(e).__name__}) -- check the network and"
            " the provider's URLs in [oauth2]"
        ) from None
    finally:
        client.close()
    raise AuthError("the sign-in was not approved in time: run the login again")


def _device_authorization(client: Any, provider: Provider) -> dict[str, Any]:
    data = {"client_id": provider.client_id, "scope": provider.scopes}
    if provider.client_secret:
        data["client_secret"] = provider.client_secret
    response = client.post(provider.device_url, data=data, withhold_token=True)
    try:
        grant = response.json()
    except ValueError:
        grant = None
    if not isinstance(grant, dict) or "device_code" not in grant or "user_code" not in grant:
        error = grant.get("error_description") or grant.get("error") if grant else None
        raise AuthError(
            f"the device authorization endpoint {provider.device_url} answered HTTP"
            f" {response.status_code}{f' ({error})' if error else ''} -- check client_id,"
            " tenant and scopes in [oauth2]"
        )
    return grant


def loopback_login(
    provider: Provider, echo: Echo, open_browser: bool = True, timeout: float = LOGIN_TIMEOUT
) -> TokenSet:
    """RFC 8252: authorize in a browser, take the redirect on 127.0.0.1, trade the code."""
    assert provider.authorize_url
    redirect = _Redirect()
    listener = http.server.HTTPServer(("127.0.0.1", 0), redirect.handler())
    listener.timeout = 1.0
    uri = f"http://127.0.0.1:{listener.server_address[1]}/"
    client = session(provider, redirect_uri=uri, code_challenge_method="S256")
    try:
        verifier = generate_token(64)
        extra = {"access_type": "offline", "prompt": "consent"}  # Google: a refresh token
        url, state = client.create_authorization_url(
            provider.authorize_url,
            code_verifier=verifier,
            **(extra if provider.kind is ProviderKind.GOOGLE else {}),
        )
        echo(f"To sign in, open this page in a browser on this machine:\n{url}")
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while redirect.query is None and time.monotonic() < deadline:
            listener.handle_request()
        query = redirect.query
        if query is None:
            raise AuthError("no sign-in came back in time: run the login again")
        if query.get("state") != state:
            raise AuthError("the sign-in answer does not belong to this login: run it again")
        if "code" not in query:
            raise AuthError(f"the sign-in was refused ({query.get('error', 'no code')[:200]})")
        answer = client.fetch_token(provider.token_url, code=query["code"], code_verifier=verifier)
        return token_set(answer)
    except OAuthError as e:
        raise AuthError(_refused(e)) from None
    except requests.RequestException as e:
        raise AuthError(f"cannot reach the OAuth2 token endpoint ({type(e).__name__})") from None
    finally:
        listener.server_close()
        client.close()


class _Redirect:
    """The query of the first request to the loopback listener."""

    def __init__(self) -> None:
        self.query: dict[str, str] | None = None

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                values = parse_qs(urlsplit(self.path).query, max_num_fields=10)
                if owner.query is None and values:
                    owner.query = {k: v[0][:4096] for k, v in values.items()}
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.end_headers()
                self.wfile.write(b"mailcore: you may close this window and return to the terminal.")

            def log_message(self, format: str, *args: Any) -> None:  # the query holds the code
                return

        return Handler


def _shown(value: object) -> str:
    """A provider's value for the terminal: printable, one word, bounded."""
    return "".join(c for c in str(value) if c.isprintable() and not c.isspace())[:500]


def _refused(e: OAuthError) -> str:
    what = " ".join(f"{e.error}: {e.description or ''}".split())[:300]
    return f"the OAuth2 provider refused the sign-in ({what}) -- run the login again"
