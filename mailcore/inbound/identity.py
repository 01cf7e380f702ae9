"""A message's identity, `message_key`: what the sender wrote, not how it travelled.

The key is the SHA-256 of the message with its trace fields left out -- the header fields that
servers add or rewrite in transit (`TRACE_FIELDS`, and any field starting with one of
`TRACE_PREFIXES`): the same request delivered twice, by another route or after a bounce and a
retry, has one key. Every other header field (From, To, Subject, Date, Message-ID, MIME
headers...) and the whole body count, so two different requests that share a Message-ID --
chosen by a sender or by a buggy client -- have two keys. Line endings (CRLF or LF) do not
count. The work is linear in the message's size and copies at most a megabyte at a time.

`legacy_message_key` is the key of earlier versions (SHA-256 of the raw bytes): the history
looks a message up under both, so mail recorded before an upgrade keeps its timeline and is
never handled again.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib

from mailcore.inbound.headers import header_block

__all__ = ["TRACE_FIELDS", "TRACE_PREFIXES", "legacy_message_key", "message_key"]

# Header fields added in transit (lower case): they say how a copy travelled, not what it is.
TRACE_FIELDS = frozenset(
    {
        "received",
        "x-received",
        "return-path",
        "delivered-to",
        "x-original-to",
        "envelope-to",
        "x-envelope-from",
        "x-envelope-to",
        "authentication-results",
        "received-spf",
        "dkim-signature",
        "x-google-dkim-signature",
        "domainkey-signature",
        "x-virus-scanned",
        "x-gm-message-state",
        "x-google-smtp-source",
    }
)
# Families of transit fields: ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results;
# spam filters' verdicts; Exchange's routing stamps.
TRACE_PREFIXES = ("arc-", "x-spam-", "x-ms-exchange-")

_CHUNK = 1 << 20
_TRACE = frozenset(f.encode() for f in TRACE_FIELDS)
_TRACE_PREFIXES = tuple(p.encode() for p in TRACE_PREFIXES)


def legacy_message_key(raw: bytes) -> str:
    """The key of versions before the trace fields were left out: SHA-256 of the raw bytes."""
    return hashlib.sha256(raw).hexdigest()


def message_key(raw: bytes) -> str:
    """The identity of a message: SHA-256 of its header fields but the trace fields, then its
    body, with line endings as LF (see the module docstring)."""
    block = header_block(raw)
    kept: list[bytes] = []
    keep = True
    trace_of = _TRACE_OF
    for line in block.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] not in (b" ", b"\t"):  # a field starts; continuation lines follow it
            name = line.partition(b":")[0]
            trace = trace_of.get(name)
            if trace is None:
                trace = _is_trace(name)
                if len(name) <= _MEMO_NAME and len(trace_of) < _MEMO_NAMES:
                    trace_of[name] = trace
            keep = not trace
        if keep:
            kept.append(line)
    digest = hashlib.sha256(b"mailcore-message-key-2\n")
    digest.update(b"\n".join(kept))
    digest.update(b"\n")
    _update_normalized(digest, memoryview(raw)[len(block) :])
    return digest.hexdigest()


# Field names as written ("Received", "DKIM-Signature") -> whether they are trace fields: the
# same few dozen names come in every mail. Bounded: short names, a few thousand of them.
_TRACE_OF: dict[bytes, bool] = {}
_MEMO_NAME = 64
_MEMO_NAMES = 4096


def _is_trace(name: bytes) -> bool:
    lowered = name.strip().lower()
    return lowered in _TRACE or lowered.startswith(_TRACE_PREFIXES)


def _update_normalized(digest: hashlib._Hash, body: memoryview) -> None:
    """Feed `body` to `digest` with every CRLF as LF, a megabyte at a time (a CR that ends a
    chunk waits for the next one's first byte)."""
    carry = b""
    for start in range(0, len(body), _CHUNK):
        chunk = carry + bytes(body[start : start + _CHUNK])
        carry = b""
        if chunk.endswith(b"\r"):
            chunk, carry = chunk[:-1], b"\r"
        digest.update(chunk.replace(b"\r\n", b"\n"))
    digest.update(carry)
