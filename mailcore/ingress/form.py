"""multipart/form-data read as a stream: the message field spooled, the small fields kept.

Mailgun (``body-mime``) and SendGrid (``email``) post the raw message as one form field among
small ones (recipient, sender, timestamp...). `StreamedForm` is fed the body in chunks
(werkzeug's sans-IO `MultipartDecoder` splits it), writes the message field to a `Spool` as it
comes, and keeps each other field in memory only up to `FIELD_LIMIT` bytes (longer ones, such
as the parsed text and HTML copies a provider may add, are dropped while read). At most
`MAX_PARTS` parts; memory stays bounded whatever the body holds.
"""

from __future__ import annotations

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from mailcore.errors import MailcoreError
from mailcore.ingress.spool import Spool

__all__ = ["FormInvalid", "StreamedForm", "boundary_of"]

FIELD_LIMIT = 64 * 1024
MAX_PARTS = 200


class FormInvalid(MailcoreError):
    """The request body is not the multipart/form-data it says it is."""


def boundary_of(content_type: str | None) -> bytes:
    """The boundary parameter of a multipart/form-data Content-Type, or FormInvalid."""
    from werkzeug.http import parse_options_header

    kind, options = parse_options_header(content_type or "")
    boundary = options.get("boundary", "")
    if kind != "multipart/form-data" or not boundary or len(boundary) > 200:
        raise FormInvalid("the body must be multipart/form-data with a boundary")
    return boundary.encode("latin-1", "replace")


class StreamedForm:
    """Fed a multipart body with `feed`, then `close`: `fields` (small ones, as text) and
    `message` (the Spool of the field named `wanted`, or None if there was none)."""

    def __init__(self, boundary: bytes, wanted: str, limit: int) -> None:
        self._decoder = MultipartDecoder(boundary, max_form_memory_size=None, max_parts=MAX_PARTS)
        self.wanted = wanted
        self.limit = limit
        self.fields: dict[str, str] = {}
        self.message: Spool | None = None
        self._name: str | None = None
        self._buffer: bytearray | None = None
        self._tail = b""

    def feed(self, chunk: bytes | None) -> None:
        """The next bytes of the body; None at its end.

        Trailing '-', spaces and tabs wait for the next chunk: werkzeug (3.1) hands out the CR
        of a delimiter's CRLF as data when the bytes it has end just after the boundary with
        the first '-' of the closing "--" (or padding) -- the bytes it is given never do."""
        if chunk is not None:
            chunk = self._tail + chunk
            kept = min(len(chunk) - len(chunk.rstrip(b"- \t")), 256)
            chunk, self._tail = chunk[: len(chunk) - kept], chunk[len(chunk) - kept :]
        elif self._tail:
            self._receive(self._tail)
            self._tail = b""
        self._receive(chunk)

    def _receive(self, chunk: bytes | None) -> None:
        try:
            self._decoder.receive_data(chunk)
            self._drain()
        except (ValueError, RequestEntityTooLarge) as exc:
            raise FormInvalid(f"the form cannot be read: {type(exc).__name__}") from None

    def close(self) -> None:
        self.feed(None)
        if not self._decoder.complete:
            raise FormInvalid("the form ends before its closing boundary")

    def discard(self) -> None:
        if self.message is not None:
            self.message.close()

    def _drain(self) -> None:
        while True:
            event = self._decoder.next_event()
            if isinstance(event, NeedData | Epilogue):
                return
            if isinstance(event, Field | File):
                self._start(event.name)
            elif isinstance(event, Data):
                self._data(event.data, event.more_data)

    def _start(self, name: str) -> None:
        self._name = name
        if name == self.wanted and self.message is None:
            self.message = Spool(self.limit)
            self._buffer = None
        else:
            self._buffer = bytearray()

    def _data(self, data: bytes, more: bool) -> None:
        if self._name == self.wanted and self._buffer is None and self.message is not None:
            self.message.write(data)
        elif self._buffer is not None and len(self._buffer) <= FIELD_LIMIT:
            self._buffer += data[: FIELD_LIMIT + 1 - len(self._buffer)]
        if not more:
            if self._buffer is not None and len(self._buffer) <= FIELD_LIMIT and self._name:
                self.fields.setdefault(self._name, self._buffer.decode("utf-8", "replace"))
            self._buffer = None
            self._name = None
