"""The template editor's preview: the sample data parsed, every alternative rendered with
every problem found (`evaluate`), and the cache of rendered HTML the sandboxed iframes load.

Rendering is `mailcore.outbound.compose.preview`; the views are in console.authoring.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from console.services import services
from mailcore import PayloadTooLarge, ProblemKind, load_json
from mailcore import TemplateProblem as Problem
from mailcore import template_field_problems as field_problems

FRAME_CACHE_SIZE = 256


@dataclass
class Evaluation:
    """Everything the preview pane shows for one state of the editor."""

    data: dict[str, Any] | None
    problems: list[Problem]
    preview: Any = None  # mailcore.outbound.compose.Preview
    frame: str | None = None  # token of the cached HTML for the iframes
    by_source: dict[str, list[Problem]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def parse_sample(text: str) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The sample data object, or a problem saying where the JSON is wrong."""
    if not text.strip():
        return {}, []
    try:
        value = load_json(text)  # within the payload limits: it is a payload too
    except PayloadTooLarge as e:
        return None, [Problem(1, str(e), ProblemKind.DATA, source="sample data")]
    except json.JSONDecodeError as e:
        message = f"not valid JSON: {e.msg} (column {e.colno})"
        return None, [Problem(e.lineno, message, ProblemKind.DATA, source="sample data")]
    if not isinstance(value, dict):
        return None, [
            Problem(
                1,
                'sample data must be a JSON object, e.g. {"name": "Ada"}',
                ProblemKind.DATA,
                source="sample data",
            )
        ]
    return value, []


def evaluate(name: str, subject: str, body: str, sample_text: str) -> Evaluation:
    """Render the template on its sample data and collect every problem (never raises)."""
    from mailcore import Template, preview

    data, problems = parse_sample(sample_text)
    problems += field_problems(name, subject, data if data is not None else {})
    result = None
    if data is not None:
        result = preview(
            Template(name=name or "preview", subject=subject, body=body), data, **_preview_kwargs()
        )
        problems += result.problems
    by_source: dict[str, list[Problem]] = {}
    for p in problems:
        by_source.setdefault(p.source, []).append(p)
    frame = frames().put(result.html) if result is not None and result.html else None
    return Evaluation(data, problems, result, frame, by_source)


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
