"""Composed messages: the three alternatives, identifiers, attachments, layout, previews."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from mailcore import ident
from mailcore.errors import TemplateError
from mailcore.ident import IdentScheme
from mailcore.outbound import sanitize
from mailcore.outbound.compose import Brand, OutboundAttachment, Template, compose, preview
from tests.mailcore.outbound.test_templating import HOSTILE_DATA, HOSTILE_TEMPLATE, Elements

SCHEME = IdentScheme(domain="acme.example")
TEMPLATE = Template(
    "vehicle",
    "Vehicle {{ plate }} is ready",
    "# Vehicle {{ plate }}\n\nDear {{ owner.name }},\n\n| Item | Price |\n|---|--:|\n"
    "{% for l in lines %}| {{ l.label }} | {{ l.price }} |\n{% endfor %}\nSee you soon.\n",
)
DATA: dict[str, Any] = {
    "plate": "AB-123-CD",
    "owner": {"name": "Zoë Ørsted"},
    "lines": [{"label": "Oil change", "price": 89.9}, {"label": "Brakes", "price": 145}],
}


def make(**kw: Any) -> EmailMessage:
    args: dict[str, Any] = {"sender": "Acme <ops@acme.example>", "scheme": SCHEME}
    args.update(kw)
    return compose(TEMPLATE, DATA, "partner@garage.example", "a74e22bb", **args)


def reparse(msg: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def alternatives(msg: EmailMessage) -> list[EmailMessage]:
    alt = (
        msg
        if msg.get_content_type() == "multipart/alternative"
        else next(p for p in msg.walk() if p.get_content_type() == "multipart/alternative")
    )
    return list(alt.iter_parts())  # type: ignore[arg-type]


def html_of(msg: EmailMessage) -> str:
    part = next(p for p in msg.walk() if p.get_content_type() == "text/html")
    return str(part.get_content())  # type: ignore[attr-defined]


def test_three_alternatives_in_order_carrying_the_same_data() -> None:
    msg = reparse(make())
    assert msg.get_content_type() == "multipart/alternative"
    parts = alternatives(msg)
    assert [p.get_content_type() for p in parts] == [
        "application/json",
        "text/plain",
        "multipart/related",
    ]
    assert json.loads(parts[0].get_payload(decode=True).decode("utf-8")) == DATA
    assert parts[0].get_content_charset() == "utf-8"
    text = parts[1].get_content()
    html = html_of(msg)
    html_text = " ".join(Elements(html).text)
    for value in ("AB-123-CD", "Zoë Ørsted", "Oil change", "89.9", "Brakes", "145"):
        assert value in text
        assert value in html_text
    assert text.startswith("# Vehicle AB-123-CD")  # Markdown source, readable as is


def test_message_is_seven_bit_and_utf8() -> None:
    raw = make().as_bytes()
    raw.decode("ascii")  # every non-ASCII character is encoded
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    msg = reparse(make())
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            assert part.get_content_charset() == "utf-8"


def test_identifier_headers() -> None:
    msg = reparse(make(automatic=True, date=datetime(2026, 11, 24, 10, 2, tzinfo=UTC)))
    assert msg["Reply-To"] == "reply+a74e22bb@acme.example"
    assert msg["Subject"] == "[a74e22bb] Vehicle AB-123-CD is ready"
    assert ident.from_subject(msg["Subject"]) == "a74e22bb"
    assert ident.from_message_ids(msg["Message-ID"]) == "a74e22bb"
    root = ident.thread_root("a74e22bb", "acme.example")
    assert msg["In-Reply-To"] == root and msg["References"] == root
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"] == "Tue, 24 Nov 2026 10:02:00 +0000"
    assert msg["MIME-Version"] == "1.0"
    assert msg["From"] == "Acme <ops@acme.example>"
    assert msg["To"] == "partner@garage.example"
    assert "Auto-Submitted" not in reparse(make())


def test_threading_groups_one_resource_and_separates_others() -> None:
    first, second = make(), make()
    other = compose(
        TEMPLATE, DATA, "p@x.example", "b2c3d4e5", sender="a@acme.example", scheme=SCHEME
    )
    assert first["Message-ID"] != second["Message-ID"]
    assert first["References"] == second["References"] != other["References"]
    follow_up = make(in_reply_to="<CAF=partner.reply@mail.gmail.com>")
    assert follow_up["In-Reply-To"] == "<CAF=partner.reply@mail.gmail.com>"
    assert follow_up["References"].split() == [
        ident.thread_root("a74e22bb", "acme.example"),
        "<CAF=partner.reply@mail.gmail.com>",
    ]


def test_attachments_with_types_and_non_ascii_names() -> None:
    msg = reparse(
        make(
            attachments=[
                ("Facture n°12 – été.pdf", b"%PDF-1.4 fake"),
                OutboundAttachment("data.csv", b"a;b\n1;2\n"),
                OutboundAttachment("blob", b"\x00\x01", "application/x-custom"),
            ]
        )
    )
    assert msg.get_content_type() == "multipart/mixed"
    first = next(msg.iter_parts())  # type: ignore[attr-defined]
    assert first.get_content_type() == "multipart/alternative"
    files = [
        (p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
        for p in msg.iter_attachments()
    ]  # type: ignore[attr-defined]
    assert files == [
        ("Facture n°12 – été.pdf", "application/pdf", b"%PDF-1.4 fake"),
        ("data.csv", "text/csv", b"a;b\n1;2\n"),
        ("blob", "application/x-custom", b"\x00\x01"),
    ]
    assert b"filename*=utf-8''Facture" in make(attachments=[("Facture n°12.pdf", b"x")]).as_bytes()


def test_layout_has_inlined_css_and_a_cid_logo_without_remote_resources() -> None:
    msg = reparse(make(brand=Brand(name="Acme Garage", color="#aa3300")))
    html = html_of(msg)
    found = Elements(html)
    h1_style = next(v for tag, name, v in found.attrs if tag == "h1" and name == "style")
    assert "font-size" in h1_style  # inlined: Gmail drops <style> in some views
    srcs = [v for tag, name, v in found.attrs if name in ("src", "href") and tag != "a"]
    assert srcs == ["cid:logo@acme.example"]
    logo = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert logo["Content-ID"] == "<logo@acme.example>"
    assert logo.get_payload(decode=True).startswith(b"\x89PNG")
    assert "Acme Garage" in " ".join(found.text)


def test_hostile_template_and_data_leave_no_active_markup_in_any_part() -> None:
    msg = compose(
        HOSTILE_TEMPLATE, HOSTILE_DATA, "p@x.example", "a74e22bb", sender="a@acme.example"
    )
    parsed = reparse(msg)
    assert_inert_page(html_of(parsed))
    parts = alternatives(parsed)
    assert json.loads(parts[0].get_payload(decode=True)) == HOSTILE_DATA  # data stays data
    text = parts[1].get_content()
    assert parts[1].get_content_type() == "text/plain"
    for gone in ('alert("template")', "alert(6)", "alert(8)", "alert(9)", "onclick"):
        assert gone not in text


def assert_inert_page(page: str) -> None:
    """Nothing active anywhere; in the content, only allowlisted tags and attributes (plus the
    style attributes the CSS inliner adds from the trusted layout)."""
    found = Elements(page)
    assert not {"script", "iframe", "svg", "object", "embed", "form"} & set(found.tags)
    assert not any(name.startswith("on") for _, name, _ in found.attrs)
    assert not any("javascript" in v.lower().replace(" ", "") for _, _, v in found.attrs)
    content = Elements(page.split('class="content"', 1)[1].split("</td>", 1)[0])
    assert set(content.tags) <= sanitize.ALLOWED_TAGS
    for tag, name, _ in content.attrs:
        assert name == "style" or name in sanitize.ALLOWED_ATTRIBUTES.get(tag, ()), (tag, name)


def test_compose_raises_template_error_naming_undefined() -> None:
    with pytest.raises(TemplateError) as caught:
        compose(
            Template("t", "{{ a }}", "{{ b.c }} {{ d }}"),
            {"b": {}},
            "x@y.example",
            "abc",
            sender="s@acme.example",
        )
    assert caught.value.names == ["a", "b.c", "d"]


def test_preview_never_raises_and_reports_problems() -> None:
    broken = Template("t", "Hi {{ name", "Body {% if %}\n")
    result = preview(broken, {"x": 1})
    assert {p.kind for p in result.problems} == {"syntax"}
    assert {p.source for p in result.problems} == {"subject", "body"}
    assert result.mime  # still a message to look at
    assert not result.ok
    bad_id = preview(TEMPLATE, DATA, resource_id="no spaces allowed")
    assert any("invalid resource id" in p.message for p in bad_id.problems)


def test_preview_shows_every_alternative() -> None:
    result = preview(TEMPLATE, DATA, scheme=SCHEME, resource_id="a74e22bb")
    assert result.ok and result.problems == []
    assert result.subject == "[a74e22bb] Vehicle AB-123-CD is ready"
    assert json.loads(result.json) == DATA
    assert "Zoë Ørsted" in result.text
    assert "data:image/png;base64," in result.html and "cid:" not in result.html
    parsed = message_from_bytes(result.mime.encode("ascii"), policy=policy.default)
    assert parsed["Reply-To"] == "reply+a74e22bb@acme.example"


def test_preview_reports_a_template_doing_too_much_work_as_refused() -> None:
    body = "Hello\n{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    shown = preview(Template("t", "Subject", body), {})
    refused = [p for p in shown.problems if p.kind == "refused"]
    assert len(refused) == 1 and refused[0].line == 2
    assert "template does too much work: over 100,000 loop iterations" in refused[0].message
