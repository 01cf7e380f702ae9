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

This module holds the budget and its estimates (sizes, operators, method calls). The filters,
``lipsum()`` and ``str.format`` limited by it are in `mailcore.outbound.template_filters`, the
Markdown pre-pass (which needs no budget) in `mailcore.outbound.markdown_limits`, whose names
are re-exported here.
"""

from __future__ import annotations

import contextvars
import json
import re
import time
from collections.abc import Iterable, Mapping, Sized
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Undefined
from jinja2.exceptions import SecurityError
from jinja2.utils import Namespace
from markupsafe import Markup

from mailcore.outbound.markdown_limits import (  # noqa: F401 -- re-exported, see above
    MAX_BRACKET_DEPTH,
    MAX_CODE_BLOCKS,
    MAX_EMPHASIS_RUN,
    MAX_LINK_PAREN_DEPTH,
    MAX_MARKDOWN_CHARS,
    MAX_PARAGRAPH_CHARS,
    STAND_IN_BASE,
    STAND_INS,
    markdown_input,
    restore_markdown_output,
)

MAX_RENDER_WORK = 4_000_000  # characters (and list items) one render may build, output included
MAX_INT_BITS = 4096  # bits of an integer a template may compute
MAX_RENDER_SECONDS = 3.0  # CPU seconds of one render (subject and body together)
MAX_LIPSUM_WORDS = 10_000  # lipsum(n, max=...) makes at most n * max words

ESCAPE = 5  # HTML escaping turns one character into at most five ("&amp;")
HUGE = 10**18  # the estimate of something that cannot be built at all


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
                f"{what} would build {count_text(size)} characters or items, over the"
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


def count_text(size: int) -> str:
    return "too many" if size >= HUGE else f"{size:,}"


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
    obj: Any, limit: int = HUGE, *, quoted: bool = False, indent: int | None = None
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


def as_int(value: Any, default: int = 0) -> int:
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
            return HUGE
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
            return abs(as_int(next(values, 0)))
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
                f"the result of {operator} would have {count_text(bits)} bits, over"
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
            size = ESCAPE * (shown_size(left, left_left) + shown_size(right, left_left))
            budget.need(size, "the + operator")
    elif operator == "%" and isinstance(left, str | bytes):
        fmt = left if isinstance(left, str) else left.decode("latin-1")
        size = percent_size(fmt, right, left_left)
        budget.need(size * (ESCAPE if isinstance(left, Markup) else 1), "the % operator")


def concat_size(items: Iterable[Any], escaped: bool, budget: Budget) -> int:
    """An upper bound of the ``~`` concatenation of `items`."""
    left = budget.left
    total = 0
    for item in items:
        size = shown_size(item, left)
        total += size * (ESCAPE if escaped and not isinstance(item, Markup) else 1)
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


def replace_size(text: Any, old: Any, new: Any, count: Any, limit: int) -> int:
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
        return max(size, as_int(_arg(args, kwargs, 0, "width"))), args
    if name == "expandtabs":
        tab = as_int(_arg(args, kwargs, 0, "tabsize"), 8)
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        return size + tabs * max(tab, 0), args
    if name == "replace":
        old, new, count = (_arg(args, kwargs, i, n) for i, n in enumerate(("old", "new", "count")))
        return replace_size(owner, old, new, count, left), args
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
            size = ESCAPE * shown_size(args[0] if args else "", budget.left)
        elif name in ("maketrans", "fromhex"):
            size = sum(shown_size(a, budget.left) for a in args)
    elif isinstance(owner, int) and name == "to_bytes":
        size = as_int(_arg(args, kwargs, 0, "length"), 1)
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
