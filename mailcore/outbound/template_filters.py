"""The filters, globals and ``str.format`` of the template sandbox, limited by the render's budget.

- `BudgetFormatter` / `BudgetEscapeFormatter`: the sandbox's ``str.format`` (and
  ``Markup.format``), each field measured before it is formatted.
- `limited_filter` / `limited_filters`: every Jinja filter checked with an estimate of what it
  builds before it runs, charged with what it built after (``sum`` and ``pprint`` replaced).
- `lipsum`: ``lipsum()``, at most `MAX_LIPSUM_WORDS` words.

The budget and the estimates these use are in `mailcore.outbound.template_limits`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sized
from functools import wraps
from itertools import chain
from typing import Any

from jinja2 import pass_environment
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum

from mailcore.outbound.template_limits import (
    ESCAPE,
    HUGE,
    MAX_INT_BITS,
    MAX_LIPSUM_WORDS,
    TooMuchWork,
    as_int,
    built_size,
    check_binop,
    count_text,
    current,
    field_size,
    percent_size,
    replace_size,
    shown_size,
)

# --- str.format -----------------------------------------------------------------------------


class BudgetFormatter(SandboxedFormatter):
    """The sandbox's ``str.format``, each field measured before it is formatted."""

    factor = 1

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion in ("r", "a"):
            budget = current()
            size = shown_size(value, budget.left, quoted=True) * (10 if conversion == "a" else 1)
            budget.need(size, "format()")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = current()
        budget.need(self.factor * field_size(value, format_spec, budget.left), "format()")
        out = super().format_field(value, format_spec)
        budget.charge(len(out), "format()")
        return out


class BudgetEscapeFormatter(BudgetFormatter, SandboxedEscapeFormatter):
    """`BudgetFormatter` for ``Markup.format``, whose values are HTML-escaped."""

    factor = ESCAPE


# --- filters and globals --------------------------------------------------------------------

Estimate = Callable[..., int]


def _text(value: Any, limit: int) -> int:
    return shown_size(value, limit)


def _indent_size(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> int:
    size = _text(s, HUGE)
    lines = s.count("\n") + 1 if isinstance(s, str) else size + 1
    pad = len(width) if isinstance(width, str) else as_int(width)
    return size + lines * max(pad, 0)


def _wordwrap_size(s: Any, width: Any = 79, *args: Any, **kwargs: Any) -> int:
    size = _text(s, HUGE)
    wrapstring = args[1] if len(args) > 1 else kwargs.get("wrapstring")
    return size + (size + 1) * (len(wrapstring) if isinstance(wrapstring, str) else 1)


def _join_size(value: Any, d: Any = "", attribute: Any = None) -> int:
    items: Any = value if isinstance(value, Sized) else ()
    each = len(d) if isinstance(d, str) else _text(d, HUGE)
    total = each * len(items)
    for item in items:
        total += max(_text(item, HUGE), 64 if attribute is not None else 0)
    return total


def _format_size(value: Any, *args: Any, **kwargs: Any) -> int:
    fmt = value if isinstance(value, str) else ""
    return _text(value, HUGE) + percent_size(fmt, kwargs or args, HUGE)


def _urlize_size(value: Any, *args: Any, **kwargs: Any) -> int:
    size = _text(value, HUGE)
    extra = sum(len(v) for v in (*args[1:4], *kwargs.values()) if isinstance(v, str))
    return 7 * size + (size // 5 + 1) * (extra + 80)


def _tojson_size(value: Any, indent: Any = None) -> int:
    step = len(indent) if isinstance(indent, str) else as_int(indent)
    return shown_size(value, indent=max(step, 0))


def _fill_size(value: Any, count: Any, fill_with: Any = None) -> int:
    return (len(value) if isinstance(value, Sized) else 0) + max(as_int(count), 0)


def _batch_size(value: Any, linecount: Any, fill_with: Any = None) -> int:
    return _fill_size(value, linecount) if fill_with is not None else 0


def _round_size(value: Any, precision: Any = 0, method: str = "common") -> int:
    # round() and the floor/ceil methods compute 10 ** precision.
    bits = abs(as_int(precision)) * 10 // 3
    if bits > MAX_INT_BITS:
        raise TooMuchWork(
            f"round() to {precision} digits is over {MAX_INT_BITS:,} bits (MAX_INT_BITS)"
        )
    return 0


def _scaled(factor: int, extra: int = 0) -> Estimate:
    def estimate(value: Any, *args: Any, **kwargs: Any) -> int:
        return factor * _text(value, HUGE) + extra

    return estimate


_FILTER_SIZES: dict[str, Estimate] = {
    "center": lambda value, width=80: max(_text(value, HUGE), as_int(width)),
    "indent": _indent_size,
    "wordwrap": _wordwrap_size,
    "replace": lambda s, old, new, count=None: replace_size(s, old, new, count, HUGE),
    "join": _join_size,
    "format": _format_size,
    "truncate": lambda s, length=255, killwords=False, end="...", leeway=None: (
        _text(s, HUGE) + _text(end, HUGE)
    ),
    "urlize": _urlize_size,
    "tojson": _tojson_size,
    "xmlattr": lambda d, autospace=True: ESCAPE * _text(d, HUGE) + 16,
    "batch": _batch_size,
    "slice": _fill_size,
    "round": _round_size,
    "e": _scaled(ESCAPE),
    "escape": _scaled(ESCAPE),
    "forceescape": _scaled(ESCAPE),
    "urlencode": _scaled(12),  # %XX for each of up to four UTF-8 bytes
    "string": _scaled(1),
    "safe": _scaled(1),
    "striptags": _scaled(1),
    "wordcount": _scaled(1),
    "upper": _scaled(3),
    "lower": _scaled(3),
    "title": _scaled(3),
    "capitalize": _scaled(3),
    "trim": _scaled(1),
    "list": lambda value: len(value) if isinstance(value, Sized) else 0,
    "reverse": lambda value: len(value) if isinstance(value, Sized) else 0,
}

# Filters that read their whole input first: an iterator is turned into a list (measured).
_MATERIALIZE = {"join", "slice", "sum", "list"}


@pass_environment
def _sum(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    """``|sum`` that adds strings, lists and tuples in one go instead of one ``+`` per item
    (tuples and strings would be copied again at each step)."""
    from jinja2.filters import make_attrgetter

    items = list(iterable)
    if attribute is not None:
        getter = make_attrgetter(environment, attribute)
        items = [getter(item) for item in items]
    budget = current()
    if isinstance(start, str | list | tuple):
        size = len(start) + sum(built_size(i) for i in items)
        budget.need(size, "the sum filter")
        if isinstance(start, str) and all(isinstance(i, str) for i in items):
            return start + "".join(items)
        if all(isinstance(i, type(start)) for i in items):
            return type(start)(chain(start, *items))
    total = start
    for item in items:
        if isinstance(total, int) and isinstance(item, int):
            check_binop("+", total, item, budget)
        total = total + item
    return total


def _no_pprint(value: Any) -> str:
    raise SecurityError("the pprint filter is not available in templates; use tojson")


def limited_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` (a Jinja filter) checked against the budget before it runs, charged after."""
    estimate = _FILTER_SIZES.get(name)
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    materialize = name in _MATERIALIZE
    what = f"the {name} filter"

    @wraps(func)
    def limited(*args: Any, **kwargs: Any) -> Any:
        budget = current()
        if materialize and len(args) > skip and not isinstance(args[skip], Sized):
            items = list(args[skip])
            budget.charge(len(items), what)
            args = (*args[:skip], items, *args[skip + 1 :])
        if estimate is not None and len(args) > skip:
            budget.need(estimate(*args[skip:], **kwargs), what)
        result = func(*args, **kwargs)
        budget.charge(built_size(result), what)
        return result

    return limited


def limited_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter of `filters` wrapped by `limited_filter` (``sum`` and ``pprint`` replaced)."""
    replaced: dict[str, Callable[..., Any]] = {"sum": _sum, "pprint": _no_pprint}
    return {name: limited_filter(name, replaced.get(name, func)) for name, func in filters.items()}


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    """Jinja's ``lipsum()``, at most `MAX_LIPSUM_WORDS` words and within the budget."""
    words = as_int(n) * as_int(max if max > min else min)
    if words > MAX_LIPSUM_WORDS:
        raise TooMuchWork(
            f"lipsum() of {count_text(words)} words is over {MAX_LIPSUM_WORDS:,}"
            " (MAX_LIPSUM_WORDS); ask for fewer paragraphs or words"
        )
    budget = current()
    budget.need(words * 14 + 30 * math.ceil(as_int(n)), "lipsum()")
    text = str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))
    budget.charge(len(text), "lipsum()")
    return text
