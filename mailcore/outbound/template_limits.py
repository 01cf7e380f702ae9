"""Resource limits of one template render, charged before anything big is built.

A template is untrusted input: ``{{ 'a'.ljust(10**9) }}``, ``'%*d' % (10**9, 1)``,
``[1] * 10**9`` or a chain of ``~``/``replace`` would each take a worker's memory in one
expression. Every operation of the sandbox that builds a string, a list or a big number goes
through this module first:

- `Budget`: one per render. Each operation asks `Budget.need` with a precise upper bound of
  what it is about to build (``ljust(n)`` builds ``max(len(s), n)`` characters) and is
  refused if that is over what is left of `MAX_RENDER_WORK`; what it really built is then
  charged with `Budget.charge`. The values inserted in the output count too.
- `MAX_INT_BITS`: the size of an integer ``*``, ``**``, ``+`` or ``-`` may produce.
- `MAX_RENDER_SECONDS`: CPU time of one render, checked on every loop step and macro call,
  a backstop for work that builds nothing (comparing big strings in a loop).

Sizes of containers are estimated by walking them (`shown_size`), never by building their
text first: ``[big] * 1000`` is 1,000 list items but 1,000 copies of ``big`` once shown.
"""

from __future__ import annotations

import bisect
import contextvars
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from functools import wraps
from itertools import chain
from typing import Any

from jinja2 import Undefined, pass_environment
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Namespace, generate_lorem_ipsum
from markupsafe import Markup

MAX_RENDER_WORK = 4_000_000  # characters (and list items) one render may build, output included
MAX_INT_BITS = 4096  # bits of an integer a template may compute
MAX_RENDER_SECONDS = 3.0  # CPU seconds of one render (subject and body together)
MAX_LIPSUM_WORDS = 10_000  # lipsum(n, max=...) makes at most n * max words

_ESCAPE = 5  # HTML escaping turns one character into at most five ("&amp;")
_HUGE = 10**18  # the estimate of something that cannot be built at all


class TooMuchWork(SecurityError):
    """A render went over one of its limits (reported as a "refused" problem)."""


@dataclass
class Budget:
    """What one render may still build, and since when it runs."""

    limit: int = MAX_RENDER_WORK
    used: int = 0
    started: float = field(default_factory=time.thread_time)

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)

    def need(self, size: int, what: str) -> None:
        """Refuse `what` before it builds `size` characters if they are not left."""
        if size > self.left:
            raise TooMuchWork(
                f"{what} would build {_count(size)} characters or items, over the"
                f" {self.left:,} left of the {self.limit:,} a render may build (MAX_RENDER_WORK);"
                " build less text"
            )

    def charge(self, size: int, what: str) -> None:
        """Count what was built; refused if it went over the budget."""
        self.need(size, what)
        self.used += size

    def tick(self) -> None:
        """Refuse a render that has used more than `MAX_RENDER_SECONDS` of CPU time."""
        if time.thread_time() - self.started > MAX_RENDER_SECONDS:
            raise TooMuchWork(
                f"template does too much work: over {MAX_RENDER_SECONDS:g} s of CPU time"
                " (MAX_RENDER_SECONDS); simplify the loops"
            )


def _count(size: int) -> str:
    return "too many" if size >= _HUGE else f"{size:,}"


CURRENT: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("mc_budget", default=None)


def current() -> Budget:
    """The running render's budget; outside a render (compile time), a fresh one."""
    return CURRENT.get() or Budget()


# --- sizes ----------------------------------------------------------------------------------

_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))
_SEQUENCES = (list, tuple, set, frozenset, *_VIEWS)
_CHUNK = 65_536


def _quoted_len(text: str) -> int:
    """len(repr(text)), computed by chunks so a big string is never copied whole."""
    if len(text) <= 4096:
        return len(repr(text))
    # Which quote repr picks depends on the whole string: count every "'" as escaped.
    body = sum(len(repr(text[i : i + _CHUNK])) - 2 for i in range(0, len(text), _CHUNK))
    return body + 2 + text.count("'")


def _json_len(text: str) -> int:
    """len of the HTML-safe JSON string of `text` (``<>&'`` become ``\\u00XX``)."""
    if len(text) <= 4096:
        body = len(json.dumps(text)) - 2
    else:
        body = sum(len(json.dumps(text[i : i + _CHUNK])) - 2 for i in range(0, len(text), _CHUNK))
    return body + 2 + 5 * sum(text.count(c) for c in "<>&'")


def _int_digits(value: int) -> int:
    return value.bit_length() * 31 // 100 + 2  # log10(2) < 0.31, plus the sign


def shown_size(
    obj: Any, limit: int = _HUGE, *, quoted: bool = False, indent: int | None = None
) -> int:
    """An upper bound of ``len(str(obj))`` (``repr`` if `quoted`, HTML-safe JSON with
    `indent` if that is not None), found by walking containers without building any text.

    Stops as soon as the bound is over `limit`: walking costs at most `limit` steps.
    """
    as_json = indent is not None
    step = indent or 0
    total = 0
    stack: list[tuple[Any, bool, int]] = [(obj, quoted, 0)]
    walked = 0
    while stack and total <= limit:
        item, q, depth = stack.pop()
        walked += 1
        if not walked & 4095:
            current().tick()  # a walk is bounded by `limit`, but a big one costs CPU time
        if isinstance(item, str):
            total += _json_len(item) if as_json else _quoted_len(item) if q else len(item)
        elif isinstance(item, bytes | bytearray):
            total += 4 * len(item) + 14
        elif item is None or isinstance(item, bool):
            total += 5
        elif isinstance(item, int):
            total += _int_digits(item)
        elif isinstance(item, float | complex):
            total += 64
        elif isinstance(item, Undefined):
            total += 9 if q else 0  # str(): nothing; repr(): "Undefined"
        elif isinstance(item, Mapping | Namespace):
            pairs = item.items() if isinstance(item, Mapping) else vars_of(item).items()
            total += 16 + (step * depth + 1 if as_json else 0)
            for key, value in pairs:
                total += 4 + (step * (depth + 1) + 1 if as_json else 0)
                stack.append((key, True, depth + 1))
                stack.append((value, True, depth + 1))
                if total > limit:
                    break
        elif isinstance(item, _SEQUENCES):
            total += 16 + len(type(item).__name__) + (step * depth + 1 if as_json else 0)
            fields = getattr(item, "_fields", ())  # a namedtuple shows its field names
            each = 2 + (step * (depth + 1) + 1 if as_json else 0)
            element: Any
            for index, element in enumerate(item):  # type: ignore[arg-type]
                total += each + (len(fields[index]) + 1 if index < len(fields) else 0)
                stack.append((element, True, depth + 1))
                if total > limit:
                    break
        else:
            total += len(repr(item))  # the sandbox's own small objects: macros, cyclers...
    return total


def vars_of(namespace: Namespace) -> dict[str, Any]:
    """The attributes of a Jinja namespace (kept in a name-mangled dict)."""
    attrs: dict[str, Any] = object.__getattribute__(namespace, "_Namespace__attrs")
    return attrs


def built_size(result: Any) -> int:
    """What a result holds: its characters, bytes or items (0 for numbers and iterators)."""
    if isinstance(result, str | bytes | bytearray | list | tuple | dict | set | frozenset):
        return len(result)
    return 0


def _as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    return default


def _ints_in(spec: str) -> int:
    """The sum of the numbers written in a format spec: its width and precision."""
    total = 0
    for digits in re.findall(r"\d+", spec):
        if len(digits) > 15:
            return _HUGE
        total += int(digits)
    return total


def field_size(value: Any, spec: str, limit: int) -> int:
    """An upper bound of ``len(format(value, spec))``: width and precision, plus the value
    (twice, for digit grouping), plus room for a float's 309 digits."""
    return _ints_in(spec) + 2 * shown_size(value, limit) + 400


def percent_size(fmt: str, args: Any, limit: int) -> int:
    """An upper bound of ``len(fmt % args)``, read from the conversions of `fmt` (widths and
    precisions, ``*`` ones taken from `args`, and the size of each value shown)."""
    mapping = args if isinstance(args, Mapping) else None
    values = iter(args if isinstance(args, tuple) else (args,))
    total, pos, end = len(fmt), 0, len(fmt)

    def number() -> int:
        nonlocal pos
        if pos < end and fmt[pos] == "*":
            pos += 1
            return abs(_as_int(next(values, 0)))
        start = pos
        while pos < end and fmt[pos].isdigit():
            pos += 1
        return _ints_in(fmt[start:pos])

    while total <= limit:
        pos = fmt.find("%", pos)
        if pos < 0:
            break
        pos += 1
        key = None
        if pos < end and fmt[pos] == "(":  # %(key)s, with nested parentheses as Python reads them
            depth, start = 1, pos + 1
            pos += 1
            while pos < end and depth:
                depth += {"(": 1, ")": -1}.get(fmt[pos], 0)
                pos += 1
            key = fmt[start : pos - 1]
        while pos < end and fmt[pos] in "-+ #0":
            pos += 1
        total += number()
        if pos < end and fmt[pos] == ".":
            pos += 1
            total += number()
        while pos < end and fmt[pos] in "hlL":
            pos += 1
        conversion = fmt[pos] if pos < end else ""
        pos += 1
        if conversion == "%":
            continue
        value = mapping.get(key) if key is not None and mapping is not None else next(values, None)
        shown = shown_size(value, limit, quoted=conversion in "ra")
        total += shown * (10 if conversion == "a" else 1) + 400
    return total


# --- operators ------------------------------------------------------------------------------


def _bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def check_binop(operator: str, left: Any, right: Any, budget: Budget) -> None:
    """Refuse an operator whose result would be over the budget or `MAX_INT_BITS`."""
    if isinstance(left, int) and isinstance(right, int):
        a, b = _bits(left), _bits(right)
        if operator == "**":
            bits = max(a, 1) * right if right > 0 else 0
        elif operator == "*":
            bits = a + b
        elif operator in "+-":
            bits = max(a, b) + 1
        else:  # / // %: never larger than the operands
            bits = 0
        if bits > MAX_INT_BITS:
            raise TooMuchWork(
                f"the result of {operator} would have {_count(bits)} bits, over"
                f" {MAX_INT_BITS:,} (MAX_INT_BITS); use smaller numbers"
            )
        return
    left_left = budget.left
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(count, int):
                budget.need(len(seq) * max(count, 0), "the * operator")
    elif operator == "+":
        if isinstance(left, str | bytes | list | tuple) and isinstance(right, type(left)):
            budget.need(len(left) + len(right), "the + operator")
        elif isinstance(left, Markup) or isinstance(right, Markup):
            size = _ESCAPE * (shown_size(left, left_left) + shown_size(right, left_left))
            budget.need(size, "the + operator")
    elif operator == "%" and isinstance(left, str | bytes):
        fmt = left if isinstance(left, str) else left.decode("latin-1")
        size = percent_size(fmt, right, left_left)
        budget.need(size * (_ESCAPE if isinstance(left, Markup) else 1), "the % operator")


def concat_size(items: Iterable[Any], escaped: bool, budget: Budget) -> int:
    """An upper bound of the ``~`` concatenation of `items`."""
    left = budget.left
    total = 0
    for item in items:
        size = shown_size(item, left)
        total += size * (_ESCAPE if escaped and not isinstance(item, Markup) else 1)
        if total > left:
            break
    return total


# --- method calls ---------------------------------------------------------------------------

# Methods whose result is never much larger than the string they are called on (case changes
# may triple a character: "ﬃ".upper() is "FFI").
_LINEAR = {
    "strip": 1, "lstrip": 1, "rstrip": 1, "removeprefix": 1, "removesuffix": 1,
    "partition": 2, "rpartition": 2, "split": 2, "rsplit": 2, "splitlines": 2,
    "upper": 3, "lower": 3, "casefold": 3, "title": 3, "capitalize": 3, "swapcase": 3,
    "unescape": 1, "striptags": 1, "decode": 4, "hex": 3, "encode": 10, "isascii": 0,
    "count": 0, "find": 0, "rfind": 0, "index": 0, "rindex": 0, "startswith": 0,
    "endswith": 0, "isalnum": 0, "isalpha": 0, "isdecimal": 0, "isdigit": 0,
    "isidentifier": 0, "islower": 0, "isnumeric": 0, "isprintable": 0, "isspace": 0,
    "istitle": 0, "isupper": 0, "format": 0, "format_map": 0,  # the formatter counts those
}  # fmt: skip


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name)


def _replace_size(text: Any, old: Any, new: Any, count: Any, limit: int) -> int:
    size = shown_size(text, limit)
    if isinstance(text, str | bytes) and isinstance(old, type(text)):
        found = len(text) + 1 if not old else text.count(old)  # type: ignore[arg-type]
    else:
        found = size + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    grows = shown_size(new, limit) - (len(old) if isinstance(old, str | bytes) else 0)
    return size + found * max(grows, 0)


def _str_method(
    owner: str | bytes | bytearray,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    left: int,
) -> tuple[int, tuple[Any, ...]]:
    size = len(owner)
    if name in _LINEAR:
        return _LINEAR[name] * size + 2, args
    if name in ("ljust", "rjust", "center", "zfill"):
        return max(size, _as_int(_arg(args, kwargs, 0, "width"))), args
    if name == "expandtabs":
        tab = _as_int(_arg(args, kwargs, 0, "tabsize"), 8)
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        return size + tabs * max(tab, 0), args
    if name == "replace":
        old, new, count = (_arg(args, kwargs, i, n) for i, n in enumerate(("old", "new", "count")))
        return _replace_size(owner, old, new, count, left), args
    if name == "join" and args:
        items = list(args[0])  # materialized once, so a generator is measured and still joined
        total = len(owner) * len(items)
        for item in items:
            total += len(item) if isinstance(item, str | bytes) else 0
        return total, (items, *args[1:])
    if name == "translate" and args:
        table = args[0]
        values = table.values() if isinstance(table, Mapping) else table
        widest = 1
        if isinstance(values, Iterable) and not isinstance(values, str | bytes):
            for value in list(values)[:100_000]:
                widest = max(widest, shown_size(value, left))
        return size * widest, args
    if name == "maketrans":
        return sum(shown_size(a, left) for a in args), args
    raise SecurityError(f"{type(owner).__name__}.{name}() is not available in templates")


def prepare_call(
    obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget
) -> tuple[Any, ...]:
    """Refuse a method call that would build more than the budget has left; the arguments to
    call it with (an iterator to join is turned into a list, measured once)."""
    owner = getattr(obj, "__self__", None)
    if owner is None:  # macros, loop(), range(), lipsum(): limited on their own
        return args
    name = getattr(obj, "__name__", "")
    size = 0
    if isinstance(owner, str | bytes | bytearray):
        size, args = _str_method(owner, name, args, kwargs, budget.left)
    elif isinstance(owner, type) and issubclass(owner, str | bytes):
        if name == "escape":  # Markup.escape(x), reached through a Markup value
            size = _ESCAPE * shown_size(args[0] if args else "", budget.left)
        elif name in ("maketrans", "fromhex"):
            size = sum(shown_size(a, budget.left) for a in args)
    elif isinstance(owner, int) and name == "to_bytes":
        size = _as_int(_arg(args, kwargs, 0, "length"), 1)
    elif isinstance(owner, type) and issubclass(owner, int) and name == "from_bytes" and args:
        size = shown_size(args[0], budget.left)
        if 2 * size > MAX_INT_BITS:  # at least 8 bits a byte, 4 bytes shown each
            raise TooMuchWork(
                f"int.from_bytes() of so many bytes is over {MAX_INT_BITS:,} bits (MAX_INT_BITS)"
            )
    elif isinstance(owner, list | tuple | dict) and name == "copy":
        size = len(owner)
    elif name == "fromkeys" and args and isinstance(args[0], Sized):
        size = len(args[0])
    budget.need(size, f"{name}()" if name else "this call")
    return args


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

    factor = _ESCAPE


# --- filters and globals --------------------------------------------------------------------

Estimate = Callable[..., int]


def _text(value: Any, limit: int) -> int:
    return shown_size(value, limit)


def _indent_size(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> int:
    size = _text(s, _HUGE)
    lines = s.count("\n") + 1 if isinstance(s, str) else size + 1
    pad = len(width) if isinstance(width, str) else _as_int(width)
    return size + lines * max(pad, 0)


def _wordwrap_size(s: Any, width: Any = 79, *args: Any, **kwargs: Any) -> int:
    size = _text(s, _HUGE)
    wrapstring = args[1] if len(args) > 1 else kwargs.get("wrapstring")
    return size + (size + 1) * (len(wrapstring) if isinstance(wrapstring, str) else 1)


def _join_size(value: Any, d: Any = "", attribute: Any = None) -> int:
    items: Any = value if isinstance(value, Sized) else ()
    each = len(d) if isinstance(d, str) else _text(d, _HUGE)
    total = each * len(items)
    for item in items:
        total += max(_text(item, _HUGE), 64 if attribute is not None else 0)
    return total


def _format_size(value: Any, *args: Any, **kwargs: Any) -> int:
    fmt = value if isinstance(value, str) else ""
    return _text(value, _HUGE) + percent_size(fmt, kwargs or args, _HUGE)


def _urlize_size(value: Any, *args: Any, **kwargs: Any) -> int:
    size = _text(value, _HUGE)
    extra = sum(len(v) for v in (*args[1:4], *kwargs.values()) if isinstance(v, str))
    return 7 * size + (size // 5 + 1) * (extra + 80)


def _tojson_size(value: Any, indent: Any = None) -> int:
    step = len(indent) if isinstance(indent, str) else _as_int(indent)
    return shown_size(value, indent=max(step, 0))


def _fill_size(value: Any, count: Any, fill_with: Any = None) -> int:
    return (len(value) if isinstance(value, Sized) else 0) + max(_as_int(count), 0)


def _batch_size(value: Any, linecount: Any, fill_with: Any = None) -> int:
    return _fill_size(value, linecount) if fill_with is not None else 0


def _round_size(value: Any, precision: Any = 0, method: str = "common") -> int:
    # round() and the floor/ceil methods compute 10 ** precision.
    bits = abs(_as_int(precision)) * 10 // 3
    if bits > MAX_INT_BITS:
        raise TooMuchWork(
            f"round() to {precision} digits is over {MAX_INT_BITS:,} bits (MAX_INT_BITS)"
        )
    return 0


def _scaled(factor: int, extra: int = 0) -> Estimate:
    def estimate(value: Any, *args: Any, **kwargs: Any) -> int:
        return factor * _text(value, _HUGE) + extra

    return estimate


_FILTER_SIZES: dict[str, Estimate] = {
    "center": lambda value, width=80: max(_text(value, _HUGE), _as_int(width)),
    "indent": _indent_size,
    "wordwrap": _wordwrap_size,
    "replace": lambda s, old, new, count=None: _replace_size(s, old, new, count, _HUGE),
    "join": _join_size,
    "format": _format_size,
    "truncate": lambda s, length=255, killwords=False, end="...", leeway=None: (
        _text(s, _HUGE) + _text(end, _HUGE)
    ),
    "urlize": _urlize_size,
    "tojson": _tojson_size,
    "xmlattr": lambda d, autospace=True: _ESCAPE * _text(d, _HUGE) + 16,
    "batch": _batch_size,
    "slice": _fill_size,
    "round": _round_size,
    "e": _scaled(_ESCAPE),
    "escape": _scaled(_ESCAPE),
    "forceescape": _scaled(_ESCAPE),
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
    words = _as_int(n) * _as_int(max if max > min else min)
    if words > MAX_LIPSUM_WORDS:
        raise TooMuchWork(
            f"lipsum() of {_count(words)} words is over {MAX_LIPSUM_WORDS:,}"
            " (MAX_LIPSUM_WORDS); ask for fewer paragraphs or words"
        )
    budget = current()
    budget.need(words * 14 + 30 * math.ceil(_as_int(n)), "lipsum()")
    text = str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))
    budget.charge(len(text), "lipsum()")
    return text


# --- Markdown -------------------------------------------------------------------------------
#
# Python-Markdown is superlinear on some of an author's own text: each unmatched ``[`` scans
# to the end of its paragraph (``"[" * 10_000`` takes minutes), so does each ``](`` whose
# target never closes, each ``<`` that starts no complete tag, each backtick run without
# its closing run, each unclosed fence, and each long run of ``*``/``_``. `markdown_input`
# makes every such character inert before Markdown runs by swapping it for a private-use
# stand-in (`restore_markdown_output` puts the character back in the HTML), so each is
# shown exactly as typed and only stops being markup it could never complete. Ordinary
# Markdown is left as it is. Bracket and parenthesis nesting are bounded too, which bounds
# what any remaining scan can cover, so Markdown's work stays linear in its input.

MAX_MARKDOWN_CHARS = 300_000  # characters of the rendered body Markdown formats (a value: 1)
MAX_BRACKET_DEPTH = 4  # ``[`` nesting that may still make links (``[![img](src)](href)`` is 2)
MAX_LINK_PAREN_DEPTH = 2  # ``(`` nesting inside one link target (Wikipedia URLs need 1)
MAX_CODE_BLOCKS = 200  # fenced code blocks (Markdown rebuilds the whole text for each one)
MAX_EMPHASIS_RUN = 3  # ``***`` is strong emphasis; a longer run of ``*``/``_`` is text

STAND_IN_BASE = 0xE100  # stand-in of ASCII character c: chr(STAND_IN_BASE + ord(c))
STAND_INS = re.compile("[\ue100-\ue17f]")


def _inert(c: str) -> str:
    return chr(STAND_IN_BASE + ord(c))


_FENCE = re.compile(r"^(`{3,}+|~{3,}+)([^\n]*+)$", re.MULTILINE)
_TAG = re.compile(
    r"</?+[A-Za-z][A-Za-z0-9-]*+"
    r"(?:\s++[^\s\"'=<>/`]++(?:\s*+=\s*+(?:\"[^\"<>]*+\"|'[^'<>]*+'|[^\s\"'=<>`]++))?+)*+"
    r"\s*+/?>"
)
_AUTOLINK = re.compile(r"<[A-Za-z][A-Za-z0-9+.-]*+:[^<>]*+>|<[^<>\s!@]++@[^@<>\s]++>")
_STRICT_TARGET = re.compile(
    r"\(\s*+(?:<[^<>\n]*+>|[^\s()<>\"']*+)\s*+(?:\"[^\"\n]*+\"|'[^'\n]*+')?+\s*+\)"
)
_QUOTES = frozenset("\"'")


def markdown_input(text: str) -> str:
    """`text` with every construct Python-Markdown could only handle in superlinear time
    made inert (see above); linear in ``len(text)``."""
    chars = list(text)
    protected: set[int] = set()  # ``<`` of a ``](<target>)`` link: not to be judged as a tag
    code_blocks = _fences(text, chars)
    for start, end in _paragraphs(text):
        _links(text, chars, start, end, protected)
        _code_spans(text, chars, start, end)
        _emphasis(text, chars, start, end)
    _angles(text, chars, protected)
    return _reblock("".join(chars), code_blocks)


# Lines Markdown cuts out of their block, re-queueing the rest of the block each time: a run
# of them without blank lines between is quadratic. A blank line after each changes nothing
# else (a heading or a rule ends its block anyway).
_SPLITTING_LINE = re.compile(
    r"#{1,6}[^\n]*+|=++[ ]*+|-{2,}+[ ]*+|(?:\*[ ]*+){3,}|(?:-[ ]*+){3,}|(?:_[ ]*+){3,}"
)
# A paragraph's inline markup costs Markdown its length for each construct in it (the text is
# rebuilt around each one): a plain paragraph is cut, at a line end, into pieces of at most
# MAX_PARAGRAPH_CHARS, and a longer line at a space. Tables, lists, quotes, headings and code
# are never cut (each cell and item is its own paragraph already).
MAX_PARAGRAPH_CHARS = 20_000
_STRUCTURED = re.compile(r"[ \t]*+(?:[|>#]|[-*+][ \t]|\d++[.)][ \t]|    |\t)")


def _reblock(text: str, code_blocks: list[tuple[int, int]]) -> str:
    """Blank lines after lines Markdown splits blocks at, and in over-long plain paragraphs,
    outside fenced code."""
    starts = [a for a, _ in code_blocks]

    def in_code(pos: int) -> bool:
        index = bisect.bisect_right(starts, pos) - 1
        return index >= 0 and pos <= code_blocks[index][1]

    out: list[str] = []
    paragraph = 0  # characters of the plain paragraph so far; -1 in a structured block
    after_split = False  # the previous line was a heading/rule/underline
    for m in re.finditer(r"[^\n]*+\n?", text):
        line = m[0]
        if not line:
            break
        if in_code(m.start()):
            out.append(line)
            paragraph, after_split = -1, False
            continue
        blank = not line.strip()
        if after_split and not blank:
            out.append("\n")
            paragraph = 0
        after_split = False
        if blank:
            paragraph = 0
        elif paragraph == 0 and _STRUCTURED.match(line):
            paragraph = -1
        elif paragraph >= 0:
            if paragraph and paragraph + len(line) > MAX_PARAGRAPH_CHARS:
                out.append("\n")
                paragraph = 0
            if len(line) > MAX_PARAGRAPH_CHARS:
                line = _cut_line(line)
            paragraph += len(line)
        out.append(line)
        if _SPLITTING_LINE.fullmatch(line.rstrip("\n")) and line.endswith("\n"):
            after_split = True
    return "".join(out)


def _cut_line(line: str) -> str:
    """An over-long line as paragraphs of at most MAX_PARAGRAPH_CHARS, cut at spaces."""
    pieces, start = [], 0
    while len(line) - start > MAX_PARAGRAPH_CHARS:
        cut = line.rfind(" ", start, start + MAX_PARAGRAPH_CHARS)
        cut = start + MAX_PARAGRAPH_CHARS if cut <= start else cut
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return "\n\n".join(pieces)


def restore_markdown_output(html_text: str) -> str:
    """Markdown's HTML with each stand-in back as the character it stands for (as text)."""

    def back(m: re.Match[str]) -> str:
        c = chr(ord(m[0]) - STAND_IN_BASE)
        return "&lt;" if c == "<" else "&gt;" if c == ">" else "&amp;" if c == "&" else c

    return STAND_INS.sub(back, html_text)


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of non-blank lines: no inline construct crosses a blank line."""
    start = None
    for m in re.finditer(r"[^\n]*+\n?", text):  # line by line: a regex for the run rescans
        if m[0].strip():
            start = m.start() if start is None else start
        elif start is not None:
            yield start, m.start()
            start = None
    if start is not None:
        yield start, len(text)


def _fences(text: str, chars: list[str]) -> list[tuple[int, int]]:
    """Fence lines that open a code block nothing closes are made inert: Markdown looks for
    the closing fence of each one to the end of the text. So are fences whose info string
    has a quote (Markdown's ``hl_lines="..."`` search crosses lines), and every fence after
    MAX_CODE_BLOCKS blocks. Returns the (start, end) of the fenced blocks kept."""
    fences = [(m.start(), m[1], m[2]) for m in _FENCE.finditer(text)]
    # For each fence line, the index of the next line that closes it (its string, then spaces).
    next_close: list[int | None] = [None] * len(fences)
    last_closing: dict[str, int] = {}
    for index in range(len(fences) - 1, -1, -1):
        _, fence, rest = fences[index]
        next_close[index] = last_closing.get(fence)
        if not rest.strip(" "):
            last_closing[fence] = index
    blocks: list[tuple[int, int]] = []
    index = 0
    while index < len(fences):
        pos, _, rest = fences[index]
        close = next_close[index]
        if close is not None and not _QUOTES.intersection(rest) and len(blocks) < MAX_CODE_BLOCKS:
            blocks.append((pos, fences[close][0]))
            index = close + 1
            continue
        chars[pos] = _inert(text[pos])
        index += 1
    return blocks


def _links(text: str, chars: list[str], start: int, end: int, protected: set[int]) -> None:
    """``[`` that no ``]`` closes in the paragraph, or nested deeper than MAX_BRACKET_DEPTH,
    and ``](`` whose target does not close on its line within MAX_LINK_PAREN_DEPTH are inert."""
    stack: list[int] = []
    closes: list[int] = []  # ``]`` that closed a bracket, followed by ``(``
    i = start
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            if len(stack) >= MAX_BRACKET_DEPTH:
                chars[i] = _inert(c)
            else:
                stack.append(i)
        elif c == "]" and stack:
            stack.pop()
            if i + 1 < end and text[i + 1] == "(":
                closes.append(i + 1)
        i += 1
    for pos in stack:
        chars[pos] = _inert("[")
    if not closes:
        return
    matches = _paren_matches(text, start, end)
    for pos in closes:
        close = matches.get(pos)
        if close is not None and not _QUOTES.intersection(text[pos:close]):
            continue
        m = _STRICT_TARGET.match(text, pos, end)
        if m is not None:
            if text[m.start() + 1 : m.end()].lstrip().startswith("<"):
                protected.add(text.index("<", pos))
            continue
        chars[pos] = _inert("(")


def _paren_matches(text: str, start: int, end: int) -> dict[int, int]:
    """For each ``(`` in text[start:end] that a ``)`` on the same line closes with at most
    MAX_LINK_PAREN_DEPTH levels of nesting inside, the position of that ``)``."""
    found: dict[int, int] = {}
    stack: list[list[int]] = []  # [position, deepest nesting inside]
    for i in range(start, end):
        c = text[i]
        if c == "(":
            stack.append([i, 1])
        elif c == ")" and stack:
            pos, depth = stack.pop()
            if depth <= MAX_LINK_PAREN_DEPTH:
                found[pos] = i
            if stack:
                stack[-1][1] = max(stack[-1][1], depth + 1)
        elif c == "\n":
            stack.clear()
    return found


def _code_spans(text: str, chars: list[str], start: int, end: int) -> None:
    """A backtick run with no later run of the same length in the paragraph is inert (Markdown
    would look for its closing run to the end); a code span's content is left as it is."""
    runs = [(m.start(), m.end() - m.start()) for m in re.finditer(r"`++", text[start:end])]
    if not runs:
        return
    of_length: dict[int, list[int]] = {}  # run length -> indexes of the runs of that length
    for index, (_, length) in enumerate(runs):
        of_length.setdefault(length, []).append(index)
    passed: dict[int, int] = {}  # run length -> how many of its runs are behind us

    def step_over(index: int) -> None:
        length = runs[index][1]
        passed[length] = passed.get(length, 0) + 1

    index = 0
    while index < len(runs):
        pos, length = runs[index]
        step_over(index)
        at = start + pos
        opens = length
        if at > 0 and text[at - 1] == "\\":  # Markdown: an escaped first backtick opens nothing
            at, opens = at + 1, length - 1
        if opens == 0 or _fence_line(text, start + pos):
            index += 1
            continue
        same = of_length.get(opens, [])
        following = passed.get(opens, 0)
        if following < len(same):
            closing = same[following]
            for inside in range(index + 1, closing + 1):  # the span's content, and its end
                step_over(inside)
            index = closing + 1
            continue
        for k in range(at, start + pos + length):
            chars[k] = _inert("`")
        index += 1


def _fence_line(text: str, pos: int) -> bool:
    """True if a fence line starts at `pos` (fences are at the start of their line)."""
    return (pos == 0 or text[pos - 1] == "\n") and _FENCE.match(text, pos) is not None


def _emphasis(text: str, chars: list[str], start: int, end: int) -> None:
    """Runs of ``*``/``_`` longer than MAX_EMPHASIS_RUN are inert, except a line that is
    only the run (Markdown's horizontal rule)."""
    pattern = rf"[*_]{{{MAX_EMPHASIS_RUN + 1},}}+"
    for m in re.finditer(pattern, text[start:end]):
        a, b = start + m.start(), start + m.end()
        line_start = a
        while line_start > 0 and a - line_start < 3 and text[line_start - 1] == " ":
            line_start -= 1
        rest = b
        while rest < len(text) and text[rest] == " ":
            rest += 1
        alone = (line_start == 0 or text[line_start - 1] == "\n") and (
            rest == len(text) or text[rest] == "\n"
        )
        if alone and len(set(m[0])) == 1:
            continue  # ``****`` alone on its line: a rule
        for k in range(a, b):
            chars[k] = _inert(text[k])


def _angles(text: str, chars: list[str], protected: set[int]) -> None:
    """``<`` that starts no complete tag, comment or autolink is inert: Markdown's and the
    HTML parser's scans for the end of each would cover the rest of the text."""
    comment_end = -1  # where the next ``-->`` ends (searched once per comment, not per ``<``)
    skip_to = 0
    for m in re.finditer("<", text):
        i = m.start()
        if i < skip_to or i in protected:
            continue
        if text.startswith("<!--", i):
            if comment_end < i + 4:
                found = text.find("-->", i + 4)
                comment_end = len(text) + 10 if found < 0 else found + 3
            if comment_end <= len(text):
                skip_to = comment_end
                continue
        elif _TAG.match(text, i) or _AUTOLINK.match(text, i):
            continue
        chars[i] = _inert("<")
