"""A real SMTP server for tests: aiosmtpd on a free loopback port, recording what it gets."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

from tests.servers import HOST, free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the bytes as they came over the wire


@dataclass
class Recorder:
    """Stores every message; refuses recipients listed in `refuse` with 550."""

    refuse: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 Ok: queued"


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: Recorder


@contextmanager
def smtp_server(
    tls_context: ssl.SSLContext | None = None, require_starttls: bool = False
) -> Iterator[SmtpServer]:
    recorder = Recorder()
    kwargs: dict[str, Any] = {}
    if tls_context is not None:
        kwargs.update(tls_context=tls_context, require_starttls=require_starttls)
    controller = Controller(recorder, hostname=HOST, port=free_port(), **kwargs)
    controller.start()
    try:
        yield SmtpServer(HOST, controller.port, recorder)
    finally:
        controller.stop()
