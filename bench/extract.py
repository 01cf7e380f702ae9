"""Benchmark `mailcore.inbound.extract.extract` against the stdlib floor on the same messages.

The floor is what any extraction must at least do: `email.message_from_bytes`, walk the parts
and decode every one of them (transfer encoding, and charset for text parts). The target is
extract within 3x of the floor on ordinary text+html mail with a few attachments.

Run: .venv/bin/python bench/extract.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import email
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.multilingual import multilingual, slowest_ms  # noqa: E402
from mailcore.inbound.extract import extract  # noqa: E402

WORDS = (  # noqa: SIM905 - a sentence is easier to edit than a list of words
    "vehicle registration owner mileage contract lease invoice garage tyres brakes inspection "
    "delivery handover keys insurance claim damage bumper mirror windscreen service interval "
    "please could you confirm the date and send us the documents before Friday thanks regards "
    "we have received your request and will process it as soon as possible in the meantime "
    "réception véhicule propriétaire kilométrage Übergabe Fahrzeug Halter prüfen"
).split()


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 16))]
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(2, 5)))


def body_text(rng: random.Random, size: int) -> str:
    parts: list[str] = []
    while sum(len(p) for p in parts) < size:
        parts.append(paragraph(rng))
    return "\n\n".join(parts)


def to_html(text: str) -> str:
    paras = "".join(
        f'<p style="margin:0 0 12px 0;font-family:Arial">{p.replace(chr(10), "<br>")}</p>\n'
        for p in text.split("\n\n")
    )
    return (
        "<html><head><style>p{color:#222}</style></head><body>"
        f'<div class="content">{paras}</div>'
        '<div class="footer">Fleet desk &middot; <a href="https://example.com">example.com</a>'
        "</div></body></html>"
    )


def ordinary(rng: random.Random, k: int) -> bytes:
    """One ordinary message: ~9 KB of text+html; some replies, YAML, attachments."""
    kind = k % 4
    msg = EmailMessage()
    msg["From"] = f"Sender {k} <sender{k}@customer.example>"
    msg["To"] = f"Fleet desk <reply+VEH-{1000 + k}@example.com>"
    msg["Subject"] = f"Re: [VEH-{1000 + k}] Vehicle {k}"
    msg["Date"] = format_datetime(datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=k))
    msg["Message-ID"] = make_msgid(domain="customer.example")
    text = body_text(rng, 3400)
    if kind == 1:
        text = (
            f"plate_number: AB-{k:03d}-CD\nowner: Sender {k}\nmileage: {10000 + k}\n---\n"
            f"{text}\n\n-- \nSender {k}\nACME Logistics\n"
        )
    elif kind == 2:
        quoted = "\n".join("> " + line for line in body_text(rng, 1200).splitlines())
        text = (
            f"Plate number: AB-{k:03d}-CD\n\n{text}\n\nSent from my iPhone\n\n"
            f"On Mon, Mar 4, 2024 at 5:02 PM Fleet desk <fleet@example.com> wrote:\n\n{quoted}\n"
        )
    msg.set_content(text)
    msg.add_alternative(to_html(text), subtype="html")
    if kind in (0, 3):
        for n in range(1 + k % 3):
            blob = rng.randbytes(rng.randint(2000, 6000))
            msg.add_attachment(
                blob, maintype="application", subtype="pdf", filename=f"document-{n}.pdf"
            )
    return msg.as_bytes()


def html_only(rng: random.Random, k: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Webmail user {k} <user{k}@webmail.example>"
    msg["To"] = "fleet@example.com"
    msg["Subject"] = f"[VEH-{2000 + k}] Handover"
    msg["Message-ID"] = make_msgid(domain="webmail.example")
    text = f"Kennzeichen: B-XY {k}\nHalter: User {k}\n\n" + body_text(rng, 3000)
    msg.set_content(to_html(text), subtype="html")
    return msg.as_bytes()


def floor(raw: bytes) -> None:
    """The stdlib minimum: parse, walk, decode every part."""
    msg = email.message_from_bytes(raw)
    for part in msg.walk():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        if part.get_content_maintype() == "text" and isinstance(data, bytes):
            data.decode(part.get_content_charset() or "ascii", "replace")


def run_extract(raw: bytes) -> None:
    extract(raw).text  # noqa: B018 - the visible text is part of the work measured


def _once(func: Callable[[bytes], None], corpus: list[bytes], seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for raw in corpus:
            func(raw)
        count += len(corpus)
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def rates(
    funcs: list[Callable[[bytes], None]], corpus: list[bytes], seconds: float, rounds: int = 5
) -> list[float]:
    """Messages per second of each function: best of `rounds` runs, interleaved so that load
    from other processes on the machine hits every function alike."""
    for func in funcs:
        for raw in corpus[:5]:
            func(raw)  # warm caches and imports
    best = [0.0] * len(funcs)
    for _ in range(rounds):
        for k, func in enumerate(funcs):
            best[k] = max(best[k], _once(func, corpus, seconds / rounds))
    return best


def signed_cost(corpus: list[bytes], seconds: float) -> tuple[float, float, float]:
    """(plain extract, the same plain mail through the verifier, S/MIME verify + extract of
    the same mails signed), in ms per mail. The signatures are mailcore's own (a throwaway
    EC certificate, trusted); `openssl cms -verify` runs once per signed mail."""
    from mailcore.outbound.compose import MESSAGE_POLICY
    from mailcore.outbound.smime import Signer, sign
    from mailcore.security.keyring import Keyring
    from mailcore.security.unwrap import Unwrapper

    cert_pem, key_pem = _throwaway_certificate()
    signer = Signer.from_pem(cert_pem, key_pem)
    plain = corpus[:10]
    parsed = [email.message_from_bytes(r, policy=MESSAGE_POLICY) for r in plain]
    signed = [sign(m, signer) for m in parsed]
    unwrapper = Unwrapper(Keyring(smime_trusted=cert_pem))

    def unwrapped(raw: bytes) -> None:
        unwrapper.extract(raw).text  # noqa: B018 - as run_extract

    first = unwrapper.extract(signed[0]).security
    assert first is not None and first.valid and first.trusted, first
    plain_rate, through = rates([run_extract, unwrapped], plain, seconds)
    verified = rates([unwrapped], signed, seconds, rounds=2)[0]
    return 1000 / plain_rate, 1000 / through, 1000 / verified


def pgp_signed_cost(corpus: list[bytes], seconds: float) -> float:
    """OpenPGP/MIME verify + extract of the ordinary mails signed by a throwaway ed25519 key
    (trusted: in the keyring), in ms per mail; gpg runs once per signed mail."""
    from mailcore.security.keyring import Keyring
    from mailcore.security.seal import OwnKeys, pgp_sign
    from mailcore.security.unwrap import Unwrapper

    public, secret, fingerprint = _throwaway_pgp_key()
    own = OwnKeys(pgp_secret=secret, pgp_fingerprint=fingerprint)
    signed = [pgp_sign(raw, own) for raw in corpus[:10]]
    unwrapper = Unwrapper(Keyring(pgp_public=(public,)))
    first = unwrapper.extract(signed[0]).security
    assert first is not None and first.valid and first.trusted, first

    def unwrapped(raw: bytes) -> None:
        unwrapper.extract(raw).text  # noqa: B018 - as run_extract

    return 1000 / rates([unwrapped], signed, seconds, rounds=2)[0]


def _throwaway_pgp_key() -> tuple[bytes, bytes, str]:
    """(public, secret, fingerprint) of a new ed25519 key, made by gpg in a temporary home."""
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GNUPGHOME": home}

        def gpg(*args: str) -> bytes:
            return subprocess.run(
                ["gpg", "--batch", "--quiet", *args], env=env, check=True, capture_output=True
            ).stdout

        gpg("--passphrase", "", "--quick-gen-key", "sender@customer.example", "ed25519", "sign")
        listing = gpg("--with-colons", "--list-secret-keys").decode()
        fingerprint = next(ln.split(":")[9] for ln in listing.splitlines() if ln[:4] == "fpr:")
        public = gpg("--armor", "--export", fingerprint)
        secret = gpg("--armor", "--export-secret-keys", fingerprint)
    return public, secret, fingerprint


def _throwaway_certificate() -> tuple[bytes, bytes]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "sender@customer.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(pem), key_pem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    rng = random.Random(20240304)
    corpus = [ordinary(rng, k) for k in range(40)]
    html_corpus = [html_only(rng, k) for k in range(20)]
    languages = multilingual(rng, sentence)
    avg = sum(map(len, corpus)) / len(corpus)
    avg_html = sum(map(len, html_corpus)) / len(html_corpus)

    floor_rate, extract_rate = rates([floor, run_extract], corpus, args.seconds)
    html_floor, html_rate = rates([floor, run_extract], html_corpus, args.seconds)
    ratio = floor_rate / extract_rate
    print(f"ordinary corpus: {len(corpus)} messages, {avg / 1024:.1f} KB average")
    print(f"  stdlib floor (parse + walk + decode): {floor_rate:9.0f} msg/s")
    print(f"  mailcore extract:                     {extract_rate:9.0f} msg/s")
    print(f"  extract is {ratio:.2f}x slower than the floor (target: <= 3x)")
    print(f"HTML-only corpus: {len(html_corpus)} messages, {avg_html / 1024:.1f} KB average")
    print(f"  stdlib floor:                         {html_floor:9.0f} msg/s")
    print(f"  mailcore extract (HTML -> text):      {html_rate:9.0f} msg/s")
    print(f"  extract is {html_floor / html_rate:.2f}x slower than the floor on HTML-only mail")
    lang_floor, lang_rate = rates([floor, run_extract], languages, args.seconds)
    slowest = slowest_ms(run_extract, languages)
    print(f"multilingual corpus: {len(languages)} replies (3 per language of the reply table)")
    print(f"  extract is {lang_floor / lang_rate:.2f}x slower than the floor;"
          f" slowest mail {slowest:.1f} ms (target: no mail over 20 ms)")  # fmt: skip
    plain_ms, unwrapped_ms, verify_ms = signed_cost(corpus, args.seconds)
    print("Signed mail (the same ordinary mails signed; openssl cms or gpg verifies):")
    print(f"  plain extract:                        {plain_ms:9.2f} ms/mail")
    print(f"  plain mail through the verifier:      {unwrapped_ms:9.2f} ms/mail"
          f" ({unwrapped_ms / plain_ms:.2f}x: one look at the header block)")  # fmt: skip
    print(f"  verify + extract a signed mail:       {verify_ms:9.2f} ms/mail"
          f" ({verify_ms / plain_ms:.1f}x plain extraction)")  # fmt: skip
    pgp_ms = pgp_signed_cost(corpus, args.seconds)
    print(f"  OpenPGP/MIME verify + extract:        {pgp_ms:9.2f} ms/mail"
          f" ({pgp_ms / plain_ms:.1f}x plain extraction; gpg verifies)")  # fmt: skip
    sys.exit(0 if ratio <= 3.0 and slowest <= 20.0 else 1)


if __name__ == "__main__":
    main()
