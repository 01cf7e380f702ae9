"""mailcore's schema explanations in the reader's language: the words
`mailcore.processing.schemacheck.expected` and `explain` say a field's expectations and a
refused value with (`SchemaWords`), translated, and the formats' names."""

from __future__ import annotations

import functools

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from mailcore.processing.schemacheck import SchemaWords

# How the console names each format schemacheck.FORMATS names (the same keys).
FORMAT_NAMES = {
    "date": _l("a date like 2024-03-31"),
    "date-time": _l("a date and time like 2024-03-31T14:30:00+01:00"),
    "time": _l("a time like 14:30:00"),
    "email": _l("an e-mail address like ada@example.com"),
    "idn-email": _l("an e-mail address like ada@example.com"),
    "uri": _l("a web address like https://example.com/page"),
    "hostname": _l("a host name like mail.example.com"),
    "ipv4": _l("an IPv4 address like 192.0.2.10"),
    "ipv6": _l("an IPv6 address like 2001:db8::1"),
    "uuid": _l("a UUID like 123e4567-e89b-12d3-a456-426614174000"),
    "duration": _l("a duration like P3D (three days)"),
}


def schema_words() -> SchemaWords:
    """The words in the reader's language (English outside a request); made once per
    language, not per field."""
    return _words_in(str(get_locale() or ""))


@functools.lru_cache(maxsize=16)
def _words_in(_language: str) -> SchemaWords:
    # gettext without values: the translated text keeps its %(name)s for SchemaWords to fill.
    return SchemaWords(
        not_in_form=_("%(value)s is not in the expected form: %(described)s"),
        not_in_pattern=_("%(value)s is not in the form this field expects (pattern %(pattern)s)"),
        not_a_choice=_("%(value)s is not one of the choices: %(listed)s"),
        did_you_mean=_("%(message)s -- did you mean %(close)s?"),
        not_a_format=_("%(value)s is not %(format)s"),
        one_of=_("one of %(listed)s"),
        formats={key: str(name) for key, name in FORMAT_NAMES.items()},
    )
