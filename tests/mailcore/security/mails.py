"""Mail as partners' software makes it: signed and encrypted by the real openssl and gpg."""

from __future__ import annotations

import secrets

from tests.mailcore.security.material import OURS, PARTNER, Cert, Gpg, sh

BODY = "plate_number: AB-123\r\nyear: 2020\r\n"


def inner(text: str = BODY) -> bytes:
    """The MIME entity partners sign or encrypt (CRLF)."""
    return (
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        + text.encode()
    )


def head(sender: str = PARTNER, subject: str = "[VEH-1] update") -> bytes:
    return (
        f"From: Partner <{sender}>\r\nTo: {OURS}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{secrets.token_hex(8)}@acme.example>\r\n"
    ).encode()


def plain(sender: str = PARTNER) -> bytes:
    return head(sender) + b"MIME-Version: 1.0\r\n" + inner()


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def smime_signed(cert: Cert, entity: bytes | None = None, *, opaque: bool = False,
                 sender: str = PARTNER) -> bytes:  # fmt: skip
    """`openssl smime -sign` (detached multipart/signed, or opaque signed-data)."""
    args = ["openssl", "smime", "-sign", "-signer", str(cert.cert), "-inkey", str(cert.key)]
    args += ["-nodetach"] if opaque else []
    return head(sender) + crlf(sh(args, entity or inner()))


def cms_signed(cert: Cert, entity: bytes | None = None, sender: str = PARTNER) -> bytes:
    """`openssl cms -sign` (detached)."""
    args = ["openssl", "cms", "-sign", "-signer", str(cert.cert), "-inkey", str(cert.key)]
    return head(sender) + crlf(sh(args, entity or inner()))


def smime_encrypted(recipient: Cert, entity: bytes | None = None, sender: str = PARTNER) -> bytes:
    """`openssl cms -encrypt` to `recipient` (AES-256)."""
    out = sh(["openssl", "cms", "-encrypt", "-aes256", str(recipient.cert)], entity or inner())
    return head(sender) + crlf(out)


def strip_outer(mail: bytes) -> bytes:
    """The MIME entity of a mail (its Content-* fields and body), for nesting layers."""
    headers, _, body = mail.partition(b"\r\n\r\n")
    keep = [line for line in headers.split(b"\r\n") if line.lower().startswith(b"content-")]
    return b"\r\n".join(keep) + b"\r\n\r\n" + body


def pgp_signed(gpg: Gpg, entity: bytes | None = None, *, sender: str = PARTNER,
               when: str | None = None) -> bytes:  # fmt: skip
    """RFC 3156 multipart/signed, the signature by `gpg --detach-sign`."""
    signed = entity or inner()
    sig = gpg.run(["--armor", "--digest-algo", "SHA256", "--local-user", gpg.fingerprint,
                   "--detach-sign"], signed, when=when)  # fmt: skip
    b = "sig" + secrets.token_hex(6)
    return (
        head(sender)
        + (
            f'MIME-Version: 1.0\r\nContent-Type: multipart/signed; boundary="{b}";'
            f' protocol="application/pgp-signature"; micalg=pgp-sha256\r\n\r\n'
            f"--{b}\r\n"
        ).encode()
        + signed
        + (
            f"\r\n--{b}\r\nContent-Type: application/pgp-signature; name=signature.asc\r\n\r\n"
        ).encode()
        + crlf(sig)
        + f"\r\n--{b}--\r\n".encode()
    )


def pgp_encrypted(gpg: Gpg, recipient: str, entity: bytes | None = None, *, sign: bool = False,
                  sender: str = PARTNER) -> bytes:  # fmt: skip
    """RFC 3156 multipart/encrypted by `gpg --encrypt` (and `--sign`: one pass)."""
    args = ["--armor", "--recipient", recipient, "--encrypt"]
    if sign:
        args = ["--local-user", gpg.fingerprint, "--sign", *args]
    data = gpg.run(args, entity or inner())
    b = "enc" + secrets.token_hex(6)
    return (
        head(sender)
        + (
            f'MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; boundary="{b}";'
            f' protocol="application/pgp-encrypted"\r\n\r\n'
            f"--{b}\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
            f"--{b}\r\nContent-Type: application/octet-stream; name=encrypted.asc\r\n\r\n"
        ).encode()
        + crlf(data)
        + f"\r\n--{b}--\r\n".encode()
    )
