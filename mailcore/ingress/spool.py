"""`Spool`: a pushed message on its way in, in memory while small, on disk once large.

Bytes arrive in chunks (stdin, an HTTP body, a multipart field) and are written to a
`tempfile.SpooledTemporaryFile` that moves to disk past `IN_MEMORY` bytes; over `limit` bytes
`MessageTooLarge` is raised at once, before the rest is read. `message(prefix)` then builds the
one copy of the message (with its trace fields in front) that the mailbox stores: a large
message is assembled on disk first, so memory holds it once, never twice or three times.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from typing import IO, BinaryIO

from mailcore.errors import MailcoreError

__all__ = ["CHUNK", "IN_MEMORY", "MessageTooLarge", "Spool"]

CHUNK = 64 * 1024
IN_MEMORY = 1024 * 1024


class MessageTooLarge(MailcoreError):
    """A pushed message is over the ingress size limit (`[ingress] max_size`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the message is over the ingress limit of {limit} bytes"
            " (raise [ingress] max_size to accept it)"
        )
        self.limit = limit


class Spool:
    """The bytes of one message, bounded by `limit`; close() (or `with`) removes its file."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, chunk: bytes) -> None:
        """Add `chunk`; MessageTooLarge past the limit."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise MessageTooLarge(self.limit)
        self._file.write(chunk)

    def extend(self, chunks: Iterable[bytes]) -> Spool:
        for chunk in chunks:
            self.write(chunk)
        return self

    def fill(self, stream: BinaryIO | IO[bytes]) -> Spool:
        """Read `stream` to its end (or one byte past the limit)."""
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                return self
            self.write(chunk)

    def head(self, size: int) -> bytes:
        """The first `size` bytes."""
        self._file.seek(0)
        return self._file.read(size)

    def message(self, prefix: bytes = b"") -> bytes:
        """`prefix` and the spooled bytes as one bytes object, the only copy in memory."""
        self._file.seek(0)
        if self.size + len(prefix) <= IN_MEMORY:
            return prefix + self._file.read()
        with tempfile.TemporaryFile() as whole:
            whole.write(prefix)
            shutil.copyfileobj(self._file, whole, CHUNK)
            whole.seek(0)
            return whole.read()

    def close(self) -> None:
        self._file.close()
