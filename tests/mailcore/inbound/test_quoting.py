"""split_reply: what the sender wrote vs. their signature vs. the quoted history."""

from __future__ import annotations

import pytest

from mailcore.inbound.quoting import split_reply


def test_standard_signature_delimiter() -> None:
    reply = split_reply("Plate: A-1\n\n-- \nJane\nACME\n")
    assert (reply.visible, reply.signature, reply.quoted) == ("Plate: A-1", "-- \nJane\nACME", "")


@pytest.mark.parametrize(
    "line",
    ["--", "__", "________", "Sent from my iPhone", "Sent from my Galaxy", "Envoyé de mon iPhone",
     "Von meinem iPhone gesendet", "Get Outlook for iOS", "Get Outlook for Android<https://x>",
     "Sent from Mail for Windows", "Enviado desde mi iPhone", "Envoyé depuis mon mobile"],
)  # fmt: skip
def test_signature_variants(line: str) -> None:
    reply = split_reply(f"Plate: A-1\n\n{line}\nsomething after\n")
    assert reply.visible == "Plate: A-1"
    assert reply.signature.startswith(line)


@pytest.mark.parametrize(
    "text",
    [
        "Sent from my office the documents we discussed.",
        "---\nplate: A\n---\nfree text",
        "Envoyé de mon bureau avec les documents demandés hier soir.",
    ],
)
def test_sentences_and_yaml_markers_are_not_signatures(text: str) -> None:
    reply = split_reply(text)
    assert reply.signature == ""
    assert reply.visible == text


@pytest.mark.parametrize(
    "header",
    [
        "On Mon, Mar 4, 2024 at 5:02 PM Desk <desk@example.com> wrote:",
        "On Mon, Mar 4, 2024 at 5:02 PM Desk <desk@example.com>\nwrote:",
        "On 04/03/2024 17:02, Fleet desk wrote:",
        "Le lun. 4 mars 2024 à 17:02, Service <s@example.com> a écrit :",
        "Le 04/03/2024 à 17:02, Service a écrit :",
        "Am 04.03.2024 um 17:02 schrieb Fuhrpark <f@example.com>:",
        "Am Mo., 4. März 2024 um 17:02 Uhr schrieb Fuhrpark <f@example.com>:",
        "El lun, 4 mar 2024 a las 17:02, Flota (<f@example.com>) escribió:",
        "desk@example.com wrote:",
    ],
)
def test_attribution_lines_start_the_quote(header: str) -> None:
    reply = split_reply(f"My answer\n\n{header}\n> old text\n> more\n")
    assert reply.visible == "My answer"
    assert reply.quoted.startswith(header.split("\n")[0])
    assert reply.quoted.endswith("> more")


@pytest.mark.parametrize(
    "block",
    [
        "From: Desk <desk@example.com>\nSent: Monday, March 4, 2024 5:02 PM\nTo: Jane",
        "De : Desk <desk@example.com>\nEnvoyé : lundi 4 mars 2024 17:02\nÀ : Jane",
        "Von: Desk <desk@example.com>\nGesendet: Montag, 4. März 2024 17:02\nAn: Jane",
        "*From:* Desk <desk@example.com>\n*Sent:* Monday, March 4, 2024 5:02 PM",
        "________________________________\nFrom: Desk <desk@example.com>\nSent: Monday",
        "-----Original Message-----\nFrom: Desk",
        "----- Original Message -----\nFrom: Desk",
        "-----Message d'origine-----\nDe : Desk",
        "-----Ursprüngliche Nachricht-----\nVon: Desk",
        "Gesendet: Dienstag, 05. März 2024 um 17:02 Uhr\nVon: Desk <desk@example.com>",
    ],
)
def test_top_posted_history_headers(block: str) -> None:
    reply = split_reply(f"My answer\n\n{block}\n\nOld text without quote marks\n")
    assert reply.visible == "My answer"
    assert reply.quoted.startswith(block.split("\n")[0])
    assert reply.quoted.endswith("Old text without quote marks")


def test_from_to_payload_lines_are_not_a_history_header() -> None:
    text = "From: Paris\nTo: Lyon\nDate of travel: tomorrow"
    assert split_reply(text).visible == text


def test_a_sentence_starting_with_on_is_not_an_attribution() -> None:
    text = "On Monday the car wrote: nothing at all\nPlate: A-1"
    assert split_reply(text).visible == text


def test_bottom_posting_keeps_the_answer_after_the_quote() -> None:
    text = "On 4 Mar 2024, Desk <d@example.com> wrote:\n> question?\n\nanswer\n-- \nJane"
    reply = split_reply(text)
    assert reply.visible == "answer"
    assert reply.signature == "-- \nJane"
    assert reply.quoted == "On 4 Mar 2024, Desk <d@example.com> wrote:\n> question?"


def test_blank_line_runs_left_by_removed_quotes_are_collapsed() -> None:
    reply = split_reply("a\n\n> q\n\nb")
    assert reply.visible == "a\n\nb"


def test_empty_text() -> None:
    reply = split_reply("")
    assert (reply.visible, reply.signature, reply.quoted) == ("", "", "")


@pytest.mark.parametrize(
    "text",
    [
        "From: Paris\nDate: 2024-05-01\nTo: Lyon",
        "---\nfrom: Paris\ndate: 2024-05-01\nto: Lyon\n---",
        "Date: tomorrow\nFrom: the depot\nSeats: 4",
    ],
)
def test_travel_requests_are_not_history(text: str) -> None:
    assert split_reply(text).visible == text.strip()


def test_exchange_header_block_without_address_needs_a_subject() -> None:
    text = "ok\n\nFrom: Schmidt, Jonas\nSent: Monday\nTo: Desk\nSubject: plates\n\nold"
    assert split_reply(text).visible == "ok"
