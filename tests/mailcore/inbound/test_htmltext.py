"""html_to_text: HTML bodies as an operator would read them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.inbound.htmltext import html_to_text


def test_scripts_styles_head_and_comments_are_dropped() -> None:
    html = (
        "<html><head><title>T</title><style>p{color:red}</style></head><body>"
        "<script>alert('x')</script><!-- hidden comment --><p>Visible</p></body></html>"
    )
    assert html_to_text(html) == "Visible"


def test_blocks_are_lines_and_paragraphs_are_separated() -> None:
    html = "<div>Hello,</div><div><br></div><div>line one<br>line two</div><p>para</p><p>next</p>"
    assert html_to_text(html) == "Hello,\n\nline one\nline two\n\npara\n\nnext"


def test_nbsp_only_blocks_are_blank_lines() -> None:
    assert html_to_text("<div>a</div>\n<div>&nbsp;</div>\n<div>b</div>") == "a\n\nb"


def test_inline_whitespace_is_collapsed() -> None:
    assert html_to_text("<p>  many\n   spaces <b>and</b>\tbold </p>") == "many spaces and bold"


def test_links_keep_their_target() -> None:
    html = (
        '<p><a href="https://example.org/case/1">the case</a>, '
        '<a href="https://example.org">https://example.org</a>, '
        '<a href="mailto:desk@example.com">desk@example.com</a>, '
        '<a href="#top">top</a>, <a href="javascript:void(0)">js</a></p>'
    )
    assert html_to_text(html) == (
        "the case (https://example.org/case/1), https://example.org, desk@example.com, top, js"
    )


def test_lists_and_tables() -> None:
    html = (
        "<ul><li>one</li><li>two</li></ul>"
        "<table><tr><th>Part</th><th>State</th></tr><tr><td>Brakes</td><td>ok</td></tr></table>"
    )
    assert html_to_text(html) == "- one\n- two\n\nPart | State\nBrakes | ok"


def test_blockquotes_become_quote_marks() -> None:
    html = "<p>answer</p><blockquote><p>old</p><blockquote>older</blockquote></blockquote>"
    text = html_to_text(html)
    assert text.startswith("answer\n\n> old")
    assert "> > older" in text


def test_pre_keeps_spacing() -> None:
    assert html_to_text("<pre>a  b\n  c\n\nd</pre>") == "a  b\n  c\n\nd"


def test_hidden_elements_are_dropped() -> None:
    html = '<div style="display: none">preheader</div><div hidden>x</div><div>shown</div>'
    assert html_to_text(html) == "shown"


def test_image_alt_text_is_kept() -> None:
    assert html_to_text('<p>Photo: <img src="cid:x" alt="IMG_1.jpg"></p>') == "Photo: [IMG_1.jpg]"


def test_entities_are_decoded() -> None:
    assert html_to_text("<p>Caf&eacute; &amp; cr&egrave;me &lt;ok&gt;</p>") == "Café & crème <ok>"


def test_fragment_without_html_element() -> None:
    assert html_to_text("Plate: A-1<br>Owner: Bob") == "Plate: A-1\nOwner: Bob"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>/=\"' abpdivbrlitablequote&;#x\n"), max_size=300))
def test_never_raises_on_tag_soup(html: str) -> None:
    assert isinstance(html_to_text(html), str)


def test_a_row_of_fifty_thousand_cells_converts_in_linear_time() -> None:
    import time

    html = "<table><tr>" + "<td>x</td>" * 50_000 + "</tr></table>"
    start = time.perf_counter()
    text = html_to_text(html)
    assert time.perf_counter() - start < 10  # each cell joined the whole row before: minutes
    assert text.count("x") == 50_000


def test_deep_blockquotes_do_not_multiply_the_text() -> None:
    html = "<blockquote>" * 5000 + "<br>".join(["line"] * 2000) + "</blockquote>" * 5000
    text = html_to_text(html)
    assert len(text) < 200 * 2000  # a "> " per level on each line was 20 MB
