"""What undoing one security layer gives: the inner entity and what the layer said."""

from __future__ import annotations

from dataclasses import dataclass


class Scheme:
    """The two schemes, as `Security.scheme` writes them."""

    SMIME = "smime"
    OPENPGP = "openpgp"


@dataclass(frozen=True)
class Signature:
    """A checked signature: who (certificate subject or key fingerprint, their addresses),
    whether it matches the content (valid) and whether the signer is one we trust."""

    scheme: str
    signer: str | None
    emails: tuple[str, ...]
    valid: bool
    trusted: bool
    reason: str | None = None


@dataclass(frozen=True)
class Opened:
    """One layer undone. `inner` is the entity inside (None when it could not be read: an
    encrypted mail without its key); `layer` says in words what it was."""

    inner: bytes | None
    layer: str
    signature: Signature | None = None
    encrypted: bool = False
    reason: str | None = None  # why an encrypted layer was not decrypted
