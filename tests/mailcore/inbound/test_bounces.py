"""Bounces: RFC 3464 reports per recipient, MTA families' own text, hard/soft and reasons,
feedback reports, and the link back to the mail we sent (returned headers, quoted copy, VERP).

The corpora are the development sets in tests/fixtures/bounces/ (see its README); what each
test expects is what that corpus's own tests state."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailcore.inbound.automatic import AutoKind, BounceReason, Severity
from mailcore.inbound.dsn import parse_delivery_status
from mailcore.inbound.extract import IdentifierSource, extract
from mailcore.outbound.compose import bounce_address
from tests.mailcore.bounce_support import SCHEME, postfix_dsn, sent_mail

CORPORA = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"
FLUFL = json.loads((CORPORA / "flufl" / "expected.json").read_text())
BOUNCEPARSER = json.loads((CORPORA / "bounceparser" / "expected.json").read_text())
STD_REASON = {
    "user_unknown": BounceReason.UNKNOWN_USER,
    "over_quota": BounceReason.MAILBOX_FULL,
    "message_too_large": BounceReason.MESSAGE_TOO_LARGE,
    "domain_error": BounceReason.DOMAIN_NOT_FOUND,
    "spam": BounceReason.BLOCKED_AS_SPAM,
}

# One sample per MTA family of flufl.bounce's corpus (the family is its file-name prefix).
FAMILY_SAMPLES = [
    "caiwireless_01.txt",
    "dsn_01.txt",
    "dsn_05.txt",
    "exim_01.txt",
    "groupwise_01.txt",
    "hotpop_01.txt",
    "microsoft_02.txt",
    "netscape_01.txt",
    "newmailru_01.txt",
    "postfix_01.txt",
    "qmail_01.txt",
    "simple_01.txt",
    "simple_03.txt",
    "sina_01.txt",
    "smtp32_04.txt",
    "yahoo_08.txt",
    "bounce_02.txt",
]


def addresses(raw: bytes) -> set[str]:
    found = extract(raw)
    assert found.bounce is not None
    return {r.address.lower() for r in found.bounce.recipients}


@pytest.mark.parametrize("name", FAMILY_SAMPLES)
def test_flufl_family_recipients_and_severity(name: str) -> None:
    stated = FLUFL[name]
    found = extract((CORPORA / "flufl" / name).read_bytes())
    assert found.auto_reply and found.auto_kind is AutoKind.BOUNCE
    assert found.bounce is not None
    assert {r.address.lower() for r in found.bounce.recipients} == {
        a.lower() for a in stated["addresses"]
    }
    expected = Severity.SOFT if stated["temporary"] else Severity.HARD
    assert found.bounce.severity is expected


def test_flufl_corpus_as_a_whole() -> None:
    """Every sample is automatic (but the person's mail flufl's tests name); recipients as
    flufl's tests state them on at least 105 of the 111 that state any (105 when written)."""
    right = stated = 0
    for path in sorted((CORPORA / "flufl").glob("*.txt")):
        found = extract(path.read_bytes())
        human = path.name == "groupwise_03.txt"  # flufl: "not a bounce"
        assert found.auto_reply is not human, path.name
        want = FLUFL.get(path.name, {}).get("addresses")
        if want and not human:
            stated += 1
            got = {r.address.lower() for r in found.bounce.recipients} if found.bounce else set()
            right += got == {a.lower() for a in want}
    assert stated == 111
    assert right >= 105


@pytest.mark.parametrize("name", sorted(k for k in BOUNCEPARSER if not k.startswith("_")))
def test_bounceparser_corpus(name: str) -> None:
    stated = BOUNCEPARSER[name]
    found = extract((CORPORA / "bounceparser" / name).read_bytes())
    assert found.auto_reply
    if not stated["is_bounce"]:
        assert found.auto_kind is AutoKind.VACATION and found.bounce is None
        return
    assert found.auto_kind is AutoKind.BOUNCE and found.bounce is not None
    records = found.bounce.recipients
    assert records[0].reason is STD_REASON[stated["std_reason"]]  # BounceParser states no hard/soft
    if "addresses" in stated:
        assert [r.address.lower() for r in records] == stated["addresses"]
    if "smtp_code" in stated:
        assert (records[0].diagnostic or "").startswith(stated["smtp_code"])


def test_flanker_mailbox_full() -> None:
    found = extract((CORPORA / "flanker" / "mailbox-full.eml").read_bytes())
    assert found.bounce is not None
    [record] = found.bounce.recipients
    assert (record.final_recipient, record.original_recipient) == ("user@aol.com", "user@aol.com")
    assert (record.action, record.status) == ("failed", "5.2.2")
    assert record.remote_mta == "air-dc.gair-dc.mail.aol.com"
    assert record.reason is BounceReason.MAILBOX_FULL and record.severity is Severity.HARD
    assert found.bounce.reporting_mta == "mtain-db01.r1000.mx.aol.com"
    assert found.bounce.original_message_id == "<4E326A95.3010907@example.com>"


# -- RFC 3464 per recipient ---------------------------------------------------------------------


def test_delivery_status_fields_per_recipient() -> None:
    report = parse_delivery_status(
        "Reporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: rfc822; ann@example.org\nAction: failed\nStatus: 5.1.1\n"
        "Remote-MTA: dns; in.example.org\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <ann@example.org>: Recipient address rejected:\n"
        "    User unknown in virtual mailbox table\n\n"
        "Final-Recipient: rfc822; bob@example.org\nOriginal-Recipient: rfc822; Bob@Example.org\n"
        "Action: delayed\nStatus: 4.2.2\nDiagnostic-Code: smtp; 452 4.2.2 Mailbox full\n\n"
        "Final-Recipient: rfc822; cy@example.org\nAction: failed\nStatus: 5.7.1\n"
        "Diagnostic-Code: smtp; 554 5.7.1 Message rejected as spam by Content Filtering\n"
    )
    assert report.reporting_mta == "mx.example.net"
    ann, bob, cy = report.recipients
    assert (ann.final_recipient, ann.status, ann.remote_mta) == (
        "ann@example.org",
        "5.1.1",
        "in.example.org",
    )
    assert ann.diagnostic is not None and "virtual mailbox table" in ann.diagnostic
    assert (ann.severity, ann.reason) == (Severity.HARD, BounceReason.UNKNOWN_USER)
    assert bob.address == "Bob@Example.org" and bob.action == "delayed"
    assert (bob.severity, bob.reason) == (Severity.SOFT, BounceReason.MAILBOX_FULL)
    assert (cy.severity, cy.reason) == (Severity.HARD, BounceReason.BLOCKED_AS_SPAM)
    assert report.severity is Severity.HARD


@pytest.mark.parametrize(
    ("status", "diagnostic", "severity", "reason"),
    [
        ("5.1.1", "550 no", Severity.HARD, BounceReason.UNKNOWN_USER),
        ("5.1.2", None, Severity.HARD, BounceReason.DOMAIN_NOT_FOUND),
        ("5.2.2", None, Severity.HARD, BounceReason.MAILBOX_FULL),
        ("5.3.4", None, Severity.HARD, BounceReason.MESSAGE_TOO_LARGE),
        ("5.7.1", "550 5.7.1 Relaying denied", Severity.HARD, BounceReason.POLICY),
        ("5.7.1", "554 Blocked - see https://www.spamhaus.org", Severity.HARD,
         BounceReason.BLOCKED_AS_SPAM),
        ("5.0.0", "550 No such user here", Severity.HARD, BounceReason.UNKNOWN_USER),
        ("4.4.1", "Connection timed out", Severity.SOFT, BounceReason.TEMPORARY),
        ("4.0.0", "try again later", Severity.SOFT, BounceReason.TEMPORARY),
        (None, "552 message size exceeds fixed maximum", Severity.HARD,
         BounceReason.MESSAGE_TOO_LARGE),
        (None, "452 Insufficient system storage", Severity.SOFT, BounceReason.MAILBOX_FULL),
        ("5.9.9", "something else entirely", Severity.HARD, BounceReason.OTHER),
    ],
)  # fmt: skip
def test_status_code_first_then_words(
    status: str | None, diagnostic: str | None, severity: Severity, reason: BounceReason
) -> None:
    text = "Final-Recipient: rfc822; x@example.org\nAction: failed\n"
    text += f"Status: {status}\n" if status else ""
    text += f"Diagnostic-Code: smtp; {diagnostic}\n" if diagnostic else ""
    [record] = parse_delivery_status(text).recipients
    assert (record.severity, record.reason) == (severity, reason)


# -- text bounces -------------------------------------------------------------------------------


def text_bounce(sender: str, subject: str, body: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "ops@acme.example", subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_mailer_daemon_without_null_return_path_is_a_bounce() -> None:
    raw = text_bounce(
        "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>",
        "Returned mail: see transcript for details",
        "   ----- The following addresses had permanent fatal errors -----\n"
        "<gone@example.org>\n    (reason: 550 5.1.1 User unknown)\n",
        Return_Path="<MAILER-DAEMON@mx.example.net>",
    )
    found = extract(raw)
    assert found.auto_kind is AutoKind.BOUNCE and found.bounce is not None
    assert found.bounce.source == "sendmail"
    [record] = found.bounce.recipients
    assert (record.address, record.status, record.reason) == (
        "gone@example.org",
        "5.1.1",
        BounceReason.UNKNOWN_USER,
    )


def test_bounce_recognised_through_auto_submitted_is_not_a_vacation() -> None:
    """Postfix marks its bounces Auto-Submitted: auto-replied; without a delivery-status part
    and with an ordinary sender the text still makes it a bounce."""
    raw = text_bounce(
        "Mail System <system@relay.example.net>",
        "Undelivered Mail Returned to Sender",
        "This is the mail system at host relay.example.net.\n\n"
        "<full@example.org>: host mx.example.org[192.0.2.1] said: 552 5.2.2 Mailbox full\n",
        Auto_Submitted="auto-replied",
    )
    found = extract(raw)
    assert found.auto_kind is AutoKind.BOUNCE
    assert found.bounce is not None and found.bounce.source == "postfix"
    assert [r.reason for r in found.bounce.recipients] == [BounceReason.MAILBOX_FULL]


def test_warning_is_soft() -> None:
    raw = text_bounce(
        "postmaster@mx.example.net",
        "Warning: could not send message for past 4 hours",
        "    **********************************************\n"
        "    **      THIS IS A WARNING MESSAGE ONLY      **\n"
        "    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n\n"
        "The original message was received at Mon, 1 Dec 2026 10:00:00\n"
        "----- Transcript of session follows -----\n"
        "<slow@example.org>... Deferred: Connection timed out\n"
        "Warning: message still undelivered after 4 hours\n"
        "Will keep trying until message is 5 days old\n",
    )
    found = extract(raw)
    assert found.bounce is not None and found.bounce.severity is Severity.SOFT
    assert [r.address for r in found.bounce.recipients] == ["slow@example.org"]


# -- feedback reports ---------------------------------------------------------------------------


ARF = b"""From: <abusedesk@example.com>
Date: Thu, 8 Mar 2005 17:40:36 EDT
Subject: FW: Earn money
To: <abuse@acme.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <somespammer@example.net>
Original-Rcpt-To: <user@example.com>
Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT
Reporting-MTA: dns; mail.example.com
Source-IP: 192.0.2.1
Authentication-Results: mail.example.com; spf=fail smtp.mail=somespammer@example.com
Reported-Domain: example.net

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: <somespammer@example.net>
Received: from mailserver.example.net (mailserver.example.net [192.0.2.1])
Message-ID: <mc.VEH-77.0123abcd@acme.example>
To: <Undisclosed Recipients>
Subject: Earn money

Spam Spam Spam

--part1_13d.2e68ed54_boundary--
"""


def test_feedback_report_fields() -> None:
    """RFC 5965 appendix B.1's example, returned about one of our Message-IDs."""
    found = extract(ARF)
    assert found.auto_kind is AutoKind.FEEDBACK and found.bounce is None
    report = found.feedback
    assert report is not None
    assert (report.feedback_type, report.user_agent, report.version) == (
        "abuse",
        "SomeGenerator/1.0",
        "1",
    )
    assert report.original_mail_from == "somespammer@example.net"
    assert report.original_rcpt_to == ("user@example.com",)
    assert (report.source_ip, report.reporting_mta) == ("192.0.2.1", "mail.example.com")
    assert report.reported_domain == ("example.net",)
    assert report.original_message_id == "<mc.VEH-77.0123abcd@acme.example>"
    assert (found.identifier, found.identifier_source) == ("VEH-77", IdentifierSource.REFERENCES)
    assert found.to_json()["feedback"]["feedback_type"] == "abuse"


# -- the link to the mail we sent ---------------------------------------------------------------


def test_bounce_of_our_mail_is_linked_by_its_returned_headers() -> None:
    original = sent_mail()
    found = extract(postfix_dsn(original), scheme=SCHEME)
    assert found.auto_kind is AutoKind.BOUNCE and found.bounce is not None
    assert found.bounce.original_message_id == original["Message-ID"]
    assert (found.identifier, found.identifier_source) == ("VEH-4711", "references")
    [record] = found.bounce.recipients
    assert (record.address, record.status, record.severity, record.reason) == (
        "partner@garage.example",
        "5.1.1",
        Severity.HARD,
        BounceReason.UNKNOWN_USER,
    )


def test_bounce_to_the_verp_address_is_linked_without_returned_headers() -> None:
    original = sent_mail()
    verp = bounce_address(original, SCHEME)
    assert verp is not None and verp.startswith("bounce+VEH-4711.")
    found = extract(postfix_dsn(original, to=verp, headers=False), scheme=SCHEME)
    assert found.bounce is not None
    assert found.bounce.original_message_id == original["Message-ID"]
    assert (found.identifier, found.identifier_source) == (
        "VEH-4711",
        IdentifierSource.BOUNCE_ADDRESS,
    )


def test_text_bounce_is_linked_by_its_quoted_copy() -> None:
    original = sent_mail()
    head = original.as_bytes().split(b"\n\n", 1)[0].decode()
    raw = text_bounce(
        "MAILER-DAEMON@mail1.garage.example",
        "failure notice",
        "Hi. This is the qmail-send program at mail1.garage.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<partner@garage.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        f"--- Below this line is a copy of the message.\n\n{head}\n\nPlate: AB-1\n",
    )
    found = extract(raw, scheme=SCHEME)
    assert found.bounce is not None and found.bounce.source == "qmail"
    assert found.bounce.original_message_id == original["Message-ID"]
    assert found.identifier == "VEH-4711"


def test_bounce_json() -> None:
    data = extract(postfix_dsn(sent_mail()), scheme=SCHEME).to_json()
    assert data["auto_kind"] == "bounce"
    [record] = data["bounce"]["recipients"]
    assert record["severity"] == "hard" and record["reason"] == "unknown-user"
    assert data["bounce"]["severity"] == "hard"
    json.dumps(data)


WRITTEN = json.loads((CORPORA / "written" / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(k for k in WRITTEN if not k.startswith("_")))
def test_written_families(name: str) -> None:
    """Office 365, Exim's text, Amazon SES (its own and SNS's JSON notices), Trend Micro, a list
    manager, a Japanese carrier."""
    stated = WRITTEN[name]
    found = extract((CORPORA / "written" / name).read_bytes())
    if "identifier" in stated:
        assert found.identifier == stated["identifier"]
    if not stated["is_bounce"]:
        assert found.auto_kind == stated["mailcore_kind"]
        return
    assert found.auto_kind is AutoKind.BOUNCE and found.bounce is not None
    records = found.bounce.recipients
    assert [r.address for r in records] == stated["addresses"]
    assert records[0].reason == stated["reason"] and records[0].severity == stated["severity"]
    if "status" in stated:
        assert records[0].status == stated["status"]
