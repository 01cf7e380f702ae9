"""Inbound S/MIME: signatures verified by `openssl cms` (the `cryptography` package has no
verification API), enveloped-data decrypted by `cryptography` for RSA keys and by
`openssl cms -decrypt` for EC keys (ECDH, which `cryptography` does not decrypt).

A signature is checked against the trust anchors first (certificate chain, validity dates,
the e-mail protection purpose); when that fails it is checked again without the chain, to
tell a signature that does not match the content (not valid) from one by a signer we do not
trust (valid, not trusted), with openssl's own words as the reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from mailcore.security.certinfo import describe
from mailcore.security.layers import Opened, Scheme, Signature
from mailcore.security.tools import Ran, run

SmimeKey = tuple[x509.Certificate, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]


def verify(raw: bytes, anchors: bytes) -> Opened:
    """Check the S/MIME signature of `raw` (multipart/signed or opaque signed-data, CRLF)."""
    with tempfile.TemporaryDirectory(prefix="mc-smime-") as tmp:
        ca, signer = Path(tmp, "trust.pem"), Path(tmp, "signer.pem")
        ca.write_bytes(anchors)
        base = ["openssl", "cms", "-verify", "-inform", "SMIME", "-signer", str(signer)]
        base += ["-no-CApath", "-no-CAstore"]
        chain = run([*base, "-CAfile", str(ca), "-purpose", "smimesign"], raw) if anchors else None
        if chain is not None and chain.ok:
            return _opened(chain.stdout, signer, valid=True, trusted=True)
        alone = run([*base, "-noverify"], raw)
        if alone.ok:
            why = "no trusted S/MIME certificates are configured"
            if chain is not None:
                why = f"certificate not trusted: {_reason(chain)}"
            return _opened(alone.stdout, signer, valid=True, trusted=False, reason=why)
        content = run(
            ["openssl", "cms", "-verify", "-inform", "SMIME", "-noverify", "-nosigs"], raw
        )
        why = f"the signature does not match the content: {_reason(alone)}"
        return _opened(content.stdout if content.ok else None, signer, valid=False, reason=why)


def _opened(
    inner: bytes | None, signer: Path, *, valid: bool, trusted: bool = False, reason: str = ""
) -> Opened:
    name: str | None = None
    emails: tuple[str, ...] = ()
    if signer.exists():
        try:
            info = describe(x509.load_pem_x509_certificates(signer.read_bytes())[0])
            name, emails = info.subject, info.emails
        except ValueError:
            pass
    signature = Signature(Scheme.SMIME, name, emails, valid, trusted, reason or None)
    return Opened(inner, "S/MIME signed", signature)


def _reason(ran: Ran) -> str:
    """openssl's reason, e.g. "certificate has expired", "digest failure"."""
    text = ran.stderr.decode("utf-8", "replace")
    for line in text.splitlines():
        if "Verify error:" in line:
            return line.split("Verify error:", 1)[1].strip()[:200]
    for line in text.splitlines():
        if ":error:" in line:
            return line.rsplit(":", 1)[-1].strip()[:200] or ran.error_line()
    return ran.error_line()


def decrypt(raw: bytes, keys: Sequence[SmimeKey]) -> Opened:
    """The content of S/MIME enveloped-data, with the first configured key that opens it."""
    for cert, key in keys:
        inner = _decrypt_one(raw, cert, key)
        if inner is None:
            continue
        return Opened(inner, f"S/MIME encrypted (decrypted for {describe(cert).subject})",
                      encrypted=True)  # fmt: skip
    why = "no configured S/MIME key decrypts it"
    if not keys:
        why = "no S/MIME decryption key is configured"
    return Opened(None, "S/MIME encrypted", encrypted=True, reason=why)


def _decrypt_one(
    raw: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
) -> bytes | None:
    if isinstance(key, rsa.RSAPrivateKey):
        try:
            return pkcs7.pkcs7_decrypt_smime(raw, cert, key, [])
        except ValueError:
            return None
    with tempfile.TemporaryDirectory(prefix="mc-smime-") as tmp:  # 0700: the key's file too
        recip, inkey = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        recip.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        inkey.touch(mode=0o600)
        inkey.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))  # fmt: skip
        ran = run(["openssl", "cms", "-decrypt", "-inform", "SMIME", "-recip", str(recip),
                   "-inkey", str(inkey)], raw)  # fmt: skip
    return ran.stdout if ran.ok else None
