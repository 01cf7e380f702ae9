"""Inbound OpenPGP/MIME (RFC 3156): multipart/signed verified and multipart/encrypted
decrypted by `gpg` in a private home holding the configured keys.

A signature is trusted when its key is in the keyring (admins import the partners' keys they
trust) and is neither expired nor revoked; "valid" means it matches the content.
"""

from __future__ import annotations

import tempfile

from mailcore.security.gnupg import GnuPG, status
from mailcore.security.layers import Opened, Scheme, Signature
from mailcore.security.mimeparts import Entity, parts
from mailcore.security.tools import MAX_OUTPUT, Ran


def verify(ent: Entity, gpg: GnuPG) -> Opened:
    """Check a multipart/signed application/pgp-signature entity."""
    found = parts(ent.raw, ent.params.get("boundary", ""))
    if len(found) != 2:
        return _broken("the multipart/signed has not exactly two parts")
    signed, sig_part = found
    with tempfile.NamedTemporaryFile(dir=gpg.home(), suffix=".asc") as sig:
        sig.write(_part_body(sig_part))
        sig.flush()
        ran = gpg.gpg(["--verify", sig.name, "-"], signed)
    return Opened(signed, "OpenPGP signed", signature(ran, gpg))


def decrypt(ent: Entity, gpg: GnuPG) -> Opened:
    """Decrypt a multipart/encrypted application/pgp-encrypted entity (a signature inside
    the encrypted data, gpg's sign-and-encrypt, is checked too)."""
    found = parts(ent.raw, ent.params.get("boundary", ""))
    if len(found) != 2:
        return Opened(None, "OpenPGP encrypted", encrypted=True,
                      reason="the multipart/encrypted has not exactly two parts")  # fmt: skip
    ran = gpg.gpg(["--max-output", str(MAX_OUTPUT), "--decrypt"], _part_body(found[1]))
    words = {line[0] for line in status(ran)}
    if "DECRYPTION_OKAY" not in words:
        why = "no configured OpenPGP key decrypts it"
        if "NO_SECKEY" not in words:
            why = f"it could not be decrypted: {ran.error_line()}"
        return Opened(None, "OpenPGP encrypted", encrypted=True, reason=why)
    sig = signature(ran, gpg) if words & _SIGNATURE_WORDS else None
    return Opened(ran.stdout, "OpenPGP encrypted (decrypted)", sig, encrypted=True)


def _part_body(part: bytes) -> bytes:
    at = part.find(b"\r\n\r\n")
    return part if at < 0 else part[at + 4 :]


_SIGNATURE_WORDS = {"GOODSIG", "BADSIG", "EXPSIG", "EXPKEYSIG", "REVKEYSIG", "ERRSIG"}


def signature(ran: Ran, gpg: GnuPG) -> Signature:
    """The signature gpg reported, from its status lines."""
    lines = {line[0]: line[1:] for line in status(ran)}
    fpr = None
    if "VALIDSIG" in lines and len(lines["VALIDSIG"]) >= 10:
        fpr = lines["VALIDSIG"][9].upper()  # the primary key's fingerprint
    elif "ERRSIG" in lines or "NO_PUBKEY" in lines:
        key = (lines.get("NO_PUBKEY") or lines.get("ERRSIG") or ["?"])[0]
        return _sig(key, False, False, f"signed with key {key}, which is not in the keyring")
    emails = gpg.emails.get(fpr or "", ())
    if "BADSIG" in lines:
        key = lines["BADSIG"][0]
        return _sig(fpr or key, False, False, "the signature does not match the content", emails)
    if "EXPKEYSIG" in lines:
        return _sig(fpr, True, False, "the signing key has expired", emails)
    if "REVKEYSIG" in lines:
        return _sig(fpr, True, False, "the signing key has been revoked", emails)
    if "EXPSIG" in lines:
        return _sig(fpr, True, False, "the signature has expired", emails)
    if "GOODSIG" in lines and fpr:
        return _sig(fpr, True, True, None, emails)
    return _sig(fpr, False, False, f"gpg could not check it: {ran.error_line()}", emails)


def _sig(
    who: str | None, valid: bool, trusted: bool, reason: str | None, emails: tuple[str, ...] = ()
) -> Signature:
    return Signature(Scheme.OPENPGP, who, emails, valid, trusted, reason)


def _broken(reason: str) -> Opened:
    return Opened(None, "OpenPGP signed", _sig(None, False, False, reason))
