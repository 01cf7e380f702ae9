"""What the pipeline asks of a mail's security before a handler sees it."""

from __future__ import annotations

from mailcore.inbound.model import Extraction


def undecrypted(ex: Extraction) -> str | None:
    """The failure reason of an encrypted mail that could not be decrypted, else None."""
    sec = ex.security
    if sec is None or not sec.encrypted or sec.decrypted:
        return None
    return f"encrypted mail could not be decrypted: {sec.reason or 'no key'}"


def unverified(ex: Extraction, handler: str) -> str | None:
    """Why `handler`, which requires a valid, trusted signature by the sender, refuses the
    mail; None when the signature is all that."""
    sec = ex.security
    if sec is not None and sec.verified:
        return None
    need = f"handler {handler!r} requires a valid, trusted signature by the sender"
    if sec is None or not sec.signed:
        return f"{need}: the mail is not signed"
    return f"{need}: {sec.reason or 'the signature is not valid'}"


def summary(ex: Extraction) -> dict[str, object] | None:
    """What the history's 'extracted' event keeps of the security (None for plain mail)."""
    sec = ex.security
    if sec is None:
        return None
    return {
        "signed": sec.signed,
        "scheme": sec.scheme,
        "signer": (sec.signer or "")[:200] or None,
        "signer_email": sec.signer_email,
        "matches_from": sec.matches_from,
        "valid": sec.valid,
        "trusted": sec.trusted,
        "verified": sec.verified,
        "encrypted": sec.encrypted,
        "decrypted": sec.decrypted,
        "reason": (sec.reason or "")[:300] or None,
        "layers": list(sec.layers[:4]),
    }
