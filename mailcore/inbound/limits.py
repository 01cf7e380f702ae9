"""The budgets every payload must fit, however it arrives, and the checks against them.

A payload is hostile input: nine YAML anchors of nine aliases each are 478 bytes that stand for
387 million values, a 100,000-digit number costs quadratic time to convert, a deep nesting
exhausts recursion. `PayloadLimits` says how big a payload may be; `check_payload` is the one
check of a parsed value, `check_number_text` the one of a number before it is converted, and
`measure_yaml` counts what a YAML text expands to from its parser events (aliases counted as
copies) BEFORE anything is built. Over a budget, `PayloadTooLarge` names the limit, its setting
and where in the payload it was crossed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from mailcore.errors import PayloadInvalid

__all__ = [
    "DEFAULT_LIMITS",
    "PayloadLimits",
    "PayloadTooLarge",
    "check_number_text",
    "check_payload",
    "measure_yaml",
    "over_depth",
]


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


def over_depth(limits: PayloadLimits, where: str | None = None) -> PayloadTooLarge:
    """The error for a payload nested deeper than `limits.max_depth` (to raise)."""
    return PayloadTooLarge("max_depth", limits.max_depth, _DEPTH.format(limits.max_depth), where)


# -- YAML event counting ---------------------------------------------------------------------

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


def measure_yaml(text: str, limits: PayloadLimits, loader: type[Any]) -> None:
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
            raise over_depth(limits, f"line {line}")
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
