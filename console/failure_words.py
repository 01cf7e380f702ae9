"""What the console says of each kind of failure (mailcore.processing.vocabulary.FailureKind),
in the reader's language: a headline naming the kind and one sentence on what to do. The
reason mailcore recorded beside the kind stays as it was written (English, the engine's or a
handler's words); the detail page and the failed list show it under the headline.

A row written before kinds were recorded has none: `failure_title` answers None and the page
shows the reason alone, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from mailcore.processing.vocabulary import FailureKind

__all__ = ["FAILURE_WORDS", "FailureWords", "failure_advice", "failure_title", "register"]


@dataclass(frozen=True)
class FailureWords:
    """A kind's headline and what to do about it (lazy strings: translated when shown)."""

    title: Any
    advice: Any


K = FailureKind
FAILURE_WORDS: dict[FailureKind, FailureWords] = {
    K.NO_HANDLER: FailureWords(
        _l("No handler takes this message"),
        _l("Choose the handler and the identifier it is for, then re-submit it; or reject it."),
    ),
    K.UNKNOWN_IDENTIFIER: FailureWords(
        _l("No handler knows its identifier"),
        _l("Correct the identifier (or choose the handler), then re-submit it."),
    ),
    K.UNKNOWN_HANDLER: FailureWords(
        _l("The chosen handler does not exist"),
        _l("Choose one of the handlers offered, then re-submit it."),
    ),
    K.TOO_LARGE: FailureWords(
        _l("The message is too large to be read"),
        _l("Download it to decide; type its data by hand and re-submit it, or reject it."),
    ),
    K.UNDECRYPTED: FailureWords(
        _l("The encrypted message could not be decrypted"),
        _l("Ask an administrator to add the missing key, then re-run it; or reject it."),
    ),
    K.SIGNATURE_REQUIRED: FailureWords(
        _l("A valid signature by the sender is required"),
        _l(
            "Ask the sender to sign with a trusted key (or have their key trusted), then re-run it."
        ),
    ),
    K.REPLY_UNSURE: FailureWords(
        _l("The reply could not be told from the quoted text with certainty"),
        _l("Check the quoted part and the data, correct them if needed, then re-submit it."),
    ),
    K.NO_PAYLOAD: FailureWords(
        _l("No data was found in the message"),
        _l("Type the data from the mail's text in the editor, then re-submit it; or reject it."),
    ),
    K.PAYLOAD_LIMITS: FailureWords(
        _l("The data is larger than the limits allow"),
        _l("Shorten the data in the editor, then re-submit it; or reject it."),
    ),
    K.SCHEMA: FailureWords(
        _l("The data does not match the schema"),
        _l("Correct the fields marked below, then re-submit it."),
    ),
    K.HANDLER_REFUSED: FailureWords(
        _l("The handler refused the data"),
        _l("Read its reason below, correct the data if you can, then re-submit it; or reject it."),
    ),
    K.HANDLER_ERROR: FailureWords(
        _l("The handler stopped on an error"),
        _l("Tell the handler's developers (the detail names the error); re-run it once fixed."),
    ),
    K.WEBHOOK_REFUSED: FailureWords(
        _l("The receiving application refused the message"),
        _l("Read its reason below, correct the data, then re-submit it; or reject it."),
    ),
    K.WEBHOOK_UNREACHABLE: FailureWords(
        _l("The receiving application could not be reached"),
        _l("Re-run it once the application answers again."),
    ),
    K.INTERNAL: FailureWords(
        _l("An internal error of mailcore"),
        _l("Report it to an administrator with the detail below; re-run it once fixed."),
    ),
}


def _words(kind: object) -> FailureWords | None:
    known = FailureKind.of(kind)
    return FAILURE_WORDS.get(known) if known is not None else None


def failure_title(kind: object) -> str | None:
    """The headline of a failure's kind in the reader's language; None for no kind (a row
    written before kinds were recorded) or one of another version."""
    words = _words(kind)
    return str(words.title) if words is not None else None


def failure_advice(kind: object) -> str | None:
    """What to do about a failure of this kind, one sentence in the reader's language."""
    words = _words(kind)
    return str(words.advice) if words is not None else None


def register(app: Flask) -> None:
    """`failure_title` and `failure_advice` as template globals of `app`."""
    app.add_template_global(failure_title, "failure_title")
    app.add_template_global(failure_advice, "failure_advice")
