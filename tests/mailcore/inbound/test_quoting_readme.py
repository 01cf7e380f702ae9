"""The README publishes the reply-words table exactly as reply_words generates it."""

from __future__ import annotations

from pathlib import Path

from mailcore.inbound.reply_words import LANGUAGES, SOURCES, markdown_table

README = Path(__file__).parents[3] / "README.md"


def test_readme_table_is_the_data() -> None:
    text = README.read_text("utf-8")
    start = text.index("<!-- reply-words:start -->\n") + len("<!-- reply-words:start -->\n")
    end = text.index("\n<!-- reply-words:end -->")
    assert text[start:end] == markdown_table(), (
        "README's reply-words table is stale: paste the output of"
        ' python -c "from mailcore.inbound.reply_words import markdown_table;'
        ' print(markdown_table())"'
    )


def test_every_entry_cites_known_sources_and_has_the_words() -> None:
    for lang in LANGUAGES:
        assert lang.sources and set(lang.sources) <= set(SOURCES), lang.code
        assert lang.from_ and lang.sent and lang.to and lang.subject, lang.code
        assert lang.original and lang.forwarded and lang.wrote, lang.code
    assert len({lang.code for lang in LANGUAGES}) == len(LANGUAGES)
