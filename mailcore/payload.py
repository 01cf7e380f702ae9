"""Find the structured payload a person typed in a mail text: a YAML/JSON document or
``Key: value`` lines."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

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
PayloadLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
PayloadLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:(?:0|[1-9][0-9]*)\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789"),
)

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


def load_yaml(text: str) -> Any:
    """YAML with `PayloadLoader`; raises yaml.YAMLError."""
    return yaml.load(text, Loader=PayloadLoader)  # noqa: S506 - PayloadLoader is a SafeLoader


def document_payload(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The first YAML or JSON mapping at the start of `text`, or after a ``---`` line.

    A ``---`` (or ``...``) line ends the document; free text may follow it. Returns
    (mapping or None, problem found while parsing or None).
    """
    lines = text.splitlines()
    starts = _document_starts(lines)
    problem: str | None = None
    for start in starts:
        found, why = _document_at(lines, start)
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


def _document_at(lines: list[str], start: int) -> tuple[dict[str, Any] | None, str | None]:
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start >= len(lines):
        return None, None
    if lines[start].startswith("{"):
        rest = "\n".join(lines[start:])
        try:
            value, _ = json.JSONDecoder().raw_decode(rest)
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
            value = load_yaml("\n".join(block))
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


def key_lines_payload(text: str) -> dict[str, Any] | None:
    """``Key: value`` lines matched liberally; keys kept as written (normalize them later)."""
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
    return found or None
