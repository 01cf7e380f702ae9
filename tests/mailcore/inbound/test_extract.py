"""extract() on realistic messages: one test per rule, on fixtures from real clients."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailcore.ident import IdentScheme
from mailcore.inbound.extract import Extraction, IdentifierSource, PayloadSource, extract

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mail"


def load(name: str) -> Extraction:
    return extract((FIXTURES / name).read_bytes())


def build(text: str | None = None, html: str | None = None, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("from_", "Jane <jane@example.org>")
    msg["To"] = headers.pop("to", "desk@example.com")
    msg["Subject"] = headers.pop("subject", "hello")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    elif html is not None:
        msg.set_content(html, subtype="html")
    return msg.as_bytes()


# -- payload ------------------------------------------------------------------------------------


def test_json_part_wins_over_key_lines_in_the_text() -> None:
    result = load("json_part.eml")
    assert result.payload_source is PayloadSource.JSON_PART
    assert result.payload == {
        "plate_number": "UV-654-WX",
        "owner": "Zoé Durand",
        "mileage": 9100,
        "documents": ["insurance", "inspection"],
    }
    assert "IGNORED-BECAUSE-JSON-WINS" in result.text


def test_yaml_document_ends_at_dashes_and_keeps_hand_typed_values_as_written() -> None:
    result = load("yaml_signature.eml")
    assert result.payload_source is PayloadSource.TEXT_DOCUMENT
    payload = result.payload
    assert payload is not None
    assert payload["plate_number"] == "PQ-321-RS"
    assert payload["country"] == "NO"  # not False (YAML 1.1 "Norway problem")
    assert payload["reference"] == "00742"  # not octal 482
    assert payload["handover_date"] == "2024-03-07"  # not a date object
    assert payload["odometer"] == 48200
    assert payload["fuel_level"] == 0.75
    assert payload["damages"][1] == {"location": "left mirror", "severity": "cracked"}
    assert payload["accessories"] == ["spare wheel", "first-aid kit"]
    assert result.text.endswith("he signed the paper log.")
    assert result.signature.startswith("--\nOps team")


def test_key_lines_after_a_greeting_are_the_payload() -> None:
    result = load("gmail_reply.eml")
    assert result.payload_source is PayloadSource.KEY_LINES
    assert result.payload == {
        "plate_number": "AB-123-CD",
        "owner": "Marie Dupont",
        "mileage": "48200",
    }


def test_a_plain_sentence_is_not_a_payload() -> None:
    result = extract(build("Hello, please find the car outside the garage tomorrow.\n"))
    assert result.payload is None
    assert result.payload_source is PayloadSource.NONE


def test_yaml_that_is_not_a_mapping_is_not_a_payload() -> None:
    result = extract(build("- one\n- two\n- three\n"))
    assert result.payload is None


def test_json_object_in_the_text_is_a_document() -> None:
    result = extract(build('Hi,\n{"plate": "XY-1", "seats": 5}\nthanks\n'))
    assert result.payload_source is PayloadSource.TEXT_DOCUMENT
    assert result.payload == {"plate": "XY-1", "seats": 5}


def test_invalid_json_part_falls_back_to_text_and_is_reported() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg.set_content("Plate: AA-1\n")
    msg.add_attachment(b"{not json", maintype="application", subtype="json", filename="p.json")
    result = extract(msg.as_bytes())
    assert result.payload == {"plate": "AA-1"}
    assert any("not valid JSON" in d for d in result.defects)


def test_french_keys_with_space_before_colon() -> None:
    result = load("french_reply.eml")
    assert result.payload == {
        "immatriculation": "ZZ-999-AA",
        "proprietaire": "Hélène Lefèvre",
        "kilometrage": "61 000",
    }


def test_key_lines_ignore_urls_and_times() -> None:
    result = extract(build("Hello\nSee https://example.org/x\nMeet at 10:30 please\nPlate: Q-1\n"))
    assert result.payload == {"plate": "Q-1"}


# -- visible text, signature, quoted history ----------------------------------------------------


def test_gmail_reply_wrapped_attribution_and_signature() -> None:
    result = load("gmail_reply.eml")
    assert result.text.startswith("Hello,")
    assert result.text.endswith("Best regards,")
    assert result.signature.startswith("-- \nMarie Dupont")
    assert result.quoted.startswith("On Mon, Mar 4, 2024 at 5:02")
    assert "> Please reply with the plate number" in result.quoted
    assert "Please reply" not in result.text
    assert result.text_from_html is False
    assert result.html is not None and "gmail_quote" in result.html


def test_outlook_reply_header_block_and_mobile_signature() -> None:
    result = load("outlook_reply.eml")
    assert result.text.endswith("Kind regards\nJonas")
    assert result.signature.startswith("Get Outlook for iOS")
    assert result.quoted.startswith("____")
    assert "Sent: Monday, March 4, 2024" in result.quoted
    # The quoted request has its own "Plate number:" line: it must not leak into the payload.
    assert result.payload is not None and result.payload["plate_number"] == "KA-JS 4711"
    assert result.payload["mileage"] == "12\xa0500 km – checked today"  # windows-1252 decoded


def test_thunderbird_bottom_posted_reply_keeps_text_after_quotes() -> None:
    result = load("thunderbird_reply.eml")
    assert result.text.startswith("Plate number: GH-456-IJ")
    assert "Thanks for the quick follow-up." in result.text
    assert result.quoted.startswith("On 04/03/2024 17:02, Fleet desk wrote:")
    assert "> Regards," in result.quoted
    # format=flowed soft line break joined
    assert result.payload is not None
    assert result.payload["owner"].endswith("previous leaseholder in January")
    assert result.signature == "-- \nPierre Martin\nGarage Martin & Fils"


def test_apple_mail_reply_with_inline_image() -> None:
    result = load("apple_mail_reply.eml")
    assert result.signature == "Sent from my iPhone"
    assert result.quoted.startswith("> On 4 Mar 2024, at 17:02")
    [image] = result.attachments
    assert image.inline is True
    assert image.content_type == "image/jpeg"
    assert image.filename == "IMG_4032.jpeg"
    assert image.content_id == "7E1D2C3B-4A59-4687-9A8B-1C2D3E4F5A6B"
    assert image.data().startswith(b"\xff\xd8\xff")
    assert image.size == len(image.data())
    assert result.inline_images == [image]


@pytest.mark.parametrize(
    ("fixture", "signature", "quote_start"),
    [
        ("french_reply.eml", "Envoyé de mon iPhone", "Le lun. 4 mars 2024 à 17:02"),
        ("french_outlook.eml", "", "De : Service flotte"),
        ("german_reply.eml", "Von meinem iPhone gesendet", "Am 04.03.2024 um 17:02 schrieb"),
        ("german_outlook.eml", "", "-----Ursprüngliche Nachricht-----"),
        ("outlook_original_message.eml", "", "-----Original Message-----"),
    ],
)
def test_localized_reply_headers(fixture: str, signature: str, quote_start: str) -> None:
    result = load(fixture)
    assert result.signature == signature
    assert result.quoted.startswith(quote_start)
    assert quote_start not in result.text
    assert result.text  # the sender's own words are kept


def test_interleaved_quote_blocks_keep_every_answer() -> None:
    text = (
        "On Mon, 4 Mar 2024 at 10:00, Desk <desk@example.com> wrote:\n"
        "> What is the plate?\n"
        "Plate: AB-1\n"
        "> And the owner?\n"
        "Owner: Jane\n"
    )
    result = extract(build(text))
    assert result.payload == {"plate": "AB-1", "owner": "Jane"}
    assert "> And the owner?" in result.quoted


# -- HTML ---------------------------------------------------------------------------------------


def test_html_only_webmail_is_converted_and_split() -> None:
    result = load("webmail_html_only.eml")
    assert result.text_from_html is True
    assert result.html is not None and "<div" in result.html
    assert "tracking" not in result.text and "font-family" not in result.text  # script, style
    assert "preheader" not in result.text  # display:none
    assert "Fallakte anzeigen (https://portal.example.org/cases/2024/103)" in result.text
    assert "- TÜV bis 2026" in result.text
    assert "Bremsen | gut" in result.text
    assert result.quoted.startswith("Gesendet: Dienstag")
    assert result.payload is not None
    assert result.payload["kennzeichen"] == "B-LM 2024"
    assert "von" not in result.payload  # the quoted header block is not payload


def test_html_is_not_converted_when_text_plain_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    import mailcore.inbound.extract as module

    def boom(html: str) -> str:
        raise AssertionError("HTML converted although text/plain exists")

    monkeypatch.setattr(module, "html_to_text", boom)
    result = extract(build("Plate: A-1\n", "<p>Plate: A-1</p>"))
    assert result.text == "Plate: A-1"
    assert result.html == "<p>Plate: A-1</p>\n"


def test_several_text_plain_parts_are_concatenated() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg.set_content("Plate: AA-1\n")
    msg.add_attachment("Owner: Bob\n", subtype="plain", disposition="inline")
    result = extract(msg.as_bytes())
    assert result.text == "Plate: AA-1\n\nOwner: Bob" or result.text == "Plate: AA-1\nOwner: Bob"
    assert result.payload == {"plate": "AA-1", "owner": "Bob"}
    assert result.attachments == []


# -- attachments --------------------------------------------------------------------------------


def test_attachment_metadata_and_bytes_on_demand() -> None:
    result = load("outlook_reply.eml")
    [pdf] = result.attachments
    assert pdf.filename == "registration certificate.pdf"
    assert pdf.content_type == "application/pdf"
    assert pdf.inline is False and pdf.content_id is None
    assert pdf.size == 51
    data = pdf.data()
    assert data.startswith(b"%PDF-1.4") and len(data) == 51


@pytest.mark.parametrize("size", [0, 1, 2, 3, 57, 1000, 4099])
def test_attachment_size_is_exact_without_decoding(size: int) -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg.set_content("see attached")
    blob = bytes(range(256)) * (size // 256 + 1)
    msg.add_attachment(blob[:size], maintype="application", subtype="octet-stream", filename="b")
    [att] = extract(msg.as_bytes()).attachments
    assert att.size == size
    assert att.data() == blob[:size]


def test_encoded_attachment_filename_is_decoded() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg.set_content("see attached")
    msg.add_attachment(b"x", maintype="application", subtype="pdf", filename="Contrat signé.pdf")
    [att] = extract(msg.as_bytes()).attachments
    assert att.filename == "Contrat signé.pdf"


# -- headers and identifier ---------------------------------------------------------------------


def test_headers_are_decoded() -> None:
    result = load("french_reply.eml")
    headers = result.headers
    assert headers.from_ == "helene.lefevre@orange.example"
    assert headers.from_name == "Hélène Lefèvre"
    assert headers.to == ["reply+VEH-2024-0310@example.com"]
    assert headers.subject == "RE\xa0: Immatriculation du véhicule"
    assert headers.date is not None and headers.date.isoformat() == "2024-03-11T10:12:00+01:00"
    assert headers.message_id == "<0a1b2c3d4e5f$6a7b8c9d$0e1f2a3b@orange.example>"


def test_identifier_from_subaddress_first() -> None:
    result = load("gmail_reply.eml")
    assert (result.identifier, result.identifier_source) == ("VEH-2024-0042", "subaddress")


def test_identifier_from_subject_tag_when_no_subaddress() -> None:
    result = load("outlook_reply.eml")
    assert (result.identifier, result.identifier_source) == ("VEH-2024-0042", "subject")


def test_identifier_from_references_last() -> None:
    result = load("thunderbird_reply.eml")
    assert (result.identifier, result.identifier_source) == ("VEH-2024-0077", "references")
    assert result.headers.references == ["<mc.VEH-2024-0077.9d8e7f6a@example.com>"]


def test_identifier_from_delivered_to_and_cc_and_custom_scheme() -> None:
    raw = build("hi", to="desk@example.com", Cc="Tickets <tickets-T-777@help.example>")
    assert extract(raw).identifier is None
    scheme = IdentScheme(local_part="tickets", separator="-", domain="help.example")
    result = extract(raw, scheme=scheme)
    assert (result.identifier, result.identifier_source) == ("T-777", "subaddress")
    raw = build("hi", to="desk@example.com", Delivered_To="reply+R-123@example.com")
    assert extract(raw).identifier == "R-123"


def test_identifier_source_is_an_enum_equal_to_its_text() -> None:
    result = load("outlook_reply.eml")
    assert result.identifier_source is IdentifierSource.SUBJECT
    assert result.identifier_source == "subject" and f"{result.identifier_source}" == "subject"
    assert type(result.to_json()["identifier_source"]) is str
    assert load("thunderbird_reply.eml").identifier_source is IdentifierSource.REFERENCES


def test_no_identifier() -> None:
    result = extract(build("hello", subject="no tag here"))
    assert result.identifier is None and result.identifier_source is None


# -- auto replies and bounces -------------------------------------------------------------------


def test_out_of_office_is_flagged() -> None:
    result = load("out_of_office.eml")
    assert result.auto_reply is True
    assert result.auto_reply_reason == "Auto-Submitted: auto-replied"


def test_dsn_bounce_is_flagged() -> None:
    result = load("dsn_bounce.eml")
    assert result.auto_reply is True
    assert result.auto_reply_reason is not None
    assert "delivery status notification" in result.auto_reply_reason
    assert result.headers.from_ == "MAILER-DAEMON@mx.example.com"


def test_bounce_identifier_from_returned_headers() -> None:
    raw = (
        (FIXTURES / "dsn_bounce.eml")
        .read_bytes()
        .replace(b"To: reply+VEH-2024-0700@example.com\n", b"To: bounces@example.com\n")
    )
    result = extract(raw)
    assert (result.identifier, result.identifier_source) == ("VEH-2024-0700", "references")


@pytest.mark.parametrize(
    ("header", "value", "flagged"),
    [
        ("Auto-Submitted", "no", False),
        ("Auto-Submitted", "auto-generated", True),
        ("X-Autoreply", "yes", True),
        ("X-Autorespond", "Vacation", True),
        ("Precedence", "bulk", True),
        ("Precedence", "junk", True),
        ("Precedence", "auto_reply", True),
        ("Precedence", "list", False),
    ],
)
def test_auto_reply_headers(header: str, value: str, flagged: bool) -> None:
    result = extract(build("hello", **{header.replace("-", "_"): value}))
    assert result.auto_reply is flagged
    if flagged:
        assert result.auto_reply_reason is not None and value in result.auto_reply_reason
    else:
        assert result.auto_reply_reason is None


def test_ordinary_mail_is_not_an_auto_reply() -> None:
    for name in ("gmail_reply.eml", "outlook_reply.eml", "yaml_signature.eml"):
        assert load(name).auto_reply is False, name


# -- charsets and broken MIME -------------------------------------------------------------------


def test_us_ascii_label_with_utf8_bytes() -> None:
    result = load("bad_charset_ascii_utf8.eml")
    assert result.payload == {"placa": "ÁB-1234", "proprietario": "Ana Conceição"}
    assert any("declared us-ascii" in d for d in result.defects)


def test_unknown_charset_label() -> None:
    result = load("bad_charset_unknown.eml")
    assert result.payload is not None and result.payload["owner"] == "Zoë Ørsted"
    assert any("unknown charset 'x-unknown'" in d for d in result.defects)


def test_latin1_mislabelled_as_utf8() -> None:
    result = load("latin1_as_utf8.eml")
    assert result.payload is not None
    assert result.payload["proprietaire"] == "François Bézier"
    assert result.headers.subject == "Véhicule"
    assert any("not valid utf-8" in d for d in result.defects)


def test_iso_8859_15_euro_sign() -> None:
    result = load("german_outlook.eml")
    assert result.payload == {"kennzeichen": "HH-PW 88", "preis": "120 €"}
    assert result.defects == []


def test_missing_boundary_is_recovered_and_reported() -> None:
    result = load("missing_boundary.eml")
    assert result.payload == {"plate_number": "JJ-888-KK"}
    assert [a.filename for a in result.attachments] == ["data.bin"]
    assert result.attachments[0].data() == b"\x00\x01\x02\x03\x04\x05"
    assert any("NoBoundaryInMultipartDefect" in d for d in result.defects)
    assert any("boundary recovered" in d for d in result.defects)


def test_raw_8bit_header_is_decoded_and_reported() -> None:
    raw = b"From: a@example.org\nSubject: V\xc3\xa9hicule\n\nPlate: A-1\n"
    result = extract(raw)
    assert result.headers.subject == "Véhicule"
    assert any("Subject header: raw 8-bit" in d for d in result.defects)


def test_bad_date_is_reported_not_raised() -> None:
    result = extract(b"From: a@example.org\nDate: yesterday-ish\n\nhello\n")
    assert result.headers.date is None
    assert any("Date header" in d for d in result.defects)


def test_normal_messages_have_no_defects() -> None:
    for name in ("gmail_reply.eml", "outlook_reply.eml", "apple_mail_reply.eml", "json_part.eml"):
        assert load(name).defects == [], name


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe",
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n",
        b"Content-Type: text/plain; charset=base64\n\nhello",
        b'Content-Type: text/plain; charset=""\n\nhello',
        b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!",
        b"Subject: =?x-nope?q?abc?=\n\nbody",
        b"Subject: =?utf-8?b?####?=\n\nbody",
        b"Content-Type: message/rfc822\n\nnot really a message",
        b'Content-Type: multipart/alternative; boundary="a"\n\n' + b"--a\n" * 500,
    ],
)
def test_malformed_messages_never_raise(raw: bytes) -> None:
    result = extract(raw)
    assert isinstance(result, Extraction)
    json.dumps(result.to_json())  # always serializable


def test_deeply_nested_multipart_is_cut_not_crashing() -> None:
    raw = b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'.encode() for i in range(200)
    )
    result = extract(raw + b"Content-Type: text/plain\n\ndeep\n")
    assert isinstance(result, Extraction)
    assert result.defects


def test_to_json_shape() -> None:
    data = load("apple_mail_reply.eml").to_json()
    assert set(data) == {
        "headers", "payload", "payload_source", "text", "signature", "quoted", "html",
        "text_from_html", "attachments", "identifier", "identifier_source", "auto_reply",
        "auto_reply_reason", "defects", "reply_confidence", "reply_confidence_reason",
        "forwarded",
    }  # fmt: skip
    assert data["payload_source"] == "text-document"
    assert data["headers"]["date"] == "2024-03-05T12:20:03+01:00"
    assert data["attachments"][0]["size"] == 100
    json.dumps(data, ensure_ascii=False)


def test_empty_text_plain_falls_back_to_html() -> None:
    result = extract(build("\n", "<div>Plate: Z-9</div>"))
    assert result.text_from_html is True
    assert result.payload == {"plate": "Z-9"}


def test_outlook_html_only_reply_is_split() -> None:
    html = (
        "<div>Plate: K-1</div><div>Jonas</div><hr>"
        '<div id="divRplyFwdMsg"><b>From:</b> Desk &lt;d@example.com&gt;<br>'
        "<b>Sent:</b> Monday, March 4, 2024 5:02 PM<br><b>To:</b> Jonas</div>"
        "<div>Plate: (please fill in)</div>"
    )
    result = extract(build(html=html))
    assert result.text == "Plate: K-1\nJonas"
    assert result.quoted.startswith("---\n\nFrom: Desk")
    assert result.payload == {"plate": "K-1"}


# -- the sender is the addr-spec --------------------------------------------------------------


def test_an_address_as_display_name_never_replaces_the_sender() -> None:
    result = extract(b"From: alice@example.com <bob@example.com>\nTo: o@example.com\n\nhi\n")
    assert result.headers.from_ == "bob@example.com"
    assert result.headers.from_name == "alice@example.com"
    assert any("display name shows 'alice@example.com'" in d for d in result.defects)


def test_an_encoded_display_name_with_a_comma_keeps_the_address() -> None:
    raw = (
        b"From: =?iso-8859-1?Q?Last=DFlName=2C_FirstName?= <comma.name@example.com>\n"
        b"To: o@example.com\n\nhi\n"
    )
    headers = extract(raw).headers
    assert (headers.from_, headers.from_name) == ("comma.name@example.com", "LastßlName, FirstName")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"Doe, Jane" <jane@example.org>, bob@x.org', ["jane@example.org", "bob@x.org"]),
        ("Team: a@example.org, b@example.org;", ["a@example.org", "b@example.org"]),
        ("undisclosed-recipients:;", []),
        ("jane@example.org (Jane, <evil@example.net>)", ["jane@example.org"]),
        ('"bob@example.net" <jane@example.org>', ["jane@example.org"]),
        ("<@relay.example:jane@example.org>", ["jane@example.org"]),
    ],
)
def test_address_lists_give_the_addr_specs(value: str, expected: list[str]) -> None:
    raw = f"From: x@example.org\nTo: {value}\n\nhi\n".encode()
    assert extract(raw).headers.to == expected


def test_a_part_reusing_its_parents_boundary_is_a_defect() -> None:
    raw = (
        b"From: p@example.org\nTo: o@example.com\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b'--b\nContent-Type: multipart/alternative; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain\n\nhi\n--b--\n"
        b'--b\nContent-Type: application/pdf; name="x.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\nJVBERi0=\n--b--\n"
    )
    result = extract(raw)
    assert any("reuses the boundary 'b' of an enclosing part" in d for d in result.defects)
