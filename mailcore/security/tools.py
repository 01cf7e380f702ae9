"""The one way mailcore runs `openssl` and `gpg`: argument lists (never a shell), bounded input,
bounded output, a timeout, and errors that say which tool failed and why.

Sender-controlled bytes only ever reach these tools as files or standard input, never as
arguments.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
from dataclasses import dataclass

from mailcore.errors import ConfigError

MAX_INPUT = 32 * 1024 * 1024  # bytes handed to a tool at most (mail is 25 MB at most)
MAX_OUTPUT = 64 * 1024 * 1024  # what a tool may write to stdout before it is cut
TIMEOUT = 30.0  # seconds; a tool that takes longer is killed


@dataclass(frozen=True)
class Ran:
    """What one tool run gave: its exit code, standard output and standard error."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_line(self) -> str:
        """The tool's first meaningful error line, short enough for a reason."""
        for line in self.stderr.decode("utf-8", "replace").splitlines():
            text = line.strip()
            if text and not text.startswith("gpg: WARNING"):
                return text[:300]
        return f"exit code {self.returncode}"


def program(name: str) -> str:
    """The path of `name`, or a ConfigError saying how to install it."""
    found = shutil.which(name)
    if found is None:
        package = "gnupg" if name.startswith("gpg") else "openssl"
        raise ConfigError(f"{name} is not installed: apt-get install {package}")
    return found


def run(
    args: list[str],
    data: bytes = b"",
    *,
    timeout: float = TIMEOUT,
    env: dict[str, str] | None = None,
    max_output: int = MAX_OUTPUT,
) -> Ran:
    """Run a tool on `data` (standard input). A too-large input, an output over `max_output`
    (a decompression bomb) or a timeout is a `Ran` with returncode -1 and the reason in
    stderr, never an exception: the caller records it."""
    if len(data) > MAX_INPUT:
        return Ran(-1, b"", f"input of {len(data)} bytes is over {MAX_INPUT}".encode())
    proc = subprocess.Popen(
        [program(args[0]), *args[1:]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        proc.kill()

    timer = threading.Timer(timeout, expire)
    errors: list[bytes] = []
    feeder = threading.Thread(target=_feed, args=(proc, data), daemon=True)
    drainer = threading.Thread(target=_drain, args=(proc, errors), daemon=True)
    timer.start()
    feeder.start()
    drainer.start()
    try:
        out, over = _read(proc, max_output)
        code = proc.wait()
    finally:
        timer.cancel()
        feeder.join(timeout)
        drainer.join(timeout)
    if over:
        return Ran(-1, b"", f"{args[0]} wrote over {max_output} bytes and was stopped".encode())
    if expired.is_set():
        return Ran(-1, b"", f"{args[0]} took over {timeout:g} s and was stopped".encode())
    return Ran(code, out, b"".join(errors))


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
    except (BrokenPipeError, OSError):
        pass  # the tool stopped reading: its exit code says why
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()


def _drain(proc: subprocess.Popen[bytes], into: list[bytes]) -> None:
    assert proc.stderr is not None
    kept = 0
    while chunk := proc.stderr.read(65536):
        if kept < 65536:
            into.append(chunk[: 65536 - kept])
            kept += len(chunk)


def _read(proc: subprocess.Popen[bytes], limit: int) -> tuple[bytes, bool]:
    """Standard output up to `limit` bytes; (b"", True) and the tool killed when over it."""
    assert proc.stdout is not None
    chunks: list[bytes] = []
    size = 0
    while chunk := proc.stdout.read(65536):
        size += len(chunk)
        if size > limit:
            proc.kill()
            proc.stdout.close()
            return b"", True
        chunks.append(chunk)
    return b"".join(chunks), False
