"""Out-of-office replies per language (RFC 3834 headers first, then each language's subject
words), and no false positive on a person's mail."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcore.inbound.auto_words import LANGUAGES, VacationWords
from mailcore.inbound.automatic import AutoKind
from mailcore.inbound.bounces import answered_subject, bounce_subject, family, is_system_sender
from mailcore.inbound.extract import extract

MAIL = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
OUTLOOK_LANGUAGES = {
    "ar", "bg", "ca", "cs", "da", "de", "el", "en", "es", "et", "eu", "fi", "fr", "gl", "he",
    "hi", "hr", "hu", "id", "it", "ja", "kk", "ko", "lt", "lv", "ms", "nb", "nl", "pl", "pt-BR",
    "pt-PT", "ro", "ru", "sk", "sl", "sr", "sv", "th", "tr", "uk", "vi", "zh-CN", "zh-TW",
}  # fmt: skip


def mail(subject: str, body: str = "I am away until Monday.", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("from_", "Ana Ruiz <ana@garage.example>")
    msg["To"] = "ops@acme.example"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_every_outlook_language_has_an_entry_with_a_source() -> None:
    assert {e.language for e in LANGUAGES} >= OUTLOOK_LANGUAGES
    for entry in LANGUAGES:
        assert entry.prefixes and entry.words and entry.source, entry.language


@pytest.mark.parametrize("entry", LANGUAGES, ids=lambda e: e.language)
def test_vacation_subject_per_language(entry: VacationWords) -> None:
    """Outlook's prefix alone makes a vacation reply; with Auto-Submitted the verdict names
    the header (RFC 3834 first)."""
    subject = f"{entry.prefixes[0]} Vehicle AB-123 ready".replace(":  ", ": ")
    found = extract(mail(subject.upper() if entry.language == "en" else subject))
    assert found.auto_kind is AutoKind.VACATION, subject
    reason = found.auto_reply_reason or ""
    assert entry.language in reason.split("(", 1)[1].split(":", 1)[0].split("/"), reason
    headed = extract(mail(subject, Auto_Submitted="auto-replied"))
    assert headed.auto_kind is AutoKind.VACATION
    assert headed.auto_reply_reason == "Auto-Submitted: auto-replied"


@pytest.mark.parametrize("entry", LANGUAGES, ids=lambda e: e.language)
def test_vacation_words_need_a_header_sign(entry: VacationWords) -> None:
    """'Out of office' in a person's subject is not enough; beside X-Auto-Response-Suppress
    (Exchange's mark on automatic replies) or Precedence it is."""
    subject = f"Re: {entry.words[0]} / planning"
    assert extract(mail(subject)).auto_kind is None
    found = extract(mail(subject, X_Auto_Response_Suppress="All"))
    assert found.auto_kind is AutoKind.VACATION
    bulk = extract(mail(subject, Precedence="bulk"))
    assert bulk.auto_kind is AutoKind.VACATION and bulk.auto_reply_reason == "Precedence: bulk"


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({"Auto_Submitted": "auto-replied"}, AutoKind.VACATION),
        ({"Auto_Submitted": "auto-generated"}, AutoKind.OTHER),
        ({"Auto_Submitted": "auto-notified"}, AutoKind.OTHER),
        ({"X_Autoreply": "yes"}, AutoKind.VACATION),
        ({"X_Autorespond": "Vacation"}, AutoKind.VACATION),
        ({"Precedence": "auto_reply"}, AutoKind.VACATION),
        ({"Precedence": "junk"}, AutoKind.OTHER),
        ({"Auto_Submitted": "no"}, None),
        ({"Precedence": "list"}, None),
    ],
)
def test_rfc3834_headers_decide_first(headers: dict[str, str], kind: AutoKind | None) -> None:
    found = extract(mail("Planning for next week", **headers))
    assert found.auto_kind is kind
    assert found.auto_reply is (kind is not None)


def test_polish_responder_from_bounceparsers_corpus() -> None:
    raw = (MAIL.parent / "bounces" / "bounceparser" / "polish-autoreply.msg").read_bytes()
    found = extract(raw)
    assert found.auto_kind is AutoKind.VACATION and found.bounce is None


def test_vacation_reply_from_a_postmaster_address_is_not_a_bounce() -> None:
    found = extract(mail("Automatic reply: invoice 42", from_="postmaster@garage.example"))
    assert found.auto_kind is AutoKind.VACATION


def test_existing_fixtures_keep_their_verdict() -> None:
    for path in sorted(MAIL.glob("*.eml")):
        found = extract(path.read_bytes())
        if path.name == "out_of_office.eml":
            assert found.auto_kind is AutoKind.VACATION
        elif path.name == "dsn_bounce.eml":
            assert found.auto_kind is AutoKind.BOUNCE and found.bounce is not None
        else:
            assert found.auto_kind is None and not found.auto_reply, path.name


_NAMES = st.text(st.characters(categories=["L"]), min_size=1, max_size=12)
_WORDS = st.lists(
    st.text(st.characters(categories=("L", "N", "P", "Zs")), min_size=1, max_size=15),
    max_size=12,
).map(" ".join)
_PHRASES = st.sampled_from(
    ["Re: ", "Fwd: ", "AW: ", "", "Meeting: ", "Delivery of the car", "Invoice", "Returned keys"]
)


# What a person may quote from a bounce or an out-of-office reply in their own mail.
_BOUNCE_TALK = st.sampled_from(
    [
        "This is the mail system at host mx.example.net.",
        "<x@example.org>: host said: 550 5.1.1 User unknown",
        "Your message could not be delivered",
        "I am out of office until Monday",
        "Automatic reply: see below",
        "Final-Recipient: rfc822; x@example.org",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    local=_NAMES,
    prefix=_PHRASES,
    subject=_WORDS,
    body=st.lists(_WORDS | _BOUNCE_TALK, max_size=8).map("\n".join),
)
def test_a_persons_mail_is_never_automatic(
    local: str, prefix: str, subject: str, body: str
) -> None:
    """Whatever a person writes, from a person's address and without automatic headers,
    it is not flagged: no subject or body words decide without a header sign, except a
    bounce's subject beside an MTA's own sentence (some MTAs bounce from the original
    address) -- and when a person answers or forwards one ("Re: Undeliverable"), only if the
    MTA's sentence comes before anything quoted (a person writes above what they pass on)."""
    sender = f"{local.lower()}@garage.example" if local.isascii() else "ana@garage.example"
    if is_system_sender(sender):  # MAILER-DAEMON, postmaster...: those are the mail system's
        sender = "ana@garage.example"
    full = prefix + subject
    if bounce_subject(full) and family(body):  # (nothing quoted here: the notice opens it)
        return  # the one combination of words that decides (see the docstring)
    raw = mail(full, body or "Hello", from_=sender)
    found = extract(raw)
    assert found.auto_kind is None and not found.auto_reply


@pytest.mark.parametrize(
    "subject", ["Re: NEDORUČITELNÉ", "AW: Unzustellbar", "Fwd: Undelivered Mail", "Re[2]: failure"]
)
def test_a_person_answering_a_bounce_is_not_one(subject: str) -> None:
    notice = "This is the mail system at host mx.example.net.\n\n<x@example.org>: unknown\n"
    quoted = "".join(f"> {line}\n" for line in notice.splitlines())
    forwarded = "---------- Forwarded message ---------\nFrom: MAILER-DAEMON\n\n" + notice
    body = "What is this?\n\n" + (forwarded if subject.startswith("Fwd") else quoted)
    found = extract(mail(subject, body, from_="ana@garage.example"))
    assert found.auto_kind is None and not found.auto_reply


def test_a_bounce_subject_with_an_mta_sentence_is_one_from_any_sender() -> None:
    body = "This is the mail system at host mx.example.net.\n\n<x@example.org>: User unknown\n"
    found = extract(mail("Undelivered Mail Returned to Sender", body, from_="ana@garage.example"))
    assert found.auto_kind == "bounce"


def test_other_reports_are_automatic() -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "tlsrpt@mx.example.net", "ops@acme.example", "Report"
    msg.set_content("TLS report attached.")
    msg.add_attachment(b'{"policies": []}', maintype="application", subtype="tlsrpt+json")
    msg.replace_header(
        "Content-Type", msg["Content-Type"].replace("multipart/mixed", "multipart/report")
    )
    msg.set_param("report-type", "tlsrpt")
    found = extract(msg.as_bytes())
    assert found.auto_kind is AutoKind.OTHER and found.bounce is None
    assert found.auto_reply_reason == "report (multipart/report; report-type=tlsrpt)"


def test_a_person_writing_from_the_postmaster_address_is_not_a_bounce() -> None:
    """MAILER-DAEMON is always the mail system; postmaster is a person too, unless the mail
    reads like a delivery report."""
    found = extract(
        mail("Your new mailbox", "Hello, your account is ready.", from_="postmaster@acme.example")
    )
    assert found.auto_kind is None
    daemon = extract(mail("Your new mailbox", "Hello.", from_="MAILER-DAEMON@mx.acme.example"))
    assert daemon.auto_kind is AutoKind.BOUNCE


@pytest.mark.parametrize(
    ("subject", "answered"),
    [
        ("Re: Undeliverable", True),
        ("AW[2]: Unzustellbar", True),
        ("回复：退信", True),
        ("  fwd : x", True),
        ("Undeliverable: Order 7", False),
        ("Returned mail: see transcript", False),
        ("Re", False),
    ],
)
def test_answered_subject(subject: str, answered: bool) -> None:
    assert answered_subject(subject) is answered
