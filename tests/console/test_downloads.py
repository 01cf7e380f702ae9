"""Downloads named by hostile mail: any file name gives a valid, parseable Content-Disposition."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
from email import policy
from email.parser import HeaderParser
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.http import parse_options_header

from console.downloads import MAX_FILENAME, ascii_filename, clean_filename, content_disposition
from tests.console.conftest import ConsoleEnv

HOSTILE_NAMES = [
    "报告.pdf",
    "Ответ на запрос.docx",
    'say "hi"; filename=evil.exe\r\nSet-Cookie: x=1.txt',
    "back\\slash.txt",
    "../../etc/passwd",
    "invoice\u202efdp.exe",
    "nul\x00byte\x7f.bin",
    "",
]


def parsed(value: str) -> dict[str, str]:
    """The parameters a client reads, the way werkzeug parses them (filename* decoded)."""
    return parse_options_header(value)[1]


def ascii_param(value: str) -> str:
    """The plain `filename` an old client reads (the first one, as the email package does)."""
    message = HeaderParser(policy=policy.compat32).parsestr(f"Content-Disposition: {value}\n\n")
    name = message.get_filename()
    assert isinstance(name, str)
    return name


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_every_hostile_name_gives_one_ascii_header_that_parses_back(name: str) -> None:
    value = content_disposition(name)
    value.encode("ascii")  # a header werkzeug can send (the old code raised here for 报告.pdf)
    assert "\r" not in value and "\n" not in value
    params = parsed(value)
    assert set(params) == {"filename"}  # no injected parameter
    assert params["filename"] == clean_filename(name)
    fallback = ascii_param(value)
    assert fallback == ascii_filename(clean_filename(name))
    assert not set(fallback) & set('"\\;/\r\n')


def test_a_chinese_name_keeps_its_name_and_its_extension() -> None:
    value = content_disposition("报告.pdf")
    assert value == "attachment; filename=\"download.pdf\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.pdf"
    assert parsed(value)["filename"] == "报告.pdf"
    assert ascii_param(content_disposition("résumé.pdf")) == "resume.pdf"


def test_paths_controls_and_bidi_overrides_are_not_part_of_the_name() -> None:
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\x\\boot.ini") == "boot.ini"
    assert clean_filename("invoice\u202efdp.exe") == "invoice fdp.exe"
    assert clean_filename("..", default="part-3") == "part-3"
    assert content_disposition("", inline=True, default="part-0") == 'inline; filename="part-0"'


def test_a_very_long_name_is_cut_but_keeps_its_extension() -> None:
    name = clean_filename("x" * 10_000 + ".pdf")
    assert len(name) <= MAX_FILENAME and name.endswith("x.pdf")


@given(st.text(max_size=300))
def test_any_name_gives_a_parseable_ascii_header(name: str) -> None:
    value = content_disposition(name)
    value.encode("ascii")
    assert parsed(value)["filename"] == clean_filename(name)
    assert ascii_param(value) == ascii_filename(clean_filename(name))
    assert 0 < len(clean_filename(name)) <= MAX_FILENAME


def mail_with_attachments(*names: str) -> bytes:
    """A mail that fails (unknown file VEH-9999) with one attachment per name.

    Written by hand: the names are RFC 2231-encoded as a hostile sender would, CR/LF included
    (the email package refuses to write those)."""
    parts = [
        "From: partner@example.org\r\nTo: ops@example.com\r\nSubject: [VEH-9999] documents\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nplate_number: AB-123-CD\r\n"
    ]
    for name in names:
        encoded = quote(name, safe="")
        parts.append(
            "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename*=UTF-8''{encoded}\r\n\r\n"
            "JVBERi0xLjQgZGF0YQ==\r\n"
        )
    return ("".join(parts) + "--b--\r\n").encode("ascii")


def test_attachments_with_hostile_names_download_from_the_console(console_env: ConsoleEnv) -> None:
    svc = console_env.services
    svc.mailbox.ensure_folder("INBOX")
    svc.mailbox.append("INBOX", mail_with_attachments("报告.pdf", 'a"b;c\r\nd.pdf'))
    [outcome] = svc.engine.poll_once()
    assert outcome.status == "failed" and outcome.new_uid is not None
    client = console_env.client("olivia")
    base = f"/failed/{outcome.new_uid}"
    report = client.get(f"{base}/attachments/0")
    assert report.status_code == 200 and report.data == b"%PDF-1.4 data"
    report.headers["Content-Disposition"].encode("latin-1")  # what a real server must send
    assert parsed(report.headers["Content-Disposition"])["filename"] == "报告.pdf"
    inline = client.get(f"{base}/attachments/0?inline=1")
    assert inline.headers["Content-Disposition"].startswith("inline; ")
    assert parsed(inline.headers["Content-Disposition"])["filename"] == "报告.pdf"
    tricky = client.get(f"{base}/attachments/1").headers["Content-Disposition"]
    assert parsed(tricky) == {"filename": 'a"b;c d.pdf'}
    raw = client.get(f"{base}/raw").headers["Content-Disposition"]
    assert parsed(raw) == {"filename": f"failed-{outcome.new_uid}.eml"}


def test_a_chinese_attachment_name_downloads_through_the_real_server(
    console_env: ConsoleEnv, live_server: str
) -> None:
    svc = console_env.services
    svc.mailbox.ensure_folder("INBOX")
    svc.mailbox.append("INBOX", mail_with_attachments("报告.pdf"))
    [outcome] = svc.engine.poll_once()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    login = opener.open(f"{live_server}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf-token" content="([^"]+)"', login)
    assert token is not None
    form = {"username": "olivia", "password": console_env.password("olivia")}
    form["csrf_token"] = token.group(1)
    opener.open(f"{live_server}/login", urllib.parse.urlencode(form).encode(), timeout=10).read()
    with opener.open(f"{live_server}/failed/{outcome.new_uid}/attachments/0", timeout=10) as r:
        # Old code: werkzeug sent "200 OK", then failed to encode the header and cut the line.
        assert r.status == 200 and r.read() == b"%PDF-1.4 data"
        assert parsed(r.headers["Content-Disposition"])["filename"] == "报告.pdf"
