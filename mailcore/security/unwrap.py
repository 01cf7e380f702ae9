"""Undo the security layers of an inbound mail, then extract the mail inside as usual.

`Unwrapper.extract(raw)` verifies S/MIME and OpenPGP signatures and decrypts S/MIME and
OpenPGP encryption, layer by layer (sign-then-encrypt, at most `MAX_LAYERS`), and returns the
extraction of the innermost mail -- the outer header fields with the inner content -- with
`Extraction.security` saying what was found. A mail neither signed nor encrypted costs one
look at its header block and is extracted as it is.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from mailcore.ident import DEFAULT_SCHEME, IdentScheme
from mailcore.inbound.extract import extract
from mailcore.inbound.headers import header_block
from mailcore.inbound.model import Extraction, Security
from mailcore.security import pgp_in, smime_in
from mailcore.security.gnupg import GnuPG
from mailcore.security.keyring import Keyring
from mailcore.security.layers import Opened, Signature
from mailcore.security.mimeparts import Entity, canonical, entity, rewrap

logger = logging.getLogger(__name__)

MAX_LAYERS = 4
_MARKERS = (b"multipart/signed", b"multipart/encrypted", b"pkcs7-mime", b"pkcs7-signature")
_SMIME_SIG = {"application/pkcs7-signature", "application/x-pkcs7-signature"}
_SMIME_MIME = {"application/pkcs7-mime", "application/x-pkcs7-mime"}


class Unwrapper:
    """Verifies and decrypts with one `Keyring`; `close` removes its GnuPG home."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.gnupg = GnuPG(keyring.pgp_public, keyring.pgp_secret)

    def close(self) -> None:
        self.gnupg.close()

    def extract(self, raw: bytes, scheme: IdentScheme = DEFAULT_SCHEME) -> Extraction:
        """The extraction of the mail inside, with its `security` (None when plain); never
        raises: a tool that cannot run gives the mail as it is, marked not valid, with why."""
        try:
            inner, security = self.open(raw)
        except Exception as exc:  # noqa: BLE001 - like extract: the mail must still be filed
            logger.warning("security layers of a %d-byte mail not checked: %r", len(raw), exc)
            why = f"the signature or encryption could not be checked: {exc}"
            return dataclasses.replace(
                extract(raw, scheme=scheme), security=Security(signed=True, reason=why[:500])
            )
        ex = extract(inner, scheme=scheme)
        if security is None:
            return ex
        return dataclasses.replace(ex, security=matched(security, ex.headers.from_))

    def open(self, raw: bytes) -> tuple[bytes, _Found | None]:
        """(the innermost mail, what was found), or (raw, None) for a plain mail."""
        head = header_block(raw, 64 * 1024).lower()
        if not any(marker in head for marker in _MARKERS):
            return raw, None
        current, found = canonical(raw), _Found()
        for _ in range(MAX_LAYERS):
            opener = self._opener(entity(current))
            if opener is None:
                break
            opened = opener()
            found.add(opened)
            if opened.inner is None:
                break
            current = rewrap(current, opened.inner)
        return (current, found) if found.layers else (raw, None)

    def _opener(self, ent: Entity) -> Callable[[], Opened] | None:
        protocol = ent.param("protocol")
        if ent.content_type == "multipart/signed" and protocol in _SMIME_SIG:
            return lambda: smime_in.verify(ent.raw, self.keyring.smime_trusted)
        if ent.content_type in _SMIME_MIME:
            if ent.param("smime-type") == "signed-data":
                return lambda: smime_in.verify(ent.raw, self.keyring.smime_trusted)
            return lambda: smime_in.decrypt(ent.raw, self.keyring.smime_keys)
        if ent.content_type == "multipart/signed" and protocol == "application/pgp-signature":
            return lambda: pgp_in.verify(ent, self.gnupg)
        if ent.content_type == "multipart/encrypted" and protocol == "application/pgp-encrypted":
            return lambda: pgp_in.decrypt(ent, self.gnupg)
        return None


@dataclasses.dataclass
class _Found:
    """The layers undone so far; the first signature met is the one reported."""

    signature: Signature | None = None
    encrypted: bool = False
    decrypted: bool = False
    reason: str | None = None
    layers: list[str] = dataclasses.field(default_factory=list)

    def add(self, opened: Opened) -> None:
        self.layers.append(opened.layer)
        if opened.signature is not None and self.signature is None:
            self.signature = opened.signature
        if opened.encrypted:
            self.encrypted = True
            self.decrypted = opened.inner is not None
            self.reason = self.reason or opened.reason


def matched(found: _Found, sender: str) -> Security:
    """The `Security` record, the signer's addresses compared with the From address."""
    sig = found.signature
    if sig is None:
        return Security(encrypted=found.encrypted, decrypted=found.decrypted,
                        reason=found.reason, layers=tuple(found.layers))  # fmt: skip
    sender = sender.strip().lower()
    matches = bool(sender) and sender in sig.emails
    reason = sig.reason or found.reason
    if reason is None and not matches:
        shown = ", ".join(sig.emails) or "no address"
        reason = f"signed for {shown}, not for the sender {sender or '(none)'}"
    return Security(
        signed=True,
        scheme=sig.scheme,
        signer=sig.signer,
        signer_email=sender if matches else (sig.emails[0] if sig.emails else None),
        matches_from=matches,
        valid=sig.valid,
        trusted=sig.trusted,
        encrypted=found.encrypted,
        decrypted=found.decrypted,
        reason=reason,
        layers=tuple(found.layers),
    )
