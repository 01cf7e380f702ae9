"""Find the structured payload a person typed in a mail text: a YAML/JSON document or
``Key: value`` lines; and the budgets every payload must fit, however it arrives.

A payload is hostile input: nine YAML anchors of nine aliases each are 478 bytes that stand for
387 million values, a 100,000-digit number costs quadratic time to convert, a deep nesting
exhausts recursion. `PayloadLimits` says how big a payload may be; `check_payload` is the one
check of a parsed value, and `load_yaml` / `load_json` refuse an over-budget text while parsing
it (YAML aliases are counted as what they expand to BEFORE anything is built). Over a budget,
`PayloadTooLarge` names the limit, its setting and where in the payload it was crossed.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from mailcore.errors import PayloadInvalid

try:
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class PayloadLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe YAML with the surprises of YAML 1.1 removed for hand-typed values.

    Only ``true``/``false`` are booleans (``NO`` stays the country code), numbers with leading
    zeros stay strings (``0123`` is a reference, not octal 83), dates stay strings.
    """


_DROPPED_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}
PayloadLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
PayloadLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_YAML_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
_YAML_FLOAT = re.compile(r"^[-+]?(?:(?:0|[1-9][0-9]*)\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")
PayloadLoader.add_implicit_resolver("tag:yaml.org,2002:int", _YAML_INT, list("-+0123456789"))
PayloadLoader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_FLOAT, list("-+0123456789"))


# -- budgets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayloadLimits:
    """How big a payload may be, counted as what it expands to (a YAML alias counts as a copy
    of what it names). The defaults fit any payload a person or a partner system sends.

    - `max_nodes`: keys, values and list items in all, at every level.
    - `max_depth`: levels of nesting (``{"a": [1]}`` is 3 levels: object, list, number).
    - `max_string_length`: characters of one key or string value.
    - `max_number_digits`: characters of one number as written (sign, point and exponent too).
    - `max_total_size`: characters of all keys and values together.
    """

    max_nodes: int = 10_000
    max_depth: int = 32
    max_string_length: int = 100_000
    max_number_digits: int = 100
    max_total_size: int = 1_000_000

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PayloadLimits.{name} must be a positive integer, not {value!r}")


DEFAULT_LIMITS = PayloadLimits()


class PayloadTooLarge(PayloadInvalid):
    """A payload is over one of its `PayloadLimits`.

    `limit` is the field name (``"max_nodes"``...), `allowed` its setting, `where` a JSON path
    or ``line N`` when known. `errors` holds one ("$"-path, message) pair, like a schema error.
    """

    def __init__(self, limit: str, allowed: int, what: str, where: str | None = None) -> None:
        at = f" at {where}" if where else ""
        message = (
            f"payload over the limit {limit} = {allowed:,}: {what}{at}; send a smaller payload"
        )
        path = where if where and where.startswith("$") else "$"
        super().__init__(message, [(path, message)])
        self.limit = limit
        self.allowed = allowed
        self.where = where


_NODES = "more than {:,} keys and values in all (an alias counts as what it repeats)"
_DEPTH = "nested more than {:,} levels deep (an alias counts as what it repeats)"
_TOTAL = "more than {:,} characters of keys and values (an alias counts as what it repeats)"
# log2(10): an int of n decimal digits has at most ceil(n * _BITS_PER_DIGIT) bits.
_BITS_PER_DIGIT = math.log2(10)


def _path_text(path: tuple[Any, ...]) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}"
        else:
            out += "[" + repr(str(part)[:40]) + "]"
    return out


def _number_length(value: int, limits: PayloadLimits) -> int | None:
    """Characters of `value` written in decimal, or None when over `max_number_digits`;
    never converts a huge int (Python refuses past 4,300 digits, and it is quadratic)."""
    if value.bit_length() > (limits.max_number_digits + 1) * _BITS_PER_DIGIT:
        return None
    length = len(str(value))
    return length if length <= limits.max_number_digits else None


def check_payload(value: Any, limits: PayloadLimits = DEFAULT_LIMITS) -> None:
    """Raise PayloadTooLarge when `value` is over `limits`; None when it fits.

    Shared references and cycles are walked as copies, as JSON would write them out, so a
    structure that shares one list many times counts as all its copies. The walk stops at the
    first limit crossed: its cost is bounded by the limits, not by the size the value stands for.
    """
    try:
        _walk(value, limits)
    except _Over as over:
        where = None
        if over.target is not None:  # say where: a second walk, bounded like the first
            path = _path_to(value, over.target, limits)
            where = _path_text(path) if path is not None else None
        raise PayloadTooLarge(over.limit, over.allowed, over.what, where) from None


_SEQUENCES = (list, tuple, set, frozenset)
_SMALL_INT = 2**63
_TEXTS = (str, bytes)


class _Over(Exception):
    """A limit crossed during the walk; `target` is the value (or its parent) that crossed it."""

    def __init__(self, limit: str, allowed: int, what: str, target: Any = None) -> None:
        super().__init__(limit)
        self.limit, self.allowed, self.what, self.target = limit, allowed, what, target


def _walk(value: Any, limits: PayloadLimits) -> None:
    max_nodes, max_depth, max_size = limits.max_nodes, limits.max_depth, limits.max_total_size
    max_string = limits.max_string_length
    short_ints = limits.max_number_digits >= 20
    nodes = size = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        nodes += 1
        if depth > max_depth:
            raise _Over("max_depth", max_depth, _DEPTH.format(max_depth))
        kind = type(item)
        if kind is str:
            size += len(item)
            if len(item) > max_string:
                raise _over_string(item, limits)
        elif kind is dict or isinstance(item, dict):
            nodes += len(item)
            if nodes > max_nodes:
                break
            for key, sub in item.items():
                if type(key) is str and len(key) <= max_string:
                    size += len(key)
                else:
                    size += _scalar_size(key, limits)
                if type(sub) is str and len(sub) <= max_string and depth < max_depth:
                    size += len(sub)  # the common leaf, counted here rather than pushed
                    nodes += 1
                else:
                    push((sub, depth + 1))
        elif kind is int and short_ints and -_SMALL_INT < item < _SMALL_INT:
            size += len(str(item))  # 20 characters at most: within max_number_digits
        elif kind is list or isinstance(item, _SEQUENCES):
            if nodes + len(item) > max_nodes:
                nodes += len(item)
                break
            for sub in item:
                push((sub, depth + 1))
        else:
            size += _scalar_size(item, limits)
        if nodes > max_nodes:
            break
        if size > max_size:
            raise _Over("max_total_size", max_size, _TOTAL.format(max_size))
    if nodes > max_nodes:
        raise _Over("max_nodes", max_nodes, _NODES.format(max_nodes))


def _path_to(value: Any, target: Any, limits: PayloadLimits) -> tuple[Any, ...] | None:
    """The path of the first `target` (by identity) in `value`, in `_walk`'s order."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    for _ in range(limits.max_nodes + 1):
        if not stack:
            break
        item, path = stack.pop()
        if item is target:
            return path
        if isinstance(item, dict):
            for key, sub in item.items():
                if key is target:
                    return (*path, key)
                stack.append((sub, (*path, key)))
        elif isinstance(item, _SEQUENCES):
            stack.extend((sub, (*path, k)) for k, sub in enumerate(item))
    return None


def _over_string(item: str | bytes, limits: PayloadLimits) -> _Over:
    return _Over(
        "max_string_length",
        limits.max_string_length,
        f"a string of {len(item):,} characters",
        item,
    )


def _scalar_size(item: Any, limits: PayloadLimits) -> int:
    """Characters `item` takes written out; _Over past a string or number limit."""
    if isinstance(item, _TEXTS):
        if len(item) > limits.max_string_length:
            raise _over_string(item, limits)
        return len(item)
    if isinstance(item, bool) or item is None:
        return 4
    if isinstance(item, int):
        length = _number_length(item, limits)
        if length is None:
            raise _Over(
                "max_number_digits",
                limits.max_number_digits,
                f"a number of more than {limits.max_number_digits:,} digits",
                item,
            )
        return length
    if isinstance(item, float):
        return 24
    return min(len(str(item)), limits.max_string_length)  # a date, a timestamp: small


def check_number_text(text: str, limits: PayloadLimits = DEFAULT_LIMITS, where: str = "") -> None:
    """Raise PayloadTooLarge when a number written as `text` is longer than max_number_digits
    (call it before int() or float(): they are quadratic, and int() refuses 4,300 digits)."""
    if len(text) > limits.max_number_digits:
        raise PayloadTooLarge(
            "max_number_digits",
            limits.max_number_digits,
            f"a number of {len(text):,} digits",
            where or None,
        )


# -- budgeted parsers ------------------------------------------------------------------------

_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


@dataclass
class _Open:
    """A YAML collection being read: what it holds so far, counted expanded."""

    anchor: str | None
    nodes: int = 1
    size: int = 0
    depth: int = 0  # levels below it


def _yaml_events(parser: Any) -> Iterator[Any]:
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def _measure_yaml(text: str, limits: PayloadLimits, loader: type[Any]) -> None:
    """Count what a YAML text expands to from its parser events, before a node or value is
    built: an alias adds the count of what it names. Raises PayloadTooLarge (or YAMLError for
    a syntax error) as soon as a limit is crossed, so the cost is bounded by the limits."""
    stack: list[_Open] = []
    anchors: dict[str, tuple[int, int, int]] = {}  # anchor -> (nodes, size, depth)
    nodes = size = 0

    def add(counted: tuple[int, int, int], line: int) -> None:
        nonlocal nodes, size
        more, chars, depth = counted
        nodes += more
        size += chars
        if nodes > limits.max_nodes:
            raise PayloadTooLarge("max_nodes", limits.max_nodes, _NODES.format(limits.max_nodes))
        if size > limits.max_total_size:
            raise PayloadTooLarge(
                "max_total_size", limits.max_total_size, _TOTAL.format(limits.max_total_size)
            )
        if len(stack) + depth > limits.max_depth:
            raise PayloadTooLarge(
                "max_depth", limits.max_depth, _DEPTH.format(limits.max_depth), f"line {line}"
            )
        if stack:
            parent = stack[-1]
            parent.nodes += more
            parent.size += chars
            parent.depth = max(parent.depth, depth)

    parser = loader(text)
    for event in _yaml_events(parser):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.ScalarEvent):
            value = event.value
            if len(value) > limits.max_string_length:
                raise PayloadTooLarge(
                    "max_string_length",
                    limits.max_string_length,
                    f"a string of {len(value):,} characters",
                    f"line {line}",
                )
            if len(value) > limits.max_number_digits:
                # Only a long scalar is resolved here: is it a number to this loader (an int
                # in base 60, "1:2:3", costs quadratic time to build)?
                tag = event.tag or parser.resolve(yaml.ScalarNode, value, event.implicit)
                if tag in _NUMBER_TAGS:
                    check_number_text(value, limits, f"line {line}")
            counted = (1, len(value), 1)
            if event.anchor:
                anchors[event.anchor] = counted
            add(counted, line)
        elif isinstance(event, yaml.AliasEvent):
            if any(o.anchor == event.anchor for o in stack):
                # An alias inside its own anchor: a structure that contains itself, endless.
                raise PayloadTooLarge(
                    "max_nodes",
                    limits.max_nodes,
                    f"a recursive alias *{event.anchor} (it repeats itself without end)",
                    f"line {line}",
                )
            add(anchors.get(event.anchor or "", (1, 0, 1)), line)
        elif isinstance(event, yaml.CollectionStartEvent):
            add((1, 0, 1), line)
            stack.append(_Open(event.anchor))
        elif isinstance(event, yaml.CollectionEndEvent):
            done = stack.pop()
            if done.anchor:
                anchors[done.anchor] = (done.nodes, done.size, done.depth + 1)
            if stack:  # the start already counted 1 node; the rest rolls up now
                parent = stack[-1]
                parent.nodes += done.nodes - 1
                parent.size += done.size
                parent.depth = max(parent.depth, done.depth + 1)


def load_yaml(
    text: str, limits: PayloadLimits = DEFAULT_LIMITS, loader: type[Any] = PayloadLoader
) -> Any:
    """YAML with `loader` (a SafeLoader), within `limits`; raises yaml.YAMLError or
    PayloadTooLarge.

    The text is measured from its parser events first (aliases expanded in the count, never in
    memory); only a text within the limits is built into values.
    """
    safe = issubclass(loader, yaml.constructor.SafeConstructor)
    if not safe or issubclass(loader, yaml.constructor.FullConstructor):
        raise TypeError(f"load_yaml needs a safe loader, not {loader.__name__}")
    if _needs_measuring(text, limits):
        _measure_yaml(text, limits, loader)
    value = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader, checked above
    check_payload(value, limits)
    return value


# Below this size, a YAML text without anchors nor long words builds in well under a
# millisecond into no more than it says: it is checked once built (parsing twice costs ~2x).
_SMALL_YAML = 16_384


def _needs_measuring(text: str, limits: PayloadLimits) -> bool:
    """Whether `text` could build into more than it is, or cost much to build: anchors (an
    alias repeats one), a long word (a number whose conversion is quadratic), a large text."""
    if len(text) > _SMALL_YAML or "&" in text:
        return True
    return _long_word(limits.max_number_digits).search(text) is not None


@functools.lru_cache(maxsize=8)
def _long_word(length: int) -> re.Pattern[str]:
    return re.compile(r"[^\s,\[\]{}]" + f"{{{length + 1},}}")


@functools.lru_cache(maxsize=8)
def _long_number(length: int) -> re.Pattern[str]:
    return re.compile(r"[-+0-9.eE]" + f"{{{length + 1},}}")


def load_json(text: str, limits: PayloadLimits = DEFAULT_LIMITS) -> Any:
    """JSON within `limits`; raises ValueError (invalid JSON) or PayloadTooLarge.

    Numbers are measured before they are converted; nesting too deep for the parser is said
    as the max_depth limit, not as a RecursionError.
    """
    value, end = _decode_json(text, limits)
    if text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return value


_PLAIN_JSON = json.JSONDecoder()


def _decode_json(text: str, limits: PayloadLimits) -> tuple[Any, int]:
    """The first JSON value of `text` (leading blanks skipped) and where it ends, checked."""

    def number(kind: type[int] | type[float]) -> Any:
        def convert(literal: str) -> Any:
            check_number_text(literal, limits)
            return kind(literal)

        return convert

    start = len(text) - len(text.lstrip())
    # Numbers are measured one by one only when a long one may be there (a call per number
    # costs 15x the plain C parser).
    decoder = _PLAIN_JSON
    if _long_number(limits.max_number_digits).search(text) is not None:
        decoder = json.JSONDecoder(parse_int=number(int), parse_float=number(float))
    try:
        value, end = decoder.raw_decode(text, start)
    except RecursionError:
        raise PayloadTooLarge(
            "max_depth", limits.max_depth, _DEPTH.format(limits.max_depth)
        ) from None
    check_payload(value, limits)
    return value, end


# A line that can open a YAML mapping: "key:" / "key: value" / "\"key\": value".
_YAML_KEY_LINE = re.compile(
    r"""^(?:"[^"\n]+"|'[^'\n]+'|[^\s#:\-{}\[\],&*!|>'"%@`][^:\n]*):(?:\s|$)"""
)
_DOC_END = re.compile(r"^(?:---|\.\.\.)\s*$")
# Liberal "Key: value" / "Key = value" line, optionally bulleted.
_KEY_LINE = re.compile(
    r"""^\s*(?:[-*•·]\s+)?
        (?P<key>[^\W\d_][^\n:=]{0,60}?)
        \s*(?P<sep>:|=|：)\s*
        (?P<value>\S.*)""",
    re.VERBOSE,
)
_MAX_KEY_WORDS = 6


def document_payload(
    text: str, limits: PayloadLimits = DEFAULT_LIMITS
) -> tuple[dict[str, Any] | None, str | None]:
    """The first YAML or JSON mapping at the start of `text`, or after a ``---`` line.

    A ``---`` (or ``...``) line ends the document; free text may follow it. Returns
    (mapping or None, problem found while parsing or None). A document over `limits` raises
    PayloadTooLarge: it is a payload, refused, not "no payload" (never read as key lines).
    """
    lines = text.splitlines()
    starts = _document_starts(lines)
    problem: str | None = None
    for start in starts:
        found, why = _document_at(lines, start, limits)
        if found is not None:
            return found, None
        problem = problem or why
    return None, problem


def _document_starts(lines: list[str]) -> list[int]:
    """Line indexes where a document may begin, in order: the first content line (if it looks
    like YAML or JSON), the line after the first ``---``, the first line opening a JSON object."""
    starts: list[int] = []
    first = next((k for k, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return starts
    head = lines[first]
    if head.strip() == "---":
        starts.append(first + 1)
    elif head.startswith("{") or _YAML_KEY_LINE.match(head):
        starts.append(first)
    for k in range(first + 1, len(lines)):
        stripped = lines[k].strip()
        if stripped == "---" and k + 1 < len(lines):
            if k + 1 not in starts:
                starts.append(k + 1)
            break
    for k in range(first, len(lines)):
        if lines[k].startswith("{"):
            if k not in starts:
                starts.append(k)
            break
    return starts


def _document_at(
    lines: list[str], start: int, limits: PayloadLimits
) -> tuple[dict[str, Any] | None, str | None]:
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start >= len(lines):
        return None, None
    if lines[start].startswith("{"):
        rest = "\n".join(lines[start:])
        try:
            value, _ = _decode_json(rest, limits)
        except ValueError as exc:
            return None, f"JSON document in text is invalid: {exc}"
        return (value, None) if isinstance(value, dict) and value else (None, None)
    end = start
    while end < len(lines) and not _DOC_END.match(lines[end]):
        end += 1
    if not _YAML_KEY_LINE.match(lines[start]):
        return None, None
    block = lines[start:end]
    # Free text may follow the mapping without a "---": parse up to where YAML gave up.
    for _ in range(3):
        try:
            value = load_yaml("\n".join(block), limits)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line if mark is not None else 0
            cut = _last_content_before(block, line)
            if cut <= 0 or cut >= len(block):
                return None, f"YAML document in text is invalid: {_one_line(exc)}"
            block = block[:cut]
            continue
        except yaml.YAMLError as exc:
            return None, f"YAML document in text is invalid: {_one_line(exc)}"
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            return None, f"YAML document in text is invalid: {exc}"
        if isinstance(value, dict) and value:
            return value, None
        return None, None
    return None, None


def _last_content_before(block: list[str], line: int) -> int:
    """Length of the prefix of `block` ending before the paragraph that holds `line`."""
    k = min(line, len(block))
    # Step back to the blank line separating the mapping from the prose that broke it.
    while k > 0 and block[k - 1].strip():
        k -= 1
    return k


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def key_lines_payload(text: str, limits: PayloadLimits = DEFAULT_LIMITS) -> dict[str, Any] | None:
    """``Key: value`` lines matched liberally; keys kept as written (normalize them later).

    Raises PayloadTooLarge when the lines found are over `limits`.
    """
    found: dict[str, Any] = {}
    lines = [x for x in text.splitlines() if ":" in x or "=" in x or "：" in x]
    for m in filter(None, map(_KEY_LINE.match, lines)):
        key, sep, value = m.group("key", "sep", "value")
        key, value = key.strip(), value.rstrip()
        if len(key.split()) > _MAX_KEY_WORDS or value.startswith("//"):
            continue
        if sep == ":" and key[-1:].isdigit() and value[:1].isdigit():
            continue  # "at 10:30", not a key
        found.setdefault(key, value)
    if found:
        check_payload(found, limits)
    return found or None
