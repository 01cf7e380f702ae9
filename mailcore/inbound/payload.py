"""Find the structured payload a person typed in a mail text: a YAML/JSON document or
``Key: value`` lines; and the budgeted parsers that read it.

`load_yaml` (with `PayloadLoader`, YAML without the surprises of 1.1) and `load_json` refuse an
over-budget text while parsing it; the budgets themselves, `PayloadLimits`, `check_payload` and
`PayloadTooLarge`, are in mailcore.inbound.limits and importable from here too.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import yaml

from mailcore.inbound.limits import (
    DEFAULT_LIMITS,
    PayloadLimits,
    PayloadTooLarge,
    check_number_text,
    check_payload,
    measure_yaml,
    over_depth,
)

__all__ = [
    "DEFAULT_LIMITS",
    "PayloadLimits",
    "PayloadLoader",
    "PayloadTooLarge",
    "check_number_text",
    "check_payload",
    "document_payload",
    "key_lines_payload",
    "load_json",
    "load_yaml",
]

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


# -- budgeted parsers ------------------------------------------------------------------------


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
    value = _flat_mapping(text, limits) if loader is PayloadLoader else None
    if value is None:
        if _needs_measuring(text, limits):
            measure_yaml(text, limits, loader)
        value = yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader, checked above
    check_payload(value, limits)
    return value


# "Key: value" with a plain key and value of words, digits and inner punctuation: what the
# YAML parser would read as one string key and one plain scalar, nothing else.
_FLAT_LINE = re.compile(
    r"""(?P<key>[^\W_][\w\-]*(?:\ [\w\-]+)*):\ +
        (?P<value>[^\W_](?:[\w\-./@+,;()'"!?%=\ ]*[\w.)'"!?%])?)""",
    re.VERBOSE,
)
_TAG = "tag:yaml.org,2002:"
_SCALARS: dict[str, Any] = {
    _TAG + "str": str,
    _TAG + "null": lambda _: None,
    _TAG + "bool": lambda word: word.lower() == "true",
    _TAG + "int": int,
    _TAG + "float": float,
}


def _flat_mapping(text: str, limits: PayloadLimits) -> dict[str, Any] | None:
    """What PayloadLoader builds from `text` when it is only flat ``Key: value`` lines (a
    typed form), without the parser (a YAML load costs ~0.2 ms of constructor calls); None
    when any line is something else, for YAML to read."""
    found: dict[str, Any] = {}
    for line in text.split("\n"):
        if not line:
            continue
        m = _FLAT_LINE.fullmatch(line)
        if m is None or len(m["value"]) > limits.max_number_digits:
            return None
        key, word = m.group("key", "value")
        if _resolve(key) != _TAG + "str" or (build := _SCALARS.get(_resolve(word))) is None:
            return None
        found[key] = build(word)
    return found or None


def _resolve(word: str) -> str:
    """The tag PayloadLoader's implicit resolvers give a plain scalar."""
    for tag, pattern in PayloadLoader.yaml_implicit_resolvers.get(word[0], ()):
        if pattern.match(word):
            return str(tag)
    return _TAG + "str"


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
        raise over_depth(limits) from None
    check_payload(value, limits)
    return value, end


# -- finders ---------------------------------------------------------------------------------

# A line that can open a YAML mapping: "key:" / "key: value" / "\"key\": value".
_YAML_KEY_LINE = re.compile(
    r"""^(?:"[^"\n]+"|'[^'\n]+'|[^\s#:\-{}\[\],&*!|>'"%@`][^:\n]*):(?:\s|$)"""
)
_DOC_END = re.compile(r"^(?:---|\.\.\.)\s*$")
_DOC_MARKS = ("---", "...")
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
    starts = _document_starts(lines, "---" in text, "{" in text)
    problem: str | None = None
    for start in starts:
        found, why = _document_at(lines, start, limits)
        if found is not None:
            return found, None
        problem = problem or why
    return None, problem


def _document_starts(lines: list[str], dashes: bool = True, brace: bool = True) -> list[int]:
    """Line indexes where a document may begin, in order: the first content line (if it looks
    like YAML or JSON), the line after the first ``---``, the first line opening a JSON object.
    `dashes` / `brace`: whether the text holds a "---" / a "{" at all (else no line is looked
    at for them: most mails have neither)."""
    starts: list[int] = []
    first = next((k for k, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return starts
    head = lines[first]
    if head.strip() == "---":
        starts.append(first + 1)
    elif head.startswith("{") or _YAML_KEY_LINE.match(head):
        starts.append(first)
    for k in range(first + 1, len(lines) if dashes else 0):
        line = lines[k]  # the search in C first: most lines hold no dashes
        if "---" in line and line.strip() == "---" and k + 1 < len(lines):
            if k + 1 not in starts:
                starts.append(k + 1)
            break
    for k in range(first, len(lines) if brace else 0):
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
    if not _YAML_KEY_LINE.match(lines[start]):
        return None, None
    end = start
    while end < len(lines) and not (lines[end][:3] in _DOC_MARKS and _DOC_END.match(lines[end])):
        end += 1
    block = lines[start:end]
    # Prose after the mapping cannot be YAML: parse only up to its paragraph.
    prose = _prose_paragraph(block)
    if prose > 0:
        block = block[:prose]
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


# A line no YAML mapping at column 0 can hold: it starts a plain word and has no ":" (YAML
# reads it as a key without its colon, an error), unless a quoted or flow scalar opened above
# it may still run on (those may continue at column 0).
_PROSE_LINE = re.compile(r"[^\W_][^:\n]*$")
_MAY_RUN_ON = re.compile(r"""(?:^|\s)["'\[{]""")


def _prose_paragraph(block: list[str]) -> int:
    """Where the paragraph holding `block`'s first prose line starts (0: none, or the first).

    Found in one pass over the lines, it spares the YAML parses (each of the whole text)
    that would otherwise step back to it one error at a time."""
    for k in range(1, len(block)):
        line = block[k]
        if _MAY_RUN_ON.search(block[k - 1]) is not None:
            return 0
        if _PROSE_LINE.match(line) is not None:
            return _last_content_before(block, k)
    return 0


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
        key, sep, value = m.group(1, 2, 3)  # key, sep, value
        key, value = key.strip(), value.rstrip()
        if len(key.split()) > _MAX_KEY_WORDS or value.startswith("//"):
            continue
        if sep == ":" and key[-1:].isdigit() and value[:1].isdigit():
            continue  # "at 10:30", not a key
        found.setdefault(key, value)
    if found:
        check_payload(found, limits)
    return found or None
