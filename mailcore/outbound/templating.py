"""User-written mail templates: a subject and a Markdown body with ``{{ placeholders }}``.

Rendering runs in Jinja's immutable sandbox: attribute tricks such as
``{{ ''.__class__.__mro__ }}`` or ``{{ cycler.__init__.__globals__ }}`` are refused, huge
``*``/``**`` results and over-long output are refused too, and so is a render doing more than
`MAX_LOOP_ITERATIONS` loop steps (plus one per item of the data, so walking the data always
fits): nested ``range()`` loops that print nothing would otherwise hold a worker for hours.
Every undefined placeholder is collected (with its dotted path and line) instead of stopping
at the first one.

Values never become markup: each ``{{ ... }}`` output is replaced by an inert marker while the
template runs, Markdown and the HTML allowlist of `mailcore.outbound.sanitize` apply to the author's
text only, and the values are put back afterwards -- HTML-escaped in the HTML (URLs checked
against the allowed protocols), verbatim in the text part. Macro output inserted with
``{{ macro() }}`` is a value like any other, so it is shown as text, not as Markdown.

Compiled templates and the Markdown+cleaning of a rendered body are cached by source, so a
preview on every keystroke and bulk sending of one template are both cheap.
"""

from __future__ import annotations

import bisect
import contextvars
import html as _html
import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import TracebackType
from typing import Any

import markdown
from jinja2 import Template as JinjaTemplate
from jinja2 import TemplateSyntaxError, Undefined, pass_eval_context
from jinja2 import nodes as jnodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import BlockReference, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from jinja2.utils import missing
from markupsafe import Markup

from mailcore.errors import TemplateError
from mailcore.outbound import markdown_limits, sanitize
from mailcore.outbound import template_filters as filters
from mailcore.outbound import template_limits as limits
from mailcore.outbound.template_limits import Budget

log = logging.getLogger(__name__)

MAX_OUTPUT = 1_000_000  # characters a render may produce, values included
MAX_LOOP_ITERATIONS = 100_000  # loop steps of one render, on top of one per data item
MARKDOWN_EXTENSIONS = ("tables", "fenced_code", "sane_lists")
MAX_REPORTED_REMOVALS = 50  # removals listed one by one; the rest are counted in one line

# Private-use code points stand for values while Markdown and cleaning run; they are
# removed from templates and values beforehand so nobody can forge one.
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARK = re.compile(f"{_OPEN}(\\d+){_CLOSE}")
_FORGED = re.compile(f"[{_OPEN}{_CLOSE}]")
# A template's text also loses the stand-ins of `markdown_limits.markdown_input` (values keep
# them: they are markers while Markdown runs, and put back after the stand-ins are restored).
_FORGED_SOURCE = re.compile(f"[{_OPEN}{_CLOSE}\ue100-\ue17f]")


@dataclass(frozen=True)
class Problem:
    """Something wrong with a template. `line` is 1-based in `source` ("subject" or "body")."""

    line: int | None
    message: str
    kind: str  # "syntax" | "undefined" | "unsafe" | "refused"
    source: str = "body"


@dataclass
class Template:
    """A user-editable template: the subject and the Markdown body both take placeholders."""

    name: str
    subject: str
    body: str


@dataclass
class Rendered:
    """A rendered template: `markdown` is the text part, `html` the sanitized body fragment."""

    subject: str
    markdown: str
    html: str
    problems: list[Problem] = field(default_factory=list)  # only "unsafe" ones


@dataclass
class RenderResult:
    """Everything rendering produced, problems included; what `preview` builds on."""

    subject: str
    markdown: str
    html: str
    problems: list[Problem]

    @property
    def fatal(self) -> list[Problem]:
        return [p for p in self.problems if p.kind != "unsafe"]


# --- the sandbox ------------------------------------------------------------------------


@dataclass
class _State:
    """What one render collects; held in a ContextVar so threads do not mix."""

    values: list[str] = field(default_factory=list)
    value_lines: list[int | None] = field(default_factory=list)
    where: str = "body"  # which source is running: "subject" or "body"
    undefined: dict[tuple[str, str], int | None] = field(default_factory=dict)
    refused: dict[tuple[str, str], int | None] = field(default_factory=dict)
    iterations: int = 0  # loop steps and macro calls so far, subject and body together
    budget: int = MAX_LOOP_ITERATIONS  # raised by the number of items in the data
    work: Budget = field(default_factory=Budget)  # what may be built; raised by the data's text
    output: int = 0  # characters produced so far, values included


_STATE: contextvars.ContextVar[_State | None] = contextvars.ContextVar("mc_state", default=None)


def _template_line() -> int | None:
    """The template line being executed, from the innermost template frame on the stack."""
    frame = sys._getframe(2)
    while frame is not None:
        tmpl = frame.f_globals.get("__jinja_template__")
        if tmpl is not None:
            return int(tmpl.get_corresponding_lineno(frame.f_lineno))
        # Constant folding while compiling: the node being evaluated knows its line.
        for name in ("self", "child", "node"):
            node = frame.f_locals.get(name)
            if isinstance(node, jnodes.Node) and getattr(node, "lineno", None):
                return int(node.lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return None


class _PathDict(dict[str, Any]):
    """A data mapping that knows its dotted path, so undefined keys are named in full."""

    __slots__ = ("_mc_path",)
    _mc_path: str


def _wrap(value: Any, path: str, state: _State) -> Any:
    """Data as the template sees it; every entry and item adds one step to the loop budget."""
    if isinstance(value, Mapping):
        state.budget += len(value)
        wrapped = _PathDict(
            (str(k), _wrap(v, f"{path}.{k}" if path else str(k), state)) for k, v in value.items()
        )
        wrapped._mc_path = path
        return wrapped
    if isinstance(value, list | tuple):
        state.budget += len(value)
        return [_wrap(v, f"{path}[]", state) for v in value]
    if isinstance(value, str):
        state.work.limit += len(value)  # showing the data (once) always fits
    return value


# --- the loop budget ------------------------------------------------------------------------


_TooMuchWork = limits.TooMuchWork


def _step(state: _State) -> None:
    """One loop step or macro call, charged to the loop budget (and the CPU time, now and
    then: reading the clock on every step would cost more than most steps)."""
    state.iterations += 1
    if state.iterations > state.budget:
        raise _TooMuchWork(
            f"template does too much work: over {state.budget:,} loop iterations;"
            " simplify the loops"
        )
    if not state.iterations & 31:
        state.work.tick()


class _Counted:
    """An iterator charging each step to the render's loop budget."""

    __slots__ = ("_it", "_state")

    def __init__(self, iterable: Any, state: _State) -> None:
        self._it = iter(iterable)
        self._state = state

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> Any:
        item = next(self._it)
        _step(self._state)
        return item


class _Range:
    """The sandbox's ``range()``: a real range (len, indexing, ``in``) whose iteration is
    charged to the loop budget, so ``range(n)|join`` inside a loop is counted too."""

    __slots__ = ("_range",)

    def __init__(self, *args: int) -> None:
        self._range = safe_range(*args)  # OverflowError past the sandbox's MAX_RANGE

    def __iter__(self) -> Any:
        state = _STATE.get()
        return iter(self._range) if state is None else _Counted(self._range, state)

    def __reversed__(self) -> Any:
        state = _STATE.get()
        backwards = reversed(self._range)
        return backwards if state is None else _Counted(backwards, state)

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: Any) -> Any:
        return self._range[index]

    def __contains__(self, item: object) -> bool:
        return item in self._range

    def __repr__(self) -> str:
        return repr(self._range)


def _budgeted(iterable: Any) -> Any:
    """What a ``{% for %}`` loop iterates: `iterable`, each step charged to the budget."""
    state = _STATE.get()
    if state is None or isinstance(iterable, _Counted | _Range):
        return iterable  # outside a render (constant folding), or already charged
    return _Counted(iterable, state)


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, with every ``{% for %}`` iterating through `_budgeted`."""

    def visit_Concat(self, node: jnodes.Concat, frame: Frame) -> None:
        # ``a ~ b`` is measured before it is joined, like every other string operation.
        self.write("environment.mc_concat(context.eval_ctx, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Template(self, node: jnodes.Template, frame: Frame | None = None) -> None:
        # Before any code is written: the filters a template uses are collected up front.
        for loop in node.find_all(jnodes.For):
            loop.iter = jnodes.Filter(loop.iter, _BUDGET_FILTER, [], [], None, None)
            loop.iter.set_lineno(loop.lineno)
        super().visit_Template(node, frame)


_BUDGET_FILTER = "_mc_loop_budget"  # harmless if a template names it: it only counts more


class _CollectingUndefined(Undefined):
    """Records its name (or the refusal it stands for) and renders as nothing."""

    __slots__ = ()

    def _record(self) -> None:
        state = _STATE.get()
        if state is None:
            return
        if self._undefined_exception is SecurityError:
            state.refused.setdefault((state.where, str(self._undefined_hint)), _template_line())
            return
        name = self._undefined_name or "?"
        obj = self._undefined_obj
        if isinstance(obj, _PathDict):
            name = f"{obj._mc_path}.{name}" if obj._mc_path else name
        elif obj is not missing and obj is not None:
            # An attribute of something that is not data (a loop variable, a string...).
            name = f"{type(obj).__name__}.{name}"
        state.undefined.setdefault((state.where, name), _template_line())

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        self._record()
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = _fail_with_undefined_error
    __mul__ = __rmul__ = __div__ = __rdiv__ = _fail_with_undefined_error
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _fail_with_undefined_error
    __mod__ = __rmod__ = __pos__ = __neg__ = __call__ = _fail_with_undefined_error
    __getitem__ = __lt__ = __le__ = __gt__ = __ge__ = _fail_with_undefined_error
    __int__ = __float__ = __complex__ = __pow__ = __rpow__ = _fail_with_undefined_error

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return self._fail_with_undefined_error()

    def __str__(self) -> str:
        self._record()
        return ""

    def __iter__(self) -> Iterator[Any]:
        self._record()
        return iter(())

    def __bool__(self) -> bool:
        self._record()
        return False

    def __len__(self) -> int:
        self._record()
        return 0

    def __eq__(self, other: object) -> bool:
        self._record()
        return type(self) is type(other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return id(type(self))


@pass_eval_context  # needing a context keeps Jinja from finalizing constants at compile time
def _finalize(eval_ctx: Any, value: Any) -> str:
    """Turn each ``{{ }}`` output into a marker; the value is kept aside."""
    if isinstance(value, Undefined):
        return str(value)
    if value is None:
        return ""
    state = _STATE.get()
    work = state.work if state is not None else limits.current()
    if not isinstance(value, str):
        work.need(limits.shown_size(value, work.left), "showing this value")
    text = value if isinstance(value, str) else str(value)
    if state is None:  # outside a render
        return _FORGED.sub("", text)
    if _OPEN in text:  # e.g. macro output: resolve the values it already holds
        held = [int(i) for i in _MARK.findall(text)]
        work.need(len(text) + sum(len(state.values[i]) for i in held), "showing this value")
        text = _MARK.sub(lambda m: state.values[int(m[1])], text)
    work.charge(len(text), "showing this value")
    state.output += len(text)
    if state.output > MAX_OUTPUT:
        raise _TooMuchWork(
            f"the template produces more than {MAX_OUTPUT:,} characters (MAX_OUTPUT)"
        )
    frame = sys._getframe(1)
    tmpl = frame.f_globals.get("__jinja_template__")
    state.value_lines.append(tmpl.get_corresponding_lineno(frame.f_lineno) if tmpl else None)
    state.values.append(text)
    return f"{_OPEN}{len(state.values) - 1}{_CLOSE}"


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus the limits of `mailcore.outbound.template_limits` on every
    operator, call, filter, format and concatenation so a template cannot eat memory, and the loop
    budget so it cannot eat time."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    code_generator_class = _CodeGenerator

    def call(
        __self,  # noqa: N805 -- Jinja's own signature: keyword arguments may be named `self`
        __context: Any,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if isinstance(__obj, LoopContext) and args:
            # ``loop(children)`` in a recursive loop iterates without the For node's filter.
            args = (_budgeted(args[0]), *args[1:])
        state = _STATE.get()
        work = state.work if state is not None else limits.current()
        if state is not None and isinstance(__obj, Macro | BlockReference):
            _step(state)  # a macro calling itself twice doubles the work at each level
        args = limits.prepare_call(__obj, args, kwargs, work)
        result = super().call(__context, __obj, *args, **kwargs)
        work.charge(limits.built_size(result), "this call")
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        work = limits.current()
        limits.check_binop(operator, left, right, work)
        result = self.binop_table[operator](left, right)
        work.charge(limits.built_size(result), f"the {operator} operator")
        return result

    def mc_concat(self, eval_ctx: Any, items: tuple[Any, ...]) -> str:
        """``a ~ b ~ c``, refused before joining if it would be over the budget."""
        work = limits.current()
        escaped = bool(eval_ctx.autoescape)
        work.need(limits.concat_size(items, escaped, work), "the ~ operator")
        result: str = markup_join(items) if escaped else str_join(items)
        work.charge(len(result), "the ~ operator")
        return result

    def wrap_str_format(self, value: Any) -> Any:
        """Jinja's sandboxed ``str.format``/``format_map``, each field measured first."""
        if super().wrap_str_format(value) is None:
            return None
        f_self: str = value.__self__
        formatter: filters.BudgetFormatter
        if isinstance(f_self, Markup):
            formatter = filters.BudgetEscapeFormatter(self, escape=f_self.escape)
        else:
            formatter = filters.BudgetFormatter(self)
        is_map = value.__name__ == "format_map"

        def format_(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return type(f_self)(formatter.vformat(f_self, args, kwargs))

        format_.__name__ = value.__name__
        return format_


_ENV = _Sandbox(
    undefined=_CollectingUndefined,
    # No constant folding: it would evaluate (and hide) refused attributes at compile time.
    optimized=False,
    finalize=_finalize,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals["range"] = _Range
_ENV.globals["lipsum"] = filters.lipsum
_ENV.filters.update(filters.limited_filters(_ENV.filters))
_ENV.filters[_BUDGET_FILTER] = _budgeted


@lru_cache(maxsize=512)
def _compile(source: str) -> JinjaTemplate:
    """The compiled template. Nothing of it runs at compile time (no constant folding), so
    every render meets the same refusals and limits."""
    return _ENV.from_string(_FORGED_SOURCE.sub("", source))


# --- Markdown -> clean HTML ---------------------------------------------------------------


class _Converters(threading.local):
    def __init__(self) -> None:
        self.md = markdown.Markdown(
            extensions=list(MARKDOWN_EXTENSIONS),
            extension_configs={"tables": {"use_align_attribute": True}},
            output_format="html",
        )


_converters = _Converters()


@lru_cache(maxsize=1024)
def _markdown_html(marked: str) -> tuple[str, tuple[str, ...]]:
    """Markdown of the author's text (values are markers) to allowlisted HTML, and removals."""
    md = _converters.md
    md.reset()
    converted = md.convert(markdown_limits.markdown_input(marked))
    cleaned, removed = sanitize.clean_html(markdown_limits.restore_markdown_output(converted))
    return cleaned, tuple(removed)


# In clean HTML (bleach's serializer) every attribute is name="value" or name='value', and
# text holds no "<": a tag is everything from "<" to the next ">", and scanning it attribute
# by attribute never starts inside a value (the old one-regex scan was quadratic on a long
# word or run of spaces).
_TAG_WITH_VALUE = re.compile(f"<[^<>{_OPEN}]*+{_OPEN}[^<>]*+>")
_ATTR = re.compile(r"""(\s++)([^\s=<>/"']++)=(?:"([^"]*+)"|'([^']*+)')""")
_PRE = re.compile(r"<pre\b.*?(?:</pre>|\Z)", re.DOTALL | re.IGNORECASE)


def _fill_html(marked_html: str, state: _State, problems: list[Problem]) -> str:
    """Put the values back into clean HTML: escaped, and URLs checked."""
    values = state.values

    def attribute(m: re.Match[str]) -> str:
        space, name, raw = m[1], m[2], m[3] if m[3] is not None else m[4]
        if _OPEN not in raw:
            return m[0]
        value = _MARK.sub(lambda v: values[int(v[1])], _html.unescape(raw))
        if name.lower() in sanitize.URL_ATTRIBUTES and not sanitize.is_safe_url(value):
            first = _MARK.search(raw)
            line = state.value_lines[int(first[1])] if first else None
            problems.append(Problem(line, f"unsafe link {value[:40]!r} removed", "unsafe"))
            return ""
        return f'{space}{name}="{sanitize.escape(value)}"'

    filled = _TAG_WITH_VALUE.sub(lambda t: _ATTR.sub(attribute, t[0]), marked_html)
    pre_starts, pre_ends = [], []
    for m in _PRE.finditer(filled):
        pre_starts.append(m.start())
        pre_ends.append(m.end())

    def in_pre(pos: int) -> bool:
        index = bisect.bisect_right(pre_starts, pos) - 1
        return index >= 0 and pos < pre_ends[index]

    def text(m: re.Match[str]) -> str:
        escaped = sanitize.escape(values[int(m[1])])
        if "\n" in escaped and not in_pre(m.start()):
            escaped = escaped.replace("\n", "<br>\n")
        return escaped

    return _MARK.sub(text, filled)


def _markdown_size(marked: str) -> int:
    """What MAX_MARKDOWN_CHARS measures: the author's text, each value counting as one."""
    return len(marked) - sum(len(m[0]) - 1 for m in _MARK.finditer(marked))


def _fill_text(marked: str, state: _State) -> str:
    return _MARK.sub(lambda m: state.values[int(m[1])], marked)


# --- rendering ------------------------------------------------------------------------------


def _error_line(exc: BaseException) -> int | None:
    """The template line of an exception raised while rendering (Jinja rewrites tracebacks)."""
    line = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _run(source: str, data: Mapping[str, Any], where: str, problems: list[Problem]) -> str | None:
    """Render one template source to marked text; None when it could not run."""
    try:
        tmpl = _compile(source)
    except TemplateSyntaxError as exc:
        problems.append(Problem(exc.lineno, f"syntax error: {exc.message}", "syntax", where))
        return None
    state = _STATE.get()
    work = state.work if state is not None else limits.current()
    out: list[str] = []
    try:
        for chunk in tmpl.generate(data):
            work.charge(len(chunk), "the template's output")
            if state is not None:
                # A value's marker is not output: `_finalize` counted the value itself.
                state.output += len(chunk) if _OPEN not in chunk else len(_MARK.sub("", chunk))
                if state.output > MAX_OUTPUT:
                    raise _TooMuchWork(
                        f"the template produces more than {MAX_OUTPUT:,} characters (MAX_OUTPUT)"
                    )
            out.append(chunk)
    except SecurityError as exc:
        problems.append(Problem(_error_line(exc), f"refused: {exc}", "refused", where))
        return None
    except OverflowError as exc:  # the sandbox's range() limit
        problems.append(Problem(_error_line(exc), f"refused: {exc}", "refused", where))
        return None
    except Exception as exc:  # noqa: BLE001 -- any runtime error is the template's fault
        message = f"cannot render: {type(exc).__name__}: {exc}"
        problems.append(Problem(_error_line(exc), message, "syntax", where))
        return None
    return "".join(out)


def _source_line(lowered: str, needle: str) -> int | None:
    """The line of `needle`'s first occurrence in the (lower-cased) source."""
    index = lowered.find(needle.lower())
    return None if index < 0 else lowered.count("\n", 0, index) + 1


_NEEDLE = re.compile(r"<(\w+)>|^'([^']+)' attribute|unsafe link '([^']+?)…?'")


def render_all(template: Template, data: Mapping[str, Any]) -> RenderResult:
    """Render subject, text and HTML; never raises, every problem is in the result."""
    problems: list[Problem] = []
    state = _State()
    token = _STATE.set(state)
    budget_token = limits.CURRENT.set(state.work)
    try:
        wrapped = _wrap({k: _clean_value(v) for k, v in data.items()}, "", state)
        state.where = "subject"
        subject_marked = _run(template.subject, wrapped, "subject", problems)
        state.where = "body"
        body_marked = _run(template.body, wrapped, "body", problems)
    finally:
        limits.CURRENT.reset(budget_token)
        _STATE.reset(token)
    for (where, hint), line in state.refused.items():
        problems.append(Problem(line, f"refused: {hint}", "refused", where))
    undefined = sorted(state.undefined.items(), key=lambda kv: (kv[0][0] != "subject", kv[1] or 0))
    for (where, name), line in undefined:
        message = f"undefined placeholder {{{{ {name} }}}}"
        problems.append(Problem(line, message, "undefined", where))

    subject = " ".join(_fill_text(subject_marked or "", state).split())
    text, html = "", ""
    if body_marked is not None and _markdown_size(body_marked) > markdown_limits.MAX_MARKDOWN_CHARS:
        message = (
            f"refused: the body is {_markdown_size(body_marked):,} characters once rendered, over"
            f" the {markdown_limits.MAX_MARKDOWN_CHARS:,} Markdown formats (MAX_MARKDOWN_CHARS);"
            " write less text (a value counts as one character)"
        )
        problems.append(Problem(None, message, "refused"))
        body_marked = None
    if body_marked is not None:
        plain, removed_text = sanitize.strip_markup(body_marked)
        text = _fill_text(plain, state)
        marked_html, removed = _markdown_html(body_marked)
        removals = sanitize.dedupe([*removed, *removed_text])
        lowered = template.body.lower()
        for message in removals[:MAX_REPORTED_REMOVALS]:
            m = _NEEDLE.search(message)
            needle = next((g for g in m.groups() if g), "") if m else ""
            if m and m[1]:
                needle = f"<{needle}"
            line = _source_line(lowered, needle) if needle else None
            problems.append(Problem(line, message, "unsafe"))
        if len(removals) > MAX_REPORTED_REMOVALS:
            more = len(removals) - MAX_REPORTED_REMOVALS
            problems.append(Problem(None, f"and {more:,} more removals", "unsafe"))
        html = _fill_html(marked_html, state, problems)
    return RenderResult(subject, text, html, problems)


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return _FORGED.sub("", value)
    if isinstance(value, Mapping):
        return {k: _clean_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_value(v) for v in value]
    return value


def render(template: Template, data: Mapping[str, Any]) -> Rendered:
    """Render a template; raises TemplateError naming every undefined placeholder, or the
    syntax error / refused construct with its line."""
    result = render_all(template, data)
    fatal = result.fatal
    if fatal:
        raise error_from(fatal)
    return Rendered(result.subject, result.markdown, result.html, result.problems)


def error_from(problems: list[Problem]) -> TemplateError:
    """One TemplateError for fatal problems: all listed, undefined names in `names`."""
    names = [
        p.message.removeprefix("undefined placeholder {{ ").removesuffix(" }}")
        for p in problems
        if p.kind == "undefined"
    ]
    first = next((p for p in problems if p.kind != "undefined"), problems[0])
    parts = [
        f"{p.source} line {p.line}: {p.message}" if p.line else f"{p.source}: {p.message}"
        for p in problems
    ]
    return TemplateError("; ".join(parts), line=first.line, names=names)


def check(template: Template) -> list[Problem]:
    """Syntax problems of a template, without data (for saving a template)."""
    problems: list[Problem] = []
    for where, source in (("subject", template.subject), ("body", template.body)):
        try:
            _compile(source)  # syntax only
        except TemplateSyntaxError as exc:
            problems.append(Problem(exc.lineno, f"syntax error: {exc.message}", "syntax", where))
    return problems


# --- template files -------------------------------------------------------------------------

TEMPLATE_FILE_HELP = """A template file looks like a short e-mail: a Subject line,
a blank line, then the Markdown body:

\b
    Subject: Vehicle {{ plate }} is ready

\b
    Dear {{ owner.name }},
    your vehicle **{{ plate }}** is ready.

Only the `Subject:` header is known (case-insensitive); the body is Markdown with
{{ placeholders }}. A file without a Subject line is all body, with an empty subject."""


def parse_template_file(text: str, name: str) -> tuple[Template, int]:
    """A Template from a template file's text, and the file line where the body starts.

    Raises TemplateError for an unknown header (probably a body missing its blank line).
    """
    lines = text.splitlines(keepends=True)
    if not lines or not re.match(r"(?i)subject\s*:", lines[0]):
        return Template(name, "", text), 1
    subject = ""
    for index, line in enumerate(lines):
        stripped = line.rstrip("\r\n")
        if not stripped.strip():
            return Template(name, subject, "".join(lines[index + 1 :])), index + 2
        if line[:1] in (" ", "\t"):  # folded subject
            subject += " " + stripped.strip()
            continue
        key, sep, value = stripped.partition(":")
        if not sep or key.strip().lower() != "subject":
            raise TemplateError(
                f"line {index + 1}: unknown header {key.strip()!r}; a template file starts with"
                " 'Subject: ...' and a blank line before the body",
                line=index + 1,
            )
        subject = value.strip()
    return Template(name, subject, ""), len(lines) + 1
