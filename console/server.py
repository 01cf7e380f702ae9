"""The console's HTTP server: werkzeug's threaded one, bounded against clients that connect
and stall (slowloris) or open too many connections."""

from __future__ import annotations

import errno
import io
import logging
import socket
import threading
import time
from typing import Any

import click

log = logging.getLogger(__name__)


def check_port(host: str, port: int, hint: str) -> None:
    """Fail with a ClickException (saying `hint`) when `port` cannot be listened on."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise click.ClickException(f"cannot listen on {host}: {exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        # As the server will: a port held only by connections in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise click.ClickException(f"port {port} is in use: {hint}") from None
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from None


# The built-in server's limits against clients that connect and then stall (slowloris):
# seconds a client may stay silent, and to send a request line and its headers, before its
# connection is closed; connections served at once (more are answered 503 straight away).
SERVER_TIMEOUT = 30.0
SERVER_THREADS = 64
_SEND_CHUNK = 64 * 1024


class _DeadlineReader(io.RawIOBase):
    """The connection's input: every read waits at most the idle timeout, and while the
    handler's header deadline is set, no longer than what is left of it."""

    def __init__(self, handler: Any) -> None:
        self._handler = handler

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        handler = self._handler
        wait = handler.timeout
        if handler.header_deadline is not None:
            wait = min(wait, handler.header_deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError("request headers not received in time")
        handler.connection.settimeout(wait)
        return int(handler.connection.recv_into(buffer))


class _ProgressWriter(io.BufferedIOBase):
    """The connection's output in chunks: a slow reader may take as long as it needs, but a
    reader that takes nothing for the idle timeout is dropped."""

    def __init__(self, handler: Any) -> None:
        self._handler = handler

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _SEND_CHUNK):
            self._handler.connection.settimeout(self._handler.timeout)
            self._handler.connection.sendall(view[start : start + _SEND_CHUNK])
        return len(view)


def _handler_class() -> type[Any]:
    from werkzeug.serving import WSGIRequestHandler

    class ConsoleRequestHandler(WSGIRequestHandler):
        """werkzeug's handler with a read timeout and a deadline for the request headers."""

        timeout = SERVER_TIMEOUT  # StreamRequestHandler.setup applies it to the socket
        header_deadline: float | None = None

        def setup(self) -> None:
            super().setup()
            self.rfile.close()  # werkzeug's own reader: replaced by one keeping the deadline
            self.rfile = io.BufferedReader(_DeadlineReader(self))
            self.wfile = _ProgressWriter(self)

        def handle_one_request(self) -> None:
            # From waiting for the request line (also between keep-alive requests) until
            # the headers are in: one deadline, however slowly the bytes trickle in.
            self.header_deadline = time.monotonic() + self.timeout
            super().handle_one_request()

        def parse_request(self) -> bool:
            try:
                return bool(super().parse_request())
            finally:
                self.header_deadline = None  # the body: the idle timeout only

    return ConsoleRequestHandler


def make_console_server(
    app: Any,
    host: str,
    port: int,
    *,
    timeout: float | None = None,
    max_threads: int | None = None,
) -> Any:
    """werkzeug's threaded server for `app`, bounded: `timeout` seconds of silence (or to send
    the headers) closes a connection, and at most `max_threads` are served at once
    (defaults: SERVER_TIMEOUT, SERVER_THREADS)."""
    from werkzeug.serving import ThreadedWSGIServer

    timeout = SERVER_TIMEOUT if timeout is None else timeout
    limit: int = SERVER_THREADS if max_threads is None else max_threads

    handler = type("Handler", (_handler_class(),), {"timeout": timeout})

    class ConsoleServer(ThreadedWSGIServer):
        slots = threading.BoundedSemaphore(limit)

        def process_request(self, request: Any, client_address: Any) -> None:
            if not self.slots.acquire(blocking=False):
                log.warning("%d connections already open: answering 503", limit)
                _refuse(request)
                self.shutdown_request(request)
                return
            try:
                super().process_request(request, client_address)
            except BaseException:
                self.slots.release()
                raise

        def process_request_thread(self, request: Any, client_address: Any) -> None:
            try:
                super().process_request_thread(request, client_address)
            finally:
                self.slots.release()

    return ConsoleServer(host, port, app, handler)


def _refuse(connection: socket.socket) -> None:
    body = b"Too many open connections; try again in a few seconds.\n"
    try:
        connection.settimeout(1)
        connection.sendall(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
    except OSError:
        pass


def serve_app(app: Any, host: str, port: int) -> None:
    server = make_console_server(app, host, port)
    server.log_startup()
    server.serve_forever()
