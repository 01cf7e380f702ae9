"""Content-Disposition for every file the console hands out (attachments, .eml, CSV exports).

File names come from mail (a partner, or an attacker, chooses them): a name may be Chinese,
hold quotes, semicolons, CR/LF, control or bidi-override characters, or be a path. HTTP header
values must be Latin-1 without CR/LF, so the header carries two names (RFC 6266):
``filename="..."``, a plain-ASCII fallback for old clients, and ``filename*=UTF-8''...``, the
real name percent-encoded (RFC 5987), which every current browser prefers.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

# Longest name we pass on (in characters): file systems stop at 255 bytes, and a header
# carrying a megabyte-long "name" from a hostile mail helps nobody.
MAX_FILENAME = 150
# RFC 5987 attr-char: what may stay unencoded in filename*.
_ATTR_CHARS = "!#$&+-.^_`|~"
# The ASCII fallback keeps only characters no client or shell misreads.
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._()+,@=~ -]+")


def clean_filename(name: str | None, default: str = "download") -> str:
    """`name` as a safe file name: no path, no control/format characters, bounded length.

    Returns `default` when nothing usable is left (an empty name, "..", only separators).
    """
    text = unicodedata.normalize("NFC", name or "")
    # A path in a name ("../../.bashrc", "C:\\x") keeps only its last component.
    text = re.split(r"[/\\]", text)[-1]
    # Cc: controls (CR, LF, NUL...); Cf: format characters such as U+202E RIGHT-TO-LEFT
    # OVERRIDE, which would display "invoice‮fdp.exe" as "invoiceexe.pdf".
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text)
    text = " ".join(text.split()).strip(" .")
    if not text:
        return default
    if len(text) > MAX_FILENAME:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16 and stem:
            text = stem[: MAX_FILENAME - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            text = text[:MAX_FILENAME]
    return text


def ascii_filename(name: str, default: str = "download") -> str:
    """A plain-ASCII stand-in for `name` (accents dropped, other characters replaced by _)."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem, ext = _ascii(stem), _ascii(ext)
    if not re.search(r"[A-Za-z0-9]", stem):  # "报告.pdf" would be "_.pdf": say what it is instead
        stem = default
    return f"{stem}.{ext}" if ext else stem


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _UNSAFE_ASCII.sub("_", kept).strip(" ._")


def content_disposition(
    filename: str | None, *, inline: bool = False, default: str = "download"
) -> str:
    """The Content-Disposition value for a download named `filename` (any Unicode, untrusted).

    The value is pure ASCII: safe to put in a header, and it parses back (with
    werkzeug.http.parse_options_header or email.message) to the cleaned name.
    """
    name = clean_filename(filename, default)
    fallback = ascii_filename(name, default)
    value = f'{"inline" if inline else "attachment"}; filename="{fallback}"'
    if fallback != name:
        value += "; filename*=UTF-8''" + quote(name, safe=_ATTR_CHARS)
    return value
