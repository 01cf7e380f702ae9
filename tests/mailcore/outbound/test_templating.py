"""Templates: sandbox, undefined and syntax reporting, and markup that never gets through."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailcore.errors import TemplateError
from mailcore.outbound import sanitize
from mailcore.outbound import template_limits as limits
from mailcore.outbound.templating import (
    LANGUAGE_TAG,
    Template,
    _compile,
    check,
    language_tag,
    parse_template_file,
    render,
    render_all,
)


class Elements(HTMLParser):
    """Every element and attribute of an HTML text, as a browser's parser would see them."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(html: str) -> None:
    """No element outside the allowlist, no event handler, no style, no unsafe URL."""
    found = Elements(html)
    assert set(found.tags) <= sanitize.ALLOWED_TAGS, set(found.tags) - sanitize.ALLOWED_TAGS
    for tag, name, value in found.attrs:
        assert not name.startswith("on"), (tag, name)
        assert name in sanitize.ALLOWED_ATTRIBUTES.get(tag, ()), (tag, name)
        if name in ("href", "src"):
            assert sanitize.is_safe_url(value), (tag, name, value)
            assert "javascript" not in value.lower().replace(" ", "")


HOSTILE_DATA = {
    "name": '<script>alert("name")</script>',
    "note": '<img src=x onerror="alert(1)"><a href="javascript:alert(2)">x</a>',
    "url": "javascript:alert(3)",
    "url2": " JaVaScRiPt:alert(4)",
    "md": "[click](javascript:alert(5)) ![p](http://tracker.example/p.gif) **bold**",
}

HOSTILE_TEMPLATE = Template(
    "hostile",
    "Hello {{ name }}",
    """# Hi {{ name }}

{{ note }}

[link]({{ url }}) [other]({{ url2 }}) <a href="{{ url }}">raw</a>

{{ md }}

<script>alert("template")</script>
<p onclick="alert(6)" onmouseover="alert(7)" style="color:red">styled</p>
<a href="javascript:alert(8)">bad</a> [bad md](javascript:alert(9))
<iframe src="https://evil.example"></iframe>
<svg onload="alert(10)"><circle/></svg>
<a href="java&#x09;script:alert(11)">entity</a>
""",
)


def test_hostile_data_and_template_produce_no_active_markup() -> None:
    result = render_all(HOSTILE_TEMPLATE, HOSTILE_DATA)
    assert_inert(result.html)
    # The values are shown as text, not interpreted.
    text = "".join(Elements(result.html).text)
    assert '<script>alert("name")</script>' in text
    assert "[click](javascript:alert(5))" in text
    # The text part is text/plain: values stay verbatim (they are data, shown as characters),
    # while the author's own markup is gone from it too.
    assert '<script>alert("name")</script>' in result.markdown
    for gone in ('alert("template")', "alert(6)", "alert(8)", "alert(9)", "alert(10)", "<iframe"):
        assert gone not in result.markdown, gone
    assert "styled" in result.markdown


def test_removed_markup_is_reported_as_unsafe_with_lines() -> None:
    result = render_all(HOSTILE_TEMPLATE, HOSTILE_DATA)
    unsafe = [p for p in result.problems if p.kind == "unsafe"]
    messages = " | ".join(p.message for p in unsafe)
    assert "<script> element removed" in messages
    assert "'onclick' attribute removed from <p>" in messages
    assert "'style' attribute removed" in messages
    assert "<iframe> element removed" in messages
    assert "javascript:alert(3)" in messages  # the user's URL, refused at its placeholder
    script = next(p for p in unsafe if p.message == "<script> element removed")
    assert script.line == 9
    user_link = next(p for p in unsafe if "alert(3)" in p.message)
    assert user_link.line == 5
    assert not result.fatal


def test_values_cannot_inject_markdown() -> None:
    t = Template("t", "s", "Dear {{ name }},\n\n{{ items }}\n")
    rendered = render(t, {"name": "**Boss** [x](https://phish.example)", "items": "# not a title"})
    found = Elements(rendered.html)
    assert "strong" not in found.tags and "a" not in found.tags and "h1" not in found.tags
    assert "**Boss** [x](https://phish.example)" in rendered.markdown  # verbatim in text


def test_user_link_with_safe_protocol_is_kept_and_escaped() -> None:
    t = Template("t", "s", '[site]({{ url }}) <a title="{{ t }}" href="{{ url }}">b</a>')
    rendered = render(t, {"url": 'https://a.example/?x=1&y="2"', "t": 'q"><script>'})
    assert_inert(rendered.html)
    hrefs = [v for tag, name, v in Elements(rendered.html).attrs if name == "href"]
    assert hrefs == ['https://a.example/?x=1&y="2"'] * 2
    assert ("a", "title", 'q"><script>') in Elements(rendered.html).attrs


SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{{ [].append(1) }}",
    "{{ 10 ** 100000 }}",
    "{{ 'x' * 100000000 }}",
    "{% for i in range(10000000) %}{% endfor %}",
    "{% for i in range(1000) %}{% for j in range(1000) %}xx{% endfor %}{% endfor %}",
]


@pytest.mark.parametrize("source", SANDBOX_ESCAPES)
def test_sandbox_escapes_are_refused(source: str) -> None:
    t = Template("t", "Subject", f"line one\n{source}\n")
    with pytest.raises(TemplateError) as caught:
        render(t, {})
    assert "refused" in str(caught.value)
    problems = render_all(t, {}).problems
    refused = [p for p in problems if p.kind == "refused"]
    assert refused, problems
    assert all(p.line in (2, None) for p in refused)
    assert refused[0].line == 2 or "range" in source or "*" in source


HEAVY_LOOPS = [
    # nested loops that print nothing: 10^10 steps without the budget
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    # a filter walking a range inside a loop
    "{% for a in range(100000) %}{{ range(100000)|join|length }}{% endfor %}",
    # a recursive loop re-entering itself with a range, then with the data
    "{% for x in range(3) recursive %}{% if loop.depth < 30 %}{{ loop(range(3)) }}{% endif %}"
    "{% endfor %}",
    "{% for x in items recursive %}{% if loop.depth < 30 %}{{ loop(items) }}{% endif %}"
    "{% endfor %}",
    # nested loops over the data: each is bounded by the data, together they are not
    "{% for a in big %}{% for b in big %}{% for c in big %}{% endfor %}{% endfor %}{% endfor %}",
]


@pytest.mark.parametrize("source", HEAVY_LOOPS)
def test_a_render_doing_too_much_work_is_refused_with_its_line(
    source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailcore.outbound import template_limits

    # The loop budget is under test: the CPU-time backstop must not answer first on a busy
    # machine (these renders take about 1 s of CPU before the budget stops them).
    monkeypatch.setattr(template_limits, "MAX_RENDER_SECONDS", 60.0)
    t = Template("t", "Subject", f"line one\n{source}\n")
    data = {"items": [1, 2, 3], "big": list(range(1000))}
    with pytest.raises(TemplateError, match="too much work"):
        render(t, data)
    refused = [p for p in render_all(t, data).problems if p.kind == "refused"]
    assert [p.line for p in refused] == [2]
    assert "over 101,005 loop iterations; simplify the loops" in refused[0].message


def test_the_loop_budget_spans_subject_and_body_and_resets_per_render() -> None:
    half = "{% for a in range(300) %}{% for b in range(200) %}{% endfor %}{% endfor %}"
    assert render(Template("t", "s", half), {}).markdown == ""  # 60,300 steps
    assert render(Template("t", "s", half), {}).markdown == ""  # a new render, a new budget
    with pytest.raises(TemplateError, match="too much work"):
        render(Template("t", half, half), {})


def test_walking_large_data_fits_the_budget_and_range_still_behaves_like_range() -> None:
    rows = [{"n": i} for i in range(150_000)]
    body = (
        "{% for r in rows %}{% endfor %}{{ rows|length }} {{ range(5)|length }}"
        " {{ range(5)[2] }} {{ 3 in range(5) }} {{ range(3)|list }} {{ range(3)|last }}"
        " {{ range(4)|reverse|join }} {% for i in range(3) %}{{ loop.index }}/{{ loop.length }}"
        "{% if loop.last %}!{% endif %} {% endfor %}"
    )
    out = render(Template("t", "s", body), {"rows": rows}).markdown
    assert out == "150000 5 2 True [0, 1, 2] 2 3210 1/3 2/3 3/3! "


def test_refusal_is_reported_again_when_the_template_is_cached() -> None:
    t = Template("t", "s", "{{ ''.__class__ }}")
    first = render_all(t, {}).problems
    second = render_all(t, {}).problems
    assert first == second and first[0].kind == "refused"


def test_every_undefined_placeholder_is_reported_by_name_and_line() -> None:
    t = Template(
        "t",
        "About {{ plate }} for {{ ownr }}",
        "Dear {{ owner.nmae }},\n{{ plate }}\n"
        "{% for l in lines %}{{ l.price }} {{ l.qty }}{% endfor %}\n"
        "{{ missing_total + 1 }} {{ other|upper }}\n{% if flag %}x{% endif %}\n",
    )
    data = {"plate": "AB", "owner": {"name": "Ada"}, "lines": [{"price": 1}]}
    with pytest.raises(TemplateError) as caught:
        render(t, data)
    assert caught.value.names == [
        "ownr",
        "owner.nmae",
        "lines[].qty",
        "missing_total",
        "other",
        "flag",
    ]
    problems = {p.message: (p.line, p.source) for p in render_all(t, data).problems}
    assert problems["undefined placeholder {{ ownr }}"] == (1, "subject")
    assert problems["undefined placeholder {{ owner.nmae }}"] == (1, "body")
    assert problems["undefined placeholder {{ lines[].qty }}"] == (3, "body")
    assert problems["undefined placeholder {{ flag }}"] == (5, "body")


def test_default_filter_and_defined_test_do_not_count_as_undefined() -> None:
    t = Template("t", "s", "{{ nick|default('friend') }}{% if x is defined %}{{ x }}{% endif %}")
    assert render(t, {}).markdown == "friend"


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("ok\nok\n{{ name \n", 3),
        ("ok\n{% if x %}\nnever closed\n", 3),
        ("{% for %}", 1),
        ("a\nb\nc\n{{ x | }}", 4),
    ],
)
def test_syntax_errors_carry_their_line(body: str, line: int) -> None:
    t = Template("t", "s", body)
    with pytest.raises(TemplateError) as caught:
        render(t, {"x": 1, "name": 2})
    assert caught.value.line == line
    assert [p.kind for p in check(t)] == ["syntax"]


def test_compiled_templates_are_cached_by_source() -> None:
    t = Template("t", "s {{ a }}", "unique body for cache test {{ a }}")
    render(t, {"a": 1})
    hits = _compile.cache_info().hits
    render(Template("other name", t.subject, t.body), {"a": 2})
    assert _compile.cache_info().hits == hits + 2


def test_macros_are_inserted_as_text() -> None:
    t = Template("t", "s", "{% macro b(x) %}**{{ x }}**{% endmacro %}{{ b(v) }}")
    rendered = render(t, {"v": "<i>v</i>"})
    assert "**<i>v</i>**" in "".join(Elements(rendered.html).text)
    assert_inert(rendered.html)


def test_template_file_subject_and_body_line() -> None:
    template, body_line = parse_template_file("Subject: Hi {{ a }}\n\nBody\n", "x")
    assert (template.subject, template.body, body_line) == ("Hi {{ a }}", "Body\n", 3)
    assert parse_template_file("# just a body\n", "y")[0].subject == ""
    with pytest.raises(TemplateError):
        parse_template_file("Subject: a\nDear x\n", "z")


@settings(max_examples=150, deadline=None)
@given(value=st.text())
def test_any_value_is_shown_verbatim_and_never_becomes_markup(value: str) -> None:
    t = Template("t", "{{ v }}", "Value: {{ v }}\n\n[x]({{ v }})\n")
    result = render_all(t, {"v": value})
    found = Elements(result.html)
    assert set(found.tags) <= {"p", "br", "a"}
    assert_inert(result.html)
    clean = value.replace("\ue000", "").replace("\ue001", "")
    if clean.strip() and "\r" not in clean and "\x00" not in clean:
        assert " ".join(clean.split()) in " ".join("".join(found.text).split())
    assert "\n" not in result.subject


@pytest.mark.parametrize(
    "body",
    ["{{ v|safe }}", "{{ [v, v]|join(', ') }}", "{{ v|e }}", "{{ v|urlize }}", "{{ v|tojson }}"],
)
def test_filters_cannot_turn_values_into_markup(body: str) -> None:
    rendered = render(Template("t", "s", body), {"v": "<script>x()</script>[a](javascript:y)"})
    assert_inert(rendered.html)
    assert "script" not in Elements(rendered.html).tags
    assert "a" not in Elements(rendered.html).tags


# --- the rendering bug and the resource limits (hostile templates) --------------------------


def test_a_constant_output_is_its_own_value_not_another_placeholders() -> None:
    # _finalize used to bake a marker index at compile time: "Hello Ada Ada", IndexError.
    t = Template("t", "{{ 'Re:' }} {{ name }}", "Hello {{ name }} {{ 'x' }} {{ 1 + 2 }}\n")
    rendered = render(t, {"name": "Ada"})
    assert rendered.subject == "Re: Ada"
    assert rendered.markdown == "Hello Ada x 3\n"
    assert render(Template("t", "s", "{{ 1 + 2 }}"), {}).markdown == "3"
    # A constant is inserted as text like any value, never as markup.
    html = render(Template("t", "s", "{{ '<b>x</b>' }}"), {}).html
    assert "<b>" not in html and "&lt;b&gt;" in html


# Each builds over MAX_RENDER_WORK (4,000,000) in one step: old main rendered them "cleanly"
# (at 10**9 they took a preview to 1 GB); now they are refused before anything is built.
HOSTILE_BUILDS = [
    "{{ 'a'.ljust(5000000)|length }}",
    "{{ 'a'.rjust(5000000)|length }}",
    "{{ 'a'.center(5000000)|length }}",
    "{{ 'a'|center(5000000)|length }}",
    "{{ 'a'.zfill(5000000)|length }}",
    "{{ '\\t'.expandtabs(5000000)|length }}",
    "{{ 'x'.encode().ljust(5000000)|length }}",
    "{{ '{:>5000000}'.format(1)|length }}",
    "{{ '{0:{1}}'.format('a', 5000000)|length }}",
    "{{ '{:.5000000f}'.format(1.5)|length }}",
    "{{ '{!r}'.format(['a' * 100000] * 50)|length }}",
    "{{ ('%*d' % (5000000, 1))|length }}",
    "{{ ('%.*f' % (5000000, 1.0))|length }}",
    "{{ ('%(a(b)c)5000000s' % {'a(b)c': 1})|length }}",
    "{{ '%5000000s'|format(1)|length }}",
    "{{ ('a' * 5000000)|length }}",
    "{{ ([1] * 5000000)|length }}",
    "{{ (['x' * 100000] * 50)|length }}{{ ['x' * 100000] * 50 }}",
    "{% set a = 'x' * 1000000 %}{{ (a ~ a ~ a ~ a ~ a)|length }}",
    "{% set a = 'x' * 1000000 %}{{ (a + a + a + a + a)|length }}",
    "{{ ('aaaaaaaaaa'|replace('a', 'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa')"
    "|replace('a', 'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa')|replace('a', 'aaaaaaaaaa')"
    "|replace('a', 'aaaaaaaaaa'))|length }}",
    "{{ 'aaaaaaaaaa'.replace('a', 'a' * 1000).replace('a', 'a' * 1000)|length }}",
    "{{ ('a' * 10).translate({97: 'x' * 1000000})|length }}",
    "{{ ('\\n' * 1000)|indent(10000, blank=true)|length }}",
    "{{ ('x ' * 1000)|wordwrap(1, wrapstring='y' * 10000)|length }}",
    "{{ (['x' * 1000] * 1000)|join('y' * 10000)|length }}",
    "{{ ('x' * 1000000)|e|e|length }}",
    "{{ [[[1]]]|tojson(indent=5000000)|length }}",
    "{{ ([1] * 1000)|batch(5000000, 0)|list|length }}",
    "{{ [1]|slice(5000000)|list|length }}",
    "{{ ([[1] * 1000] * 5000)|sum(start=[])|length }}",
    "{{ (1).to_bytes(5000000, 'big')|length }}",
    "{{ lipsum(20000)|length }}",
    "{{ lipsum(1, max=1000000000)|length }}",
    "{{ (10 ** (10 ** 8))|string|length }}",
    "{{ (2 ** 99999999)|string|length }}",
    "{{ ((2 ** 2000) * (2 ** 2000) * (2 ** 2000))|string|length }}",
    "{{ 5|round(-100000000) }}",
    "{{ 5.5|round(100000000, 'floor') }}",
    "{{ x|pprint }}",
    # nested filters over a loop: each step is small, together they are not
    "{% for i in range(1000) %}{{ ('x' * 10000)|center(10000)|length }}{% endfor %}",
]


@pytest.mark.parametrize("source", HOSTILE_BUILDS)
def test_a_template_building_too_much_is_refused_before_building_it(source: str) -> None:
    t = Template("t", "Subject", f"line one\n{source}\n")
    with pytest.raises(TemplateError, match="refused"):
        render(t, {"x": 1})
    [refused] = [p for p in render_all(t, {"x": 1}).problems if p.kind == "refused"]
    assert refused.line == 2
    limits_named = ("MAX_RENDER_WORK", "MAX_INT_BITS", "MAX_LIPSUM_WORDS", "not available")
    assert any(name in refused.message for name in limits_named), refused.message


def test_recursive_macros_are_charged_to_the_loop_budget() -> None:
    body = (
        "line one\n{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
        "{% endmacro %}{{ f(40) }}\n"
    )
    with pytest.raises(TemplateError, match="too much work: over 100,000 loop iterations"):
        render(Template("t", "s", body), {})


def test_a_render_over_its_cpu_time_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Work that builds nothing (comparing two big strings over and over) meets the CPU limit;
    # lowered here so the test stays cheap.
    monkeypatch.setattr(limits, "MAX_RENDER_SECONDS", 0.2)
    body = (
        "{% set a = 'x' * 1000000 %}{% set b = 'x' * 1000000 %}\n"
        "{% for i in range(100000) %}{% if a == b %}{% endif %}{% endfor %}\n"
    )
    with pytest.raises(TemplateError, match="MAX_RENDER_SECONDS"):
        render(Template("t", "s", body), {})


def test_ordinary_templates_stay_far_below_the_limits() -> None:
    rows = [{"name": f"item {i}", "price": i * 1.5} for i in range(2000)]
    body = (
        "{% for r in rows %}- {{ r.name|title }}: {{ '%.2f'|format(r.price) }}"
        " {{ '{:>8}'.format(r.name) }} {{ r.name.ljust(12) ~ '|' }}\n{% endfor %}"
        "{{ rows|map(attribute='name')|join(', ')|truncate(50) }} {{ lipsum(2)|length > 0 }}"
        " {{ (rows|map(attribute='price')|sum)|round(1) }} {{ 2 ** 64 }}"
    )
    out = render(Template("t", "s", body), {"rows": rows}).markdown
    assert "- Item 1999: 2998.50 item 1999 item 1999   |\n" in out
    assert "- Item 7: 10.50   item 7 item 7      |\n" in out
    assert out.endswith("True 2998500.0 18446744073709551616")
    # A value as large as the output limit still fits: the data's text raises the budget.
    big = "y" * 900_000
    assert render(Template("t", "s", "{{ big }}{{ big|length }}"), {"big": big}).markdown == (
        big + "900000"
    )
    # Values count towards the output, their markers do not.
    numbers = render(Template("t", "s", "{% for i in range(100000) %}{{ i }}{% endfor %}"), {})
    assert len(numbers.markdown) == 488_890


_SIZE = st.sampled_from([0, 1, 7, 1000, 100_000, 1_000_000, 3_999_999, 5_000_000, 10**9])
_STEP = st.one_of(
    st.tuples(st.just("({}).ljust({})"), _SIZE),
    st.tuples(st.just("({}).center({})"), _SIZE),
    st.tuples(st.just("({}).zfill({})"), _SIZE),
    st.tuples(st.just("({}).expandtabs({})"), _SIZE),
    st.tuples(st.just("({})|center({})"), _SIZE),
    st.tuples(st.just("({})|indent({}, true, true)"), _SIZE),
    st.tuples(st.just("({}) * {}"), _SIZE),
    st.tuples(st.just("[{}] * {}"), _SIZE),
    st.tuples(st.just("'{{:>{1}}}'.format({0})"), _SIZE),
    st.tuples(st.just("'%*s' % ({1}, {0})"), _SIZE),
    st.tuples(st.just("({0}).replace('a', 'a' * {1})"), st.sampled_from([0, 2, 100, 10_000])),
    st.tuples(st.just("({0})|replace('\\t', 'a' * {1})"), st.sampled_from([0, 2, 100, 10_000])),
    st.tuples(st.just("({0}) ~ ({0})"), st.just(0)),
    st.tuples(st.just("({0}) + ({0})"), st.just(0)),
    st.tuples(st.just("[{0}, {0}]|join({0})"), st.just(0)),
    st.tuples(st.just("({0})|wordwrap(3)"), st.just(0)),
    st.tuples(st.just("({0})|e"), st.just(0)),
    st.tuples(st.just("({0})|tojson({1})"), st.sampled_from([0, 2, 1000])),
    st.tuples(st.just("lipsum({1})"), st.sampled_from([1, 5, 1000])),
    st.tuples(st.just("(({0})|length) ** {1}"), _SIZE),
    st.tuples(st.just("(({0})|length) * (({0})|length) * {1}"), _SIZE),
)


@settings(max_examples=80, deadline=None)
@given(steps=st.lists(_STEP, min_size=1, max_size=6), loop=st.booleans())
def test_any_composition_of_building_operations_renders_or_is_refused(
    steps: list[tuple[str, int]], loop: bool
) -> None:
    expr = "'a\\tb<'"
    for pattern, size in steps:
        expr = f"({pattern.format(expr, size)})|string"  # every step works on a string
    body = f"{{{{ ({expr})|string|length }}}}"
    if loop:
        body = f"{{% for i in range(50) %}}{body}{{% endfor %}}"
    result = render_all(Template("t", "s", body), {})
    fatal = result.fatal
    assert all(p.kind == "refused" for p in fatal), fatal  # never MemoryError or another error
    if not fatal:
        assert result.markdown.isdigit()


# --- variants per language ----------------------------------------------------------------


def _greeting() -> Template:
    return Template(
        "ready",
        "Vehicle {{ plate }} is ready",
        "Dear {{ name }}",
        variants={"fr": ("Le véhicule {{ plate }} est prêt", "Bonjour {{ name }}")},
    )


def test_the_recipients_language_picks_the_variant_with_a_fallback_to_the_default() -> None:
    from mailcore.outbound.compose import compose

    data = {"plate": "AB-123", "name": "Zoë"}
    cases = [({"language": "fr"}, "fr"), ({"locale": "fr_CA"}, "fr"), ({"language": "de"}, "")]
    for extra, expected in cases + [({}, ""), ({"language": "<script>"}, "")]:
        chosen = _greeting().for_data({**data, **extra})
        assert chosen.language == expected, extra
        rendered = render(chosen, {**data, **extra})
        assert rendered.subject.startswith("Le véhicule" if expected else "Vehicle"), extra
    partner = _greeting().for_data({**data, "language": "en"}, language="FR")  # partner wins
    assert partner.language == "fr"
    msg = compose(_greeting(), {**data, "language": "fr"}, "p@example.com", "VEH-1", sender="a@b.c")
    assert "Le véhicule AB-123 est prêt" in str(msg["Subject"])
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
    assert '<html lang="fr"' in html
    assert "Ce message a été envoyé automatiquement" in html  # the layout's footer follows


@given(st.text(max_size=40))
def test_language_tag_accepts_only_tags(value: str) -> None:
    tag = language_tag(value)
    assert tag is None or (LANGUAGE_TAG.match(tag) and tag == tag.lower())


@given(
    st.dictionaries(st.sampled_from(["fr", "de", "pt-br", "en"]), st.just(("s", "b")), max_size=4),
    st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["FR", "fr_CA", "pt-BR", "de-at"])),
)
def test_a_variant_is_chosen_only_for_its_language_or_its_primary_one(
    variants: dict[str, tuple[str, str]], wanted: str | None
) -> None:
    chosen = Template("t", "default", "body", variants=variants).for_language(wanted)
    tag = language_tag(wanted)
    if chosen.language:
        assert tag is not None and chosen.language in (tag, tag.split("-")[0])
        assert (chosen.subject, chosen.body) == variants[chosen.language]
    else:
        assert chosen.subject == "default"
        assert tag is None or (tag not in variants and tag.split("-")[0] not in variants)
