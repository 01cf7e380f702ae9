"""`mailcore serve`'s production server: waitress (pure Python, threads), in one process or in
`workers` processes forked onto one listening socket and kept running by a small supervisor.

waitress reads each request whole (headers, and a body beyond 512 KB into a temporary file)
in its event loop before a thread runs the app, so a client that stalls or trickles holds a
connection, never a thread; `connection_limit` bounds the connections and `channel_timeout`
closes silent ones.

Each worker builds its own app (its database pool, its mailbox connection) after the fork.
With `poll`, worker 0 alone runs the background poller, and so does the worker started in
its place when it dies: one poller per `mailcore serve`. Several `mailcore serve` (or
`mailcore poll`) on one mailbox are safe too: the claims give each message to one process.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# A worker that dies sooner than this after its start is restarted only after this long, so a
# worker failing at start-up (database down) does not spin; after MAX_QUICK_DEATHS deaths
# within QUICK_DEATH seconds of their start in a row, the supervisor gives up.
RESTART_PAUSE = 1.0
QUICK_DEATH = 5.0
MAX_QUICK_DEATHS = 5


@dataclass(frozen=True)
class ServerOptions:
    """What `mailcore serve` lets the operator size."""

    workers: int = 1  # processes
    threads: int = 8  # request threads per process
    connection_limit: int = 100  # open connections per process; more wait in the backlog
    channel_timeout: float = 30.0  # seconds a connection may stay silent

    def waitress(self) -> dict[str, Any]:
        return {
            "threads": self.threads,
            "connection_limit": self.connection_limit,
            "channel_timeout": self.channel_timeout,
            "ident": "mailcore",
        }


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket every worker accepts on (bound before any fork)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(1024)
    return sock


def serve_waitress(app: Any, sock: socket.socket, options: ServerOptions) -> None:
    """Serve `app` on `sock` until SIGTERM or SIGINT."""
    from waitress import serve

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    serve(app, sockets=[sock], **options.waitress())


def run_workers(
    make_app: Callable[[int], tuple[Any, Callable[[], None]]],
    sock: socket.socket,
    options: ServerOptions,
) -> bool:
    """Serve in `options.workers` processes; `make_app(index)` -> (app, close), called in the
    worker. The caller (the supervisor) restarts a worker that dies, with its index, and on
    SIGTERM or SIGINT stops them all and returns. False when the workers kept dying as they
    started (a setting or the database: the log says)."""
    if options.workers == 1:
        app, close = make_app(0)
        try:
            serve_waitress(app, sock, options)
        finally:
            close()
        return True
    return Supervisor(make_app, sock, options).run()


class Supervisor:
    """The parent of the worker processes (see `run_workers`)."""

    def __init__(
        self,
        make_app: Callable[[int], tuple[Any, Callable[[], None]]],
        sock: socket.socket,
        options: ServerOptions,
    ) -> None:
        self.make_app = make_app
        self.sock = sock
        self.options = options
        self.children: dict[int, tuple[int, float]] = {}  # pid -> (index, started)
        self.stopping = False
        self.quick_deaths = 0

    def run(self) -> bool:
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for index in range(self.options.workers):
                self._spawn(index)
            while self.children:
                pid, status = os.wait()
                index, started = self.children.pop(pid, (-1, 0.0))
                if self.stopping or index < 0:
                    continue
                log.warning(
                    "worker %d (pid %d) ended (status %d): starting another", index, pid, status
                )
                lived = time.monotonic() - started
                self.quick_deaths = self.quick_deaths + 1 if lived < QUICK_DEATH else 0
                if self.quick_deaths >= MAX_QUICK_DEATHS:
                    log.error("%d workers died as they started: stopping", self.quick_deaths)
                    self._stop(signal.SIGTERM, None)
                    continue
                if lived < RESTART_PAUSE:
                    time.sleep(RESTART_PAUSE)
                if not self.stopping:
                    self._spawn(index)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.quick_deaths < MAX_QUICK_DEATHS

    def _stop(self, signum: int, _frame: Any) -> None:
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _spawn(self, index: int) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = (index, time.monotonic())
            return
        code = 0
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            app, close = self.make_app(index)
            try:
                serve_waitress(app, self.sock, self.options)
            finally:
                close()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            log.exception("worker %d failed", index)
            code = 1
        finally:
            for stream in (sys.stdout, sys.stderr):  # os._exit flushes nothing
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
