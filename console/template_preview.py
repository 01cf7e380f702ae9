"""The template editor's preview: the sample data parsed, every alternative rendered with
every problem found (`evaluate`), and the cache of rendered HTML the sandboxed iframes load.

Rendering is `mailcore.outbound.compose.preview`; the views are in console.authoring.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flask import Flask, current_app
from flask_babel import gettext as _

from console.services import services
from mailcore import PayloadTooLarge, ProblemKind, load_json
from mailcore import TemplateProblem as Problem
from mailcore import template_field_problems as field_problems

FRAME_CACHE_SIZE = 256
MAX_VARIANTS = 30  # languages read from one editor form (the store refuses more)
PARTS = (" subject", " body")  # what a language's problem sources end with ("fr body")
DEFAULT = "default"  # the preview language that shows the default whatever the data says


@dataclass
class Evaluation:
    """Everything the preview pane shows for one state of the editor."""

    data: dict[str, Any] | None
    problems: list[Problem]
    preview: Any = None  # mailcore.outbound.compose.Preview
    frame: str | None = None  # token of the cached HTML for the iframes
    by_source: dict[str, list[Problem]] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)  # the template's other languages
    shown: str = ""  # the language previewed ("": the default)
    chosen: str = ""  # the preview language the author picked ("": the recipient's)

    @property
    def ok(self) -> bool:
        return not self.problems


def problem_source(source: str) -> str:
    """Where a problem is ("subject", "fr body", "sample data"...), in the reader's language."""
    language, _space, part = source.rpartition(" ") if source.endswith(PARTS) else ("", "", "")
    if language and part == "subject":
        return _("Subject (%(lang)s)", lang=language)
    if language and part == "body":
        return _("Body (%(lang)s)", lang=language)
    names = {
        "name": _("Name"),
        "subject": _("Subject"),
        "body": _("Body"),
        "sample data": _("Sample data"),
        "languages": _("Languages"),
    }
    return names.get(source, source.capitalize())


def parse_sample(text: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The sample data object, or a problem saying where the JSON is wrong."""
    if not text.strip():
        return {}, []
    try:
        value = load_json(text)  # within the payload limits: it is a payload too
    except PayloadTooLarge as e:
        return None, [Problem(1, str(e), ProblemKind.DATA, source="sample data")]
    except json.JSONDecodeError as e:
        message = _("not valid JSON: %(why)s (column %(column)s)", why=e.msg, column=e.colno)
        return None, [Problem(e.lineno, message, ProblemKind.DATA, source="sample data")]
    if not isinstance(value, dict):
        return None, [
            Problem(
                1,
                _("sample data must be a JSON object, e.g. %(example)s", example='{"name": "Ada"}'),
                ProblemKind.DATA,
                source="sample data",
            )
        ]
    return value, []


def variants_from_form(form: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """The editor's other languages (tag -> subject, body), from its parallel lists
    variant_language / variant_subject / variant_body, in order; a tag given twice keeps
    its first; at most MAX_VARIANTS are read."""
    getlist = form.getlist  # type: ignore[attr-defined]
    rows = zip(
        getlist("variant_language"),
        getlist("variant_subject"),
        getlist("variant_body"),
        strict=False,
    )
    found: dict[str, tuple[str, str]] = {}
    for tag, subject, body in list(rows)[: MAX_VARIANTS + 1]:
        found.setdefault(tag.strip().lower()[:40], (subject, body))
    return found


def evaluate(
    name: str,
    subject: str,
    body: str,
    sample_text: str,
    variants: Mapping[str, tuple[str, str]] | None = None,
    language: str = "",
) -> Evaluation:
    """Render the template on its sample data and collect every problem, in every language
    (never raises). The preview shows the variant in `language` when given, else the one the
    sample data's recipient reads."""
    from mailcore import Template, preview

    variants = dict(variants or {})
    data, problems = parse_sample(sample_text)
    problems += field_problems(name, subject, data if data is not None else {})
    # "default": the default itself, whatever language the sample data states.
    template = Template(
        name or "preview", subject, body, variants=variants if language != DEFAULT else {}
    )
    result, shown = None, ""
    if data is not None:
        shown = template.for_data(data, language if language != DEFAULT else None).language
        kwargs = _preview_kwargs()
        if shown:
            kwargs["lang"] = shown
        result = preview(template, data, **kwargs)
        problems += [_in_language(p, shown) for p in result.problems]
        problems += _other_languages(name, subject, body, data, variants, shown)
    problems = list(dict.fromkeys(problems))  # the same problem found twice is shown once
    by_source: dict[str, list[Problem]] = {}
    for p in problems:
        by_source.setdefault(p.source, []).append(p)
    frame = frames().put(result.html) if result is not None and result.html else None
    return Evaluation(data, problems, result, frame, by_source, list(variants), shown, language)


def _in_language(problem: Problem, language: str) -> Problem:
    """A problem of the previewed variant, named after its language ("fr body")."""
    if not language or problem.source not in ("subject", "body"):
        return problem
    return replace(problem, source=f"{language} {problem.source}")


def _other_languages(
    name: str,
    subject: str,
    body: str,
    data: dict[str, Any],
    variants: dict[str, tuple[str, str]],
    shown: str,
) -> list[Problem]:
    """What the store would refuse in the languages the preview does not show."""
    others = {tag: text for tag, text in variants.items() if tag != shown}
    store = services().templates
    if store is None or not (others or shown):  # one language, previewed: nothing else
        return []
    found = store.problems(name or "preview", subject, body, data, others)
    if not shown:  # the default is previewed: its problems are known already
        found = [p for p in found if p.source not in ("subject", "body", "name", "sample data")]
    return found


def _preview_kwargs() -> dict[str, Any]:
    """Sender and identifier scheme as configured, so the preview's headers are the real ones."""
    settings = services().settings
    kwargs: dict[str, Any] = {}
    scheme = getattr(settings, "scheme", None)
    if scheme is not None:
        kwargs["scheme"] = scheme
    sender = _configured_sender(settings)
    if sender:
        kwargs["sender"] = sender
    return kwargs


def _configured_sender(settings: Any) -> str | None:
    from mailcore import configured_sender

    return configured_sender(settings)


class FrameCache:
    """Rendered HTML previews by content hash, for the sandboxed iframes to load.

    The iframe cannot use `srcdoc`: it would inherit the console's CSP, which blocks the
    inline styles every mail relies on. Bounded LRU; per process (a miss shows a hint).
    """

    def __init__(self, size: int = FRAME_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, html: str) -> str:
        key = hashlib.sha256(html.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        with self._lock:
            self._items[key] = html
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> str | None:
        with self._lock:
            html = self._items.get(key)
            if html is not None:
                self._items.move_to_end(key)
            return html


def frames(app: Flask | None = None) -> FrameCache:
    """The app's FrameCache (made on first use)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get("mailcore.frames")
    if cache is None:
        cache = app.extensions.setdefault("mailcore.frames", FrameCache())
    return cache
