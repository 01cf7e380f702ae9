"""The outbound path (render -> Markdown -> sanitize -> CSS inlining -> compose) is linear in
the template's size on hostile author text, and ordinary Markdown renders as before."""

from __future__ import annotations

import time
from collections.abc import Callable

import markdown
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.outbound import template_limits as limits
from mailcore.outbound.compose import preview
from mailcore.outbound.templating import MARKDOWN_EXTENSIONS, Template, render, render_all


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda size: (unit * (size // len(unit) + 1))[:size]


def _nested_lists(size: int) -> str:
    lines, depth = [], 0
    while sum(map(len, lines)) < size:
        lines.append("    " * (depth % 200) + "- x\n")
        depth += 1
    return "".join(lines)[:size]


def _table(size: int) -> str:
    head = "| h " * 20 + "|\n" + "| --- " * 20 + "|\n"
    row = "| [a](b) " * 20 + "|\n"
    return (head + row * (size // len(row) + 1))[:size]


def _refdefs(size: int) -> str:
    out, i = [], 0
    while sum(map(len, out)) < size:
        out.append(f"[r{i}]: http://x.example/{i}\n[r{i}] ")
        i += 1
    return "".join(out)[:size]


FAMILIES: dict[str, Callable[[int], str]] = {
    "brackets [[[[[**": _repeat("[[[[[**"),
    "open brackets": _repeat("["),
    "images ![": _repeat("!["),
    "unclosed targets [a](": _repeat("[a]("),
    "titles [a](b 'x)": _repeat("[a](b 'x) "),
    "<a runs": _repeat("<a "),
    "CDATA": _repeat("<![CDATA["),
    "declarations <!": _repeat("<!"),
    "processing instructions <?": _repeat("<?"),
    "html comments <!--": _repeat("<!--"),
    "script without close": _repeat("<script"),
    "autolinks <http://": _repeat("<http://"),
    "emphasis *_*_": _repeat("*_*_"),
    "emphasis words *a _b": _repeat("*a _b **c __d "),
    "backtick runs": _repeat("`` ` "),
    "backtick escapes": _repeat("\\`` "),
    "fences": _repeat("```\n````\n"),
    "fences with quotes": _repeat('``` hl_lines="\n'),
    "nested blockquotes": _repeat("> "),
    "nested lists": _nested_lists,
    "long table": _table,
    "entities": _repeat("&#1234;"),
    "broken entities": _repeat("&#"),
    "reference definitions": _refdefs,
    "headers": _repeat("##### x\n"),
    "setext headers": _repeat("x\n=\n"),
    "one long word": _repeat("a"),
    "spaces": _repeat(" "),
    "dense links": _repeat("[a](b) "),
    "dense tags": _repeat("<b>x</b> "),
}


def _preview_seconds(body: str) -> float:
    template = Template("t", "s", "{% raw %}" + body + "{% endraw %}")
    start = time.perf_counter()
    result = preview(template, {})
    elapsed = time.perf_counter() - start
    assert result.ok, result.problems[:3]
    return elapsed


@pytest.mark.parametrize("family", list(FAMILIES))
def test_hostile_author_text_is_linear_on_the_whole_outbound_path(family: str) -> None:
    build = FAMILIES[family]
    small = _preview_seconds(build(10_000))
    large = _preview_seconds(build(100_000))
    # A generous guard, never a tight timing: quadratic is 100x, cubic 1000x.
    assert large < 10, f"{family}: 100 KB took {large:.1f} s"
    assert large < 25 * max(small, 0.4), f"{family}: 10 KB {small:.2f} s, 100 KB {large:.2f} s"


def test_the_reported_reproductions_are_fast() -> None:
    # 28 KB took 99 s in markdown.convert; "<a " * 4000 took 2.2 s.
    for body in ("[[[[[**" * 4000, "<a " * 40_000, "[" * 30_000):
        assert _preview_seconds(body) < 10


_MD_ALPHABET = st.sampled_from(
    ["[", "]", "(", ")", "<", ">", "!", "*", "_", "`", "\\", "&", "#", ";", ":", "/", "|",
     '"', "'", "-", "=", "~", " ", "\n", "\n\n", "a", "1", "http://", "<!--", "-->", "> ",
     "    ", "```", "<a ", "<b>", "</b>", "[a]", "](", "x@y.z"]
)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(unit=st.lists(_MD_ALPHABET, min_size=1, max_size=8).map("".join))
def test_any_repeated_markup_stays_linear(unit: str) -> None:
    body = _repeat(unit)
    small = _preview_seconds(body(5_000))
    large = _preview_seconds(body(50_000))
    assert large < 10
    assert large < 25 * max(small, 0.4), (unit, small, large)


def _plain_markdown(text: str) -> str:
    md = markdown.Markdown(
        extensions=list(MARKDOWN_EXTENSIONS),
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )
    return md.convert(text)


ORDINARY = """# Vehicle ready

Hello **bold**, *em*, _u_, ***both***, `code`, ``a`b`` and \\`escaped\\`.

[link](https://x.example/wiki/A_(b)) ![logo](http://i.example/x.png "Logo") [ref][r]
[multi-line
link](https://x.example) [short] <b>bold</b> <!-- a note --> <https://auto.example>
<a@b.example> <a href="https://x.example" title="t">tag</a> a < b and c > d, [1] [x]

[r]: https://r.example "Title"
[short]: <https://s.example/a b>

```python
x = [1, 2]  # <not a tag> [nor a link
```

| a | b |
|:--|--:|
| [x](y) | `2` |

- a
    - b [c](d)
* * *
1. one
2. two

> quote with *em*
> > nested

****

____
"""


def test_ordinary_markdown_renders_exactly_as_before() -> None:
    restored = limits.restore_markdown_output(_plain_markdown(limits.markdown_input(ORDINARY)))
    assert restored == _plain_markdown(ORDINARY)


@settings(max_examples=200, deadline=None)
@given(text=st.lists(_MD_ALPHABET, max_size=30).map("".join))
def test_neutralised_text_shows_every_character_as_typed(text: str) -> None:
    inert = limits.markdown_input(text)
    shown = limits.restore_markdown_output(inert).replace("&lt;", "<")
    assert shown.replace("\n", "") == text.replace("\n", "")  # blank lines may be added


def test_inert_characters_are_shown_as_typed_not_as_markup() -> None:
    html = render(Template("t", "s", "see [the note and <b bold and `code"), {}).html
    assert "see [the note and &lt;b bold and `code" in html
    assert "<b" not in html.replace("<br", "")


def test_an_author_cannot_type_a_stand_in() -> None:
    stand_in = chr(limits.STAND_IN_BASE + ord("<"))
    result = render(Template("t", "s", f"x{stand_in}script>y {{{{ v }}}}"), {"v": stand_in})
    assert result.html == f"<p>xscript&gt;y {stand_in}</p>"  # a value stays verbatim


def test_a_body_over_max_markdown_chars_is_refused_naming_the_limit() -> None:
    body = "{% for i in range(40000) %}word word{% endfor %}"
    result = render_all(Template("t", "s", body), {})
    assert [p.kind for p in result.fatal] == ["refused"]
    assert "MAX_MARKDOWN_CHARS" in result.fatal[0].message
    # Values count as one character each, however long.
    ok = render_all(Template("t", "s", "{% for i in range(50000) %}{{ i }}{% endfor %}"), {})
    assert not ok.fatal


def test_removals_are_listed_up_to_a_bound() -> None:
    body = "".join(f"[x](javascript:alert({i}))\n\n" for i in range(2000))
    result = render_all(Template("t", "s", body), {})
    unsafe = [p for p in result.problems if p.kind == "unsafe"]
    assert len(unsafe) == 51
    assert unsafe[-1].message.startswith("and ") and "more removals" in unsafe[-1].message
    assert "javascript" not in result.html


def test_fenced_blocks_over_max_code_blocks_are_text() -> None:
    body = "```\ncode\n```\n\n" * (limits.MAX_CODE_BLOCKS + 5)
    html = render(Template("t", "s", body), {}).html
    assert html.count("<pre>") == limits.MAX_CODE_BLOCKS
    assert html.count("<code>") == limits.MAX_CODE_BLOCKS + 5


def test_a_heading_run_keeps_its_headings() -> None:
    html = render(Template("t", "s", "# a\ntext\n## b\n---\nmore\n"), {}).html
    assert html == "<h1>a</h1>\n<p>text</p>\n<h2>b</h2>\n<hr>\n<p>more</p>"
