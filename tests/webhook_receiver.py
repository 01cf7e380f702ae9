"""A webhook receiver on 127.0.0.1 for the tests: a threaded http.server whose signature check
is written from the Standard Webhooks specification (1.0.0, "Verifying signatures"), not from
mailcore's signing code.

    with WebhookReceiver(secret) as rx:          # secret: "whsec_<base64>"
        rx.script((503, {}), (200, {"ok": True}))  # the next answers, then 200 {}
        ... rx.url ...
        rx.received  # every request: webhook-id, whether its signature checked out, its JSON
        rx.done      # the webhook-ids it acted on, once each (a second delivery is a duplicate)

A request whose signature does not check out is answered 401 and never acted on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a timeout)


@dataclass(frozen=True)
class Received:
    webhook_id: str
    timestamp: str
    verified: bool
    body: dict[str, Any] | None
    answered: int
    duplicate: bool = False


def spec_signature_ok(secret: str, headers: Any, body: bytes, tolerance: int = 300) -> bool:
    """The spec's steps: base64-decode the secret after ``whsec_``; sign ``id.timestamp.body``
    with HMAC-SHA256; compare in constant time with each ``v1,`` entry of the space-delimited
    webhook-signature header; refuse a timestamp out of tolerance."""
    key = base64.b64decode(secret.split("_", 1)[1])
    msg_id = headers.get("webhook-id") or ""
    stamp = headers.get("webhook-timestamp") or ""
    if not msg_id or not stamp.isdigit() or abs(time.time() - int(stamp)) > tolerance:
        return False
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in (headers.get("webhook-signature") or "").split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


class WebhookReceiver:
    """See the module docstring."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[Received] = []
        self.done: list[str] = []
        self._answers: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def script(self, *answers: tuple[int, dict[str, Any]] | Answer) -> None:
        """The next answers, in order (then 200 {})."""
        with self._lock:
            for a in answers:
                self._answers.append(a if isinstance(a, Answer) else Answer(*a))

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, headers: Any, body: bytes) -> Answer:
        """The answer to a request, recorded in `received` as it arrives."""
        answer, record = self._decide(headers, body)
        with self._lock:
            self.received.append(record)
        return answer

    def _decide(self, headers: Any, body: bytes) -> tuple[Answer, Received]:
        verified = spec_signature_ok(self.secret, headers, body)
        msg_id = headers.get("webhook-id") or ""
        stamp = headers.get("webhook-timestamp") or ""
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with self._lock:
            if not verified:
                answer = Answer(401, {"reason": "signature does not check out"})
                return answer, Received(msg_id, stamp, False, parsed, 401)
            answer = self._answers.popleft() if self._answers else Answer()
            duplicate = False
            if 200 <= answer.status < 300:
                duplicate = msg_id in self.done
                if not duplicate:
                    self.done.append(msg_id)
            return answer, Received(msg_id, stamp, True, parsed, answer.status, duplicate)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                answer = receiver._answer(self.headers, body)
                if answer.delay:
                    time.sleep(answer.delay)
                out = json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:  # the client gave up (a timeout)
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler
