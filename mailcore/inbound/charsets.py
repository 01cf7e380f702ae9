"""Bytes -> text for mail parts whose charset label may be missing, unknown or wrong."""

from __future__ import annotations

import codecs

# Labels that mean "Western European" in practice: decode as windows-1252, the superset
# every mail client actually sends under these names (as browsers do).
_LATIN1 = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "iso_8859-1", "cp819"})
_ASCII = frozenset({"us-ascii", "ascii", "us_ascii", "ansi_x3.4-1968", "646", "us"})
_UTF8 = frozenset({"utf-8", "utf8", "utf_8", "u8"})


def clean_label(charset: str | None) -> str:
    """Lower-cased label without quotes and spaces; empty when absent."""
    if not charset:
        return ""
    return str(charset).strip().strip("\"'").strip().lower()


def decode_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode `data` declared as `charset`; never raises.

    Returns (text, problem) where problem describes what went wrong with the label, if
    anything (None for clean decodes).
    """
    label = clean_label(charset)
    if label in _UTF8 or label == "":
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            pass
        if label == "" and data.isascii():  # pragma: no cover - isascii implies valid utf-8
            return data.decode("ascii"), None
        text = _best_effort(data)
        what = "no charset declared" if label == "" else "declared utf-8"
        return text, f"{what} but bytes are not valid utf-8; decoded as windows-1252"
    if label in _ASCII:
        if data.isascii():
            return data.decode("ascii"), None
        try:
            return data.decode("utf-8"), f"declared {label} but contains 8-bit utf-8 bytes"
        except UnicodeDecodeError:
            return _best_effort(data), f"declared {label} but contains 8-bit bytes"
    if label in _LATIN1:
        try:
            return data.decode("cp1252"), None
        except UnicodeDecodeError:
            return data.decode("latin-1"), None
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):  # ValueError: NUL in the label
        return _utf8_or_best(data), f"unknown charset {label!r}"
    if not getattr(info, "_is_text_encoding", True):
        # "base64", "rot13", "zlib"...: codecs Python knows but which are not charsets.
        return _utf8_or_best(data), f"unknown charset {label!r}"
    try:
        return data.decode(info.name), None
    except UnicodeDecodeError:
        pass
    except Exception:  # noqa: BLE001 - exotic codecs raise anything on bad input
        return _utf8_or_best(data), f"charset {label!r} failed to decode"
    try:
        return data.decode("utf-8"), f"declared {label} but bytes are utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(info.name, "replace"), f"invalid {label} bytes replaced"
    except Exception:  # noqa: BLE001 - some codecs (idna...) refuse the "replace" handler
        return _best_effort(data), f"charset {label!r} failed to decode"


def _utf8_or_best(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _best_effort(data)


def _best_effort(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes undefined; latin-1 maps every byte.
        return data.decode("latin-1")


def fix_surrogates(value: str) -> tuple[str, bool]:
    """Header text with raw 8-bit bytes (kept as surrogates by the parser) decoded as utf-8."""
    if value.isascii():
        return value, False
    try:
        value.encode("utf-8")
        return value, False
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
        return _utf8_or_best(raw), True
