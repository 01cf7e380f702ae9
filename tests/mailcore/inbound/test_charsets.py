"""decode_text: every label handled, wrong ones reported, nothing raised."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcore.inbound.charsets import decode_text, fix_surrogates


def test_clean_decodes_report_nothing() -> None:
    assert decode_text("héllo".encode(), "UTF-8") == ("héllo", None)
    assert decode_text(b"hello", "us-ascii") == ("hello", None)
    assert decode_text("Grüße €".encode("iso-8859-15"), "iso-8859-15") == ("Grüße €", None)
    assert decode_text("Привет".encode("koi8-r"), "koi8-r") == ("Привет", None)
    assert decode_text("日本".encode("iso-2022-jp"), '"ISO-2022-JP"') == ("日本", None)


def test_latin1_label_is_read_as_windows_1252() -> None:
    # Outlook labels cp1252 text as iso-8859-1: the euro sign and curly quotes must survive.
    assert decode_text(b"\x80 \x93ok\x94", "iso-8859-1") == ("€ “ok”", None)
    # Bytes undefined in cp1252 still decode (latin-1).
    assert decode_text(b"\x81", "iso-8859-1") == ("\x81", None)


def test_ascii_label_with_utf8_bytes() -> None:
    text, problem = decode_text("Ação".encode(), "us-ascii")
    assert text == "Ação"
    assert problem == "declared us-ascii but contains 8-bit utf-8 bytes"


def test_unknown_label() -> None:
    text, problem = decode_text("Zoë".encode(), "x-unknown")
    assert text == "Zoë"
    assert problem == "unknown charset 'x-unknown'"


def test_label_with_nul_byte_is_unknown() -> None:
    text, problem = decode_text(b"ok", "utf\x00-8")
    assert text == "ok"
    assert problem is not None and "unknown charset" in problem


def test_non_text_codec_labels_are_unknown() -> None:
    for label in ("base64", "rot13", "zlib", "hex"):
        text, problem = decode_text(b"hello", label)
        assert text == "hello"
        assert problem is not None and "unknown charset" in problem


def test_utf8_label_with_latin1_bytes() -> None:
    text, problem = decode_text("Propriétaire".encode("latin-1"), "utf-8")
    assert text == "Propriétaire"
    assert problem is not None and "not valid utf-8" in problem


def test_wrong_label_utf8_bytes_under_other_charset() -> None:
    text, problem = decode_text("ok ☃".encode(), "shift_jis")
    assert isinstance(text, str)
    assert problem is not None


def test_raw_8bit_header_text() -> None:
    raw = "Véhicule".encode().decode("ascii", "surrogateescape")
    assert fix_surrogates(raw) == ("Véhicule", True)
    assert fix_surrogates("plain") == ("plain", False)


LABELS = [None, "", "utf-8", "us-ascii", "latin1", "cp1252", "x-nope", "utf-16", "utf-7", "idna",
          "gb2312", "big5", "unicode"]  # fmt: skip


@pytest.mark.parametrize("label", LABELS)
@given(data=st.binary(max_size=200))
def test_never_raises(label: str | None, data: bytes) -> None:
    text, _ = decode_text(data, label)
    assert isinstance(text, str)
